"""The engine on a tiny random-weight model folder (exported from PyTorch)."""

import numpy as np
import pytest

from paracolor.engine.io import read_image
from paracolor.engine.modelfolder import ModelError, ModelFolder
from paracolor.engine.pipeline import Colorizer, EngineConfig
from tests.conftest import HAS_TORCH, write_photo


@pytest.fixture(scope="module")
def colorizer(tiny_model_dir):
    c = Colorizer(EngineConfig(model_dir=str(tiny_model_dir)))
    yield c
    c.close()


def _lab_L(bgr):
    import cv2

    return cv2.cvtColor(bgr, cv2.COLOR_BGR2Lab)[..., 0].astype(np.float32)


@pytest.mark.parametrize("w,h", [(300, 200), (64, 64), (33, 97), (1, 1), (1, 50)])
def test_output_has_input_size_and_lightness(colorizer, tmp_path, w, h):
    p = write_photo(tmp_path / "x.png", w, h)
    img = read_image(p)
    out = colorizer.colorize([img])[0]
    assert out.bgr.shape == (h, w, 3) and out.bgr.dtype == np.uint8
    L_in = img.lab_L8().astype(np.float32)
    diff = np.abs(_lab_L(out.bgr) - L_in)
    # L is the input's up to 8-bit rounding (a few levels where RGB clipping bites)
    assert diff.mean() < 1.0 and np.percentile(diff, 99) <= 4


def test_16bit_input_gives_16bit_output(colorizer, tmp_path):
    import cv2

    rng = np.random.default_rng(1)
    img16 = cv2.GaussianBlur(rng.uniform(0, 65535, (40, 60, 3)), (9, 9), 3).astype(np.uint16)
    p = tmp_path / "x16.png"
    cv2.imwrite(str(p), img16)
    im = read_image(p)
    out = colorizer.colorize([im])[0]
    assert out.bgr.dtype == np.uint16 and out.bgr.shape == (40, 60, 3)
    L_out = cv2.cvtColor(out.bgr.astype(np.float32) / 65535, cv2.COLOR_BGR2Lab)[..., 0]
    assert np.abs(L_out - im.lab_L()).mean() < 0.5


def test_batch_equals_single(colorizer, tmp_path):
    imgs = [read_image(write_photo(tmp_path / f"{i}.png", 80, 60, seed=i)) for i in range(3)]
    batched = colorizer.colorize(imgs)
    for img, b in zip(imgs, batched):
        assert np.array_equal(colorizer.colorize([img])[0].bgr, b.bgr)


@pytest.mark.skipif(not HAS_TORCH, reason="needs torch")
def test_onnxruntime_equals_pytorch(tiny_model_dir):
    ort = Colorizer(EngineConfig(model_dir=str(tiny_model_dir), backend="onnxruntime"))
    pt = Colorizer(EngineConfig(model_dir=str(tiny_model_dir), backend="torch"))
    L = np.random.default_rng(3).uniform(-1, 1, (3, 1, 64, 64)).astype(np.float32)
    a, b = ort.infer(L), pt.infer(L)
    for k in ("ab_fg", "ab_bg", "ab"):
        assert np.abs(a[k] - b[k]).max() <= 1e-4


def test_stages_output(colorizer, tmp_path):
    img = read_image(write_photo(tmp_path / "s.png", 70, 50))
    out = colorizer.colorize([img], stages=True)[0]
    assert set(out.stages) == {"fg", "bg"} and out.stages["fg"].shape == (50, 70, 3)


def test_model_folder_errors(tmp_path, tiny_model_dir):
    with pytest.raises(ModelError, match="no model.json"):
        ModelFolder.load(tmp_path)
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(ModelError, match="model.json: not valid JSON"):
        ModelFolder.load(tmp_path)
    folder = ModelFolder.load(tiny_model_dir)
    with pytest.raises(ModelError, match="missing fp16 graph"):
        folder.onnx_path("fg", "fp16")


def test_corrupt_onnx_names_the_file(tmp_path, tiny_model_dir):
    import shutil

    from paracolor.engine.backends.onnxruntime import OrtRunner

    bad = tmp_path / "fg.onnx"
    bad.write_bytes(b"\x08\x01garbage")
    with pytest.raises(ModelError, match="fg.onnx: cannot load"):
        OrtRunner(bad, "fg")
    wrong = tmp_path / "bg_as_fg.onnx"
    shutil.copy(tiny_model_dir / "fp32" / "bg.onnx", wrong)
    with pytest.raises(ModelError, match="role 'bg' loaded as 'fg'"):
        OrtRunner(wrong, "fg")


def test_large_photo_through_lookup_tables_equals_opencv_path(colorizer, tmp_path, monkeypatch):
    # above lab_tables.MIN_PIXELS, L and the final Lab->BGR come from the numba lookup tables
    from paracolor import lab_tables

    if not lab_tables.available():
        pytest.skip("numba is not installed")
    img = read_image(write_photo(tmp_path / "big.jpg", 1300, 820))
    assert img.size[0] * img.size[1] >= lab_tables.MIN_PIXELS
    fast = colorizer.colorize([img])[0].bgr
    monkeypatch.setattr(lab_tables, "_kernels", False)
    assert np.array_equal(fast, colorizer.colorize([img])[0].bgr)


def test_finish_buffers_are_reused_and_give_the_same_result(colorizer, tmp_path):
    from paracolor.engine.pipeline import FinishBuffers

    prepared = [colorizer.prepare(read_image(write_photo(tmp_path / f"{i}.jpg", 120, 90, seed=i))) for i in range(2)]
    outs = [colorizer.infer(p.L_net[None]) for p in prepared]
    fresh = [colorizer.colorized(p, {k: v[0] for k, v in o.items()}, stages=True) for p, o in zip(prepared, outs)]
    buffers = FinishBuffers()
    first = colorizer.colorized(prepared[0], {k: v[0] for k, v in outs[0].items()}, stages=True, buffers=buffers)
    assert np.array_equal(first.bgr, fresh[0].bgr) and all(np.array_equal(first.stages[r], fresh[0].stages[r]) for r in ("fg", "bg"))
    kept = first.bgr
    second = colorizer.colorized(prepared[1], {k: v[0] for k, v in outs[1].items()}, stages=True, buffers=buffers)
    assert second.bgr is kept  # the same memory, overwritten
    assert np.array_equal(second.bgr, fresh[1].bgr) and all(np.array_equal(second.stages[r], fresh[1].stages[r]) for r in ("fg", "bg"))
    # the three results of one photo never share a buffer
    assert not np.shares_memory(second.bgr, second.stages["fg"]) and not np.shares_memory(second.stages["fg"], second.stages["bg"])

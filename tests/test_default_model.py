"""The bundled default model: loads with no path, colorizes, and its card backs its claims."""

import numpy as np

from paracolor import metrics
from paracolor.engine.io import read_image
from paracolor.engine.modelfolder import ModelFolder, default_model_dir
from paracolor.engine.pipeline import Colorizer
from paracolor.examples import examples_dir


def test_loads_without_a_path_and_fits_the_budget():
    folder = ModelFolder.load()
    assert folder.root == default_model_dir() and folder.input_size == 256
    total = sum(p.stat().st_size for p in default_model_dir().rglob("*") if p.is_file())
    assert total <= 60e6
    assert (default_model_dir() / "MODEL_CARD.md").is_file()
    for role in ("fg", "bg", "fusion"):
        assert folder.card["models"][role]["verification"]["max_abs"] <= 1e-4


def test_card_beats_grey_baseline_on_colourfulness_gap():
    validation = ModelFolder.load().card["validation"]
    assert set(validation) == {"objects", "scenes", "coco"}
    for name, rows in validation.items():
        assert rows["model"]["colourfulness_gap"] < 0.75 * rows["grey"]["colourfulness_gap"], name


def test_colorizes_the_bundled_examples():
    with Colorizer() as col:
        for path in sorted(examples_dir().glob("*.jpg")):
            img = read_image(path)
            out = col.colorize([img])[0]
            assert out.bgr.shape[:2] == img.pixels.shape[:2]
            assert metrics.colourfulness(out.rgb) > 8.0, path.name  # the grey input scores 0
            assert np.abs(img.lab_L8().astype(int) - _L8(out.bgr).astype(int)).mean() < 1.0


def _L8(bgr):
    import cv2

    return cv2.cvtColor(bgr, cv2.COLOR_BGR2Lab)[..., 0]


def test_fast_graphs_ship_and_agree_with_fp32():
    """fp16 and int8 work right after `pip install .` (no build step, no torch), close to fp32."""
    import pytest

    from paracolor.engine.pipeline import EngineConfig

    img = read_image(sorted(examples_dir().glob("*.jpg"))[0])
    with Colorizer() as col:
        ref = col.colorize([img])[0].rgb
    for precision, min_psnr in (("fp16", 40.0), ("int8", 25.0)):
        if not (default_model_dir() / precision).is_dir():
            pytest.fail(f"the bundled default has no {precision} graphs")
        with Colorizer(EngineConfig(precision=precision)) as col:
            out = col.colorize([img])[0].rgb
        assert metrics.psnr(out, ref) > min_psnr, precision


def test_fast_graphs_are_recorded_as_built():
    """model.json says how each shipped precision was made: a later `paracolor build --precision
    int8 --model <default>` must know these INT8 graphs are CPU-target (U8S8), not TensorRT's."""
    folder = ModelFolder.load()
    builds = folder.card["builds"]
    assert builds["int8"]["target"] == "cpu" and builds["int8"]["method"] == "entropy"
    for precision in ("fp16", "int8"):
        assert folder.network_size(precision) == builds[precision]["size"] == 256
        assert builds[precision]["accuracy"]["reference"] == "pytorch-fp32"

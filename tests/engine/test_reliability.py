"""Every bad input gets a clear per-file reason, nothing is lost, interrupted runs resume."""

import hashlib
import io
import json
import os
import struct
import zlib

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from paracolor.cli import main
from paracolor.engine.batch import ColorizeConfig, colorize_files
from paracolor.engine.io import ImageError, decode_image
from paracolor.engine.pipeline import Colorizer, EngineConfig
from tests.conftest import write_photo


def _png_header_only(w, h):
    """A PNG whose header claims w x h pixels (a decompression-bomb stand-in, a few bytes)."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)  # noqa: E731
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def _pil_bytes(img: Image.Image, fmt: str, **kw) -> bytes:
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


@pytest.fixture
def odd_inputs(tmp_path):
    """(folder, {name: expected 'done' or a reason substring})."""
    src = tmp_path / "in put é"
    src.mkdir()
    rgb = np.zeros((30, 40, 3), np.uint8)
    rgb[..., 0], rgb[:, :20, 1] = 180, 90
    good_jpg = write_photo(tmp_path / "g.jpg", 40, 30).read_bytes()
    good_png = write_photo(tmp_path / "g.png", 40, 30).read_bytes()
    exif = Image.Exif()
    exif[0x0112] = 8
    files = {
        "truncated.jpg": (good_jpg[: len(good_jpg) // 2], "truncated JPEG"),
        "truncated.png": (good_png[: len(good_png) // 2], "truncated PNG"),
        "corrupt.jpg": (good_jpg[:200] + os.urandom(300) + good_jpg[500:], None),  # decodes or fails cleanly
        "zero.png": (b"", "empty file"),
        "text.jpg": (b"plain text, not a photo", "not a decodable image"),
        "bomb.png": (_png_header_only(60000, 60000), "above the limit"),
        "sixteen.png": (cv2.imencode(".png", (np.random.default_rng(0).uniform(0, 65535, (20, 30, 3))).astype(np.uint16))[1].tobytes(), "done"),
        "sixteen.tif": (cv2.imencode(".tif", (np.random.default_rng(1).uniform(0, 65535, (20, 30))).astype(np.uint16))[1].tobytes(), "done"),
        "alpha.png": (_pil_bytes(Image.fromarray(rgb).convert("RGBA"), "PNG"), "done"),
        "cmyk.jpg": (_pil_bytes(Image.fromarray(rgb).convert("CMYK"), "JPEG"), "done"),
        "palette.png": (_pil_bytes(Image.fromarray(rgb).convert("P"), "PNG"), "done"),
        "rotated.jpg": (_pil_bytes(Image.fromarray(rgb), "JPEG", exif=exif.tobytes()), "done"),
        "one.png": (cv2.imencode(".png", np.full((1, 1, 3), 128, np.uint8))[1].tobytes(), "done"),
        "line.png": (cv2.imencode(".png", np.full((1, 37), 200, np.uint8))[1].tobytes(), "done"),
        "grey ünïcode name.jpg": (cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))[1].tobytes(), "done"),
    }
    expected = {}
    for name, (data, want) in files.items():
        (src / name).write_bytes(data)
        expected[name] = want
    (src / "folder.jpg").mkdir()  # a directory with an image name is not an input file
    return src, expected


def _hashes(folder):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


def test_odd_and_bad_inputs_through_cli(tiny_model_dir, odd_inputs, tmp_path):
    src, expected = odd_inputs
    before = _hashes(src)
    out, report = tmp_path / "out", tmp_path / "report.json"
    res = CliRunner().invoke(main, ["colorize", str(src), "-o", str(out), "--model", str(tiny_model_dir), "--report", str(report), "--quiet", "--max-pixels", "100000000"])
    assert res.exit_code == 1, res.output  # some failed, the rest completed
    data = json.loads(report.read_text())
    done = {os.path.basename(d["path"]) for d in data["done"]}
    failed = {os.path.basename(f["path"]): f["reason"] for f in data["failed"]}
    for name, want in expected.items():
        if want == "done":
            assert name in done, (name, failed.get(name))
        elif want is not None:
            assert name in failed and want in failed[name], (name, failed.get(name))
        else:
            assert name in done or name in failed
    assert _hashes(src) == before  # inputs never modified
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temp files left
    # outputs keep the input's size, bit depth and alpha
    assert cv2.imread(str(out / "one.png")).shape == (1, 1, 3)
    assert cv2.imread(str(out / "line.png")).shape == (1, 37, 3)
    assert cv2.imread(str(out / "sixteen.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    assert cv2.imread(str(out / "alpha.png"), cv2.IMREAD_UNCHANGED).shape[2] == 4
    assert cv2.imread(str(out / "rotated.jpg")).shape[:2] == (40, 30)  # EXIF rotation applied


def test_unwritable_output_folder(tiny_model_dir, tmp_path):
    src = write_photo(tmp_path / "in" / "x.jpg")
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("a file where the output folder should be")
    res = CliRunner().invoke(main, ["colorize", str(src), "-o", str(blocker / "out"), "--model", str(tiny_model_dir), "--quiet"])
    # refused before the model is loaded or any photo computed, naming the folder
    assert res.exit_code == 1 and "not_a_dir/out: cannot write the output folder" in res.output and "nothing was colorized" in res.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tiny_model_dir, tmp_path):
    src = write_photo(tmp_path / "in" / "x.jpg")
    src.chmod(0)
    res = CliRunner().invoke(main, ["colorize", str(src), "-o", str(tmp_path / "o"), "--model", str(tiny_model_dir), "--quiet"])
    assert res.exit_code == 1 and "permission denied" in res.output


class InterruptingColorizer(Colorizer):
    """Raises KeyboardInterrupt on the n-th batch, as Ctrl-C would (test double for interruption)."""

    def __init__(self, cfg, after):
        super().__init__(cfg)
        self.calls, self.after = 0, after

    def submit(self, L_batch):
        self.calls += 1
        if self.calls > self.after:
            raise KeyboardInterrupt
        return super().submit(L_batch)


def test_interrupt_leaves_no_partial_file_and_resumes(tiny_model_dir, tmp_path):
    src = tmp_path / "in"
    for i in range(7):
        write_photo(src / f"p{i}.jpg", seed=i)
    out = tmp_path / "out"
    (out).mkdir()
    (out / ".p9.jpg.abc.partial").write_bytes(b"left by a killed run")
    cfg = ColorizeConfig(inputs=[str(src)], output_dir=str(out), engine=EngineConfig(model_dir=str(tiny_model_dir)), batch_size=2, progress=False)
    col = InterruptingColorizer(cfg.engine, after=2)
    summary = colorize_files(cfg, col)
    assert summary.interrupted and not summary.ok
    written = sorted(p.name for p in out.glob("*.jpg"))
    # at most the two batches computed before Ctrl-C: the photo being written is finished, the
    # rest of the write queue is dropped so the run ends at once (--resume redoes them)
    assert 1 <= len(written) <= 4 and written == [f"p{i}.jpg" for i in range(len(written))]
    assert len(summary.done) == len(written)
    for p in out.glob("*.jpg"):
        assert cv2.imread(str(p)) is not None  # complete files
    res = CliRunner().invoke(main, ["colorize", str(src), "-o", str(out), "--model", str(tiny_model_dir), "--resume", "--quiet"])
    assert res.exit_code == 0 and f"done {7 - len(written)}, skipped {len(written)}" in res.output
    assert sorted(p.name for p in out.iterdir()) == [f"p{i}.jpg" for i in range(7)]  # stale partial removed


def test_interrupted_cli_exit_code(tiny_model_dir, tmp_path, monkeypatch):
    import paracolor.engine.batch as batch

    def boom(*a, **k):
        raise KeyboardInterrupt

    src = write_photo(tmp_path / "in" / "x.jpg")
    monkeypatch.setattr(batch.Colorizer, "submit", boom)
    res = CliRunner().invoke(main, ["colorize", str(src), "-o", str(tmp_path / "o"), "--model", str(tiny_model_dir), "--quiet"])
    assert res.exit_code == 130 and "--resume" in res.output


_SEEDS = {}


def _seed_files():
    if not _SEEDS:
        rng = np.random.default_rng(0)
        img = rng.uniform(0, 255, (16, 16, 3)).astype(np.uint8)
        _SEEDS["jpg"] = cv2.imencode(".jpg", img)[1].tobytes()
        _SEEDS["png"] = cv2.imencode(".png", img)[1].tobytes()
    return _SEEDS


@settings(max_examples=int(os.environ.get("PARACOLOR_FUZZ_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["jpg", "png", "random"]), cuts=st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), max_size=8), length=st.integers(0, 4000))
def test_fuzz_decoder_never_crashes(kind, cuts, length):
    """Mutated JPEG/PNG bytes either decode to a well-formed image or raise ImageError."""
    if kind == "random":
        data = bytes(np.random.default_rng(length).integers(0, 256, length, dtype=np.uint8))
    else:
        data = bytearray(_seed_files()[kind])
        for pos, val in cuts:
            if data:
                data[pos % len(data)] = val
        data = bytes(data[: max(1, length)] if length < len(data) // 2 else data)
    try:
        img = decode_image(data, f"fuzz.{kind}", max_pixels=10_000_000)
    except ImageError as exc:
        assert exc.path == f"fuzz.{kind}" and exc.cause
    else:
        assert img.pixels.ndim == 3 and img.pixels.shape[2] == 3 and img.pixels.dtype in (np.uint8, np.uint16)

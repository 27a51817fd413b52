"""Jetson deploy bundle (CPU checks): contents, no torch, round trip, memory-mode logic."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from paracolor.cli import main
from paracolor.engine.cuda.memory import select_memory_mode

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def bundle_dir(tiny_model_dir, photo_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("b") / "bundle"
    res = CliRunner().invoke(main, ["bundle", "-o", str(out), "--model", str(tiny_model_dir), "--precision", "fp16", "--report-images", str(photo_dir)])
    assert res.exit_code == 0, res.output
    return out


def test_bundle_contents_and_requirements(bundle_dir):
    manifest = json.loads((bundle_dir / "bundle.json").read_text())
    files = set(manifest["files"])
    for name in ("model.json", "requirements-device.txt", "README.md", "fp16/fg.onnx", "fp16/bg.onnx", "fp16/fusion.onnx", "fp16/build_report.json", "fp32/fg.onnx"):
        assert name in files, name
    assert not any(f.startswith("checkpoints/") or f.endswith((".safetensors", ".pt")) for f in files)  # no PyTorch weights
    reqs = [line.split(">")[0].split("=")[0].strip().lower() for line in (bundle_dir / "requirements-device.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert "torch" not in reqs and "onnxruntime" in reqs and "numpy" in reqs
    # every runtime dependency of the package is there (OpenCV as the headless build)
    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).resolve().parents[2]
    declared = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {d.split(">")[0].split("=")[0].split("[")[0].strip().lower().replace("opencv-python", "opencv-python-headless") for d in declared}
    assert names <= set(reqs), names - set(reqs)
    assert manifest["precision"] == "fp16"


def test_bundle_round_trip_matches_package_path(bundle_dir, tiny_model_dir, photo_dir, tmp_path):
    import cv2

    a, b = tmp_path / "from_bundle", tmp_path / "from_model"
    for model, out in ((bundle_dir, a), (tiny_model_dir, b)):
        res = CliRunner().invoke(main, ["colorize", str(photo_dir), "-o", str(out), "--model", str(model), "--format", "png", "--quiet"])
        assert res.exit_code == 0, res.output
    for p in sorted(b.iterdir()):
        assert np.array_equal(cv2.imread(str(p)), cv2.imread(str(a / p.name)))


def test_bundle_verification_and_errors(bundle_dir, tiny_model_dir, tmp_path):
    import shutil

    from paracolor.builder.bundle import load_bundle
    from paracolor.engine.modelfolder import ModelError

    copy = tmp_path / "copy"
    shutil.copytree(bundle_dir, copy)
    assert load_bundle(copy)["precision"] == "fp16"
    (copy / "fp16" / "fg.onnx").write_bytes(b"damaged in transit")
    with pytest.raises(ModelError, match="fg.onnx: content differs"):
        load_bundle(copy)
    res = CliRunner().invoke(main, ["build", "--bundle", str(bundle_dir)])
    assert res.exit_code != 0 and "TensorRT is not importable" in res.output
    res = CliRunner().invoke(main, ["bundle", "-o", str(bundle_dir), "--model", str(tiny_model_dir)])
    assert res.exit_code != 0 and "not empty" in res.output
    res = CliRunner().invoke(main, ["bundle", "-o", str(tmp_path / "i8"), "--model", str(tiny_model_dir), "--precision", "int8"])
    assert res.exit_code != 0 and "paracolor calibrate" in res.output


@pytest.mark.parametrize(
    "integrated,requested,env,mode",
    [(True, None, None, "zero-copy"), (False, None, None, "device"), (None, None, None, "device"), (True, "device", None, "device"), (False, "zero-copy", None, "zero-copy"), (False, None, "zero-copy", "zero-copy"), (True, "auto", None, "zero-copy")],
)
def test_memory_mode_selection(monkeypatch, integrated, requested, env, mode):
    if env:
        monkeypatch.setenv("PARACOLOR_MEMORY_MODE", env)
    else:
        monkeypatch.delenv("PARACOLOR_MEMORY_MODE", raising=False)
    got, why = select_memory_mode(integrated, requested)
    assert got == mode and why
    with pytest.raises(ValueError):
        select_memory_mode(True, "unified")


def test_bundle_rebuilds_graphs_of_another_attention_form(bundle_dir, tiny_model_dir, photo_dir, tmp_path):
    """A model folder with fused-attention FP16 graphs, asked for a JetPack 6 (matmul) bundle,
    gets MatMul-form graphs built into the bundle, not its fused ones copied."""
    import onnx

    from paracolor.builder.bundle import make_bundle

    out = tmp_path / "jp6"
    make_bundle(str(out), "fp16", str(bundle_dir), "matmul", [str(photo_dir)])
    ops = {n.op_type for n in onnx.load(str(out / "fp16" / "fg.onnx")).graph.node}
    assert "Attention" not in ops and "MatMul" in ops
    assert json.loads((out / "fp16" / "build_report.json").read_text())["config"]["attention"] == "matmul"


def test_device_build_needs_neither_onnx_nor_torch(bundle_dir, monkeypatch):
    """On a Jetson (the bundle's requirements: no onnx, no torch) 'build --bundle' reaches the
    TensorRT step instead of failing on an import."""
    import importlib.util
    import sys

    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("TensorRT is installed: the build would run")
    for m in ("onnx", "torch", "onnx_graphsurgeon"):
        monkeypatch.setitem(sys.modules, m, None)
    for m in ("paracolor.builder.bundle", "paracolor.builder.build"):
        monkeypatch.delitem(sys.modules, m, raising=False)
    res = CliRunner().invoke(main, ["build", "--bundle", str(bundle_dir)])
    assert res.exit_code == 1 and "TensorRT is not importable on this machine" in res.output, res.output

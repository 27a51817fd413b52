"""The TensorRT engine cache (folder names, sidecars, GPU identity), without TensorRT."""

import json

import pytest

from paracolor.engine import engine_cache as ec
from paracolor.engine.modelfolder import ModelError

PROPS = {"name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0", "integrated": False, "total_memory": 1}


def _sidecar(onnx_file, gpu, trt="10.3.0", profile=(1, 8, 8)):
    return ec.expected_sidecar(onnx_file, "fp16", list(profile), {"opt_level": 3}, gpu, trt)


def test_engine_dir_name_from_the_cuda_properties():
    gpu = ec.gpu_identity(PROPS)
    assert gpu == {"name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0"}
    assert ec.engine_dir_name(gpu, "11.4.0", "fp16") == "nvidia-h100-80gb-hbm3-sm90-trt11.4.0-fp16"


def test_build_and_runtime_agree_on_the_folder(tmp_path):
    # the builder writes where engine_dir says; the runtime, from the same properties, finds it
    gpu = ec.gpu_identity(PROPS)
    edir = ec.engine_dir(tmp_path, gpu, "11.4.0", "fp16")
    edir.mkdir(parents=True)
    (edir / "fg.plan").write_bytes(b"plan")
    assert ec.find_engine_dir(tmp_path, gpu, "11.4.0", "fp16") == edir
    assert ec.find_engine_dir(edir, gpu, "11.4.0", "fp16") == edir  # an engine folder itself
    other = ec.gpu_identity({**PROPS, "name": "NVIDIA L4", "compute_capability": "8.9"})
    with pytest.raises(ModelError, match="no engines for this GPU.*nvidia-h100"):
        ec.find_engine_dir(tmp_path, other, "11.4.0", "fp16")


def test_rebuild_reasons(tmp_path):
    onnx_file = tmp_path / "fg.onnx"
    onnx_file.write_bytes(b"graph")
    gpu = {"name": "GPU A", "compute_capability": "8.7"}
    expected = _sidecar(onnx_file, gpu)
    side = tmp_path / "fg.json"
    assert ec.rebuild_reason(side, expected) == "no engine built yet"
    (tmp_path / "fg.plan").write_bytes(b"plan")
    ec.write_sidecar(tmp_path / "fg.plan", expected)
    assert ec.rebuild_reason(side, expected) is None
    for change, word in [({"name": "GPU B", "compute_capability": "8.7"}, "GPU"), ({"name": "GPU A", "compute_capability": "9.0"}, "compute capability")]:
        assert word in ec.rebuild_reason(side, _sidecar(onnx_file, change))
    assert "TensorRT version" in ec.rebuild_reason(side, _sidecar(onnx_file, gpu, trt="11.4.0"))
    assert "batch profile" in ec.rebuild_reason(side, _sidecar(onnx_file, gpu, profile=(1, 4, 16)))
    onnx_file.write_bytes(b"changed graph")
    assert "source ONNX" in ec.rebuild_reason(side, _sidecar(onnx_file, gpu))
    side.write_text("{broken")
    assert "unreadable sidecar" in ec.rebuild_reason(side, expected)


def test_runtime_sidecar_check(tmp_path):
    onnx_file = tmp_path / "fg.onnx"
    onnx_file.write_bytes(b"graph")
    plan = tmp_path / "fg.plan"
    gpu = ec.gpu_identity(PROPS)
    with pytest.raises(ModelError, match="missing sidecar"):
        ec.check_sidecar(plan, "11.4.0", gpu)
    ec.write_sidecar(plan, _sidecar(onnx_file, gpu, trt="11.4.0"))
    assert ec.check_sidecar(plan, "11.4.0", gpu)["precision"] == "fp16"
    with pytest.raises(ModelError, match="built with TensorRT 11.4.0, this is 10.3.0"):
        ec.check_sidecar(plan, "10.3.0", gpu)
    with pytest.raises(ModelError, match="not portable"):
        ec.check_sidecar(plan, "11.4.0", {"name": "NVIDIA L4", "compute_capability": "8.9"})


def test_bundle_precision(tmp_path):
    assert ec.bundle_precision(tmp_path) is None
    (tmp_path / "bundle.json").write_text(json.dumps({"precision": "int8"}))
    assert ec.bundle_precision(tmp_path) == "int8"

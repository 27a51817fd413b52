"""Environment and model report for ``paracolor info`` (imports nothing heavy)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import shutil
import subprocess

from . import __version__

OPTIONAL = ("onnxruntime", "onnxruntime-gpu", "openvino", "opencv-python", "numpy", "torch", "onnx", "onnx-graphsurgeon", "polygraphy", "tensorrt", "cuda-python", "pycuda", "numba", "av")


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _gpus() -> list[str]:
    """GPU names from nvidia-smi when present (no CUDA library is loaded for this)."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def nvidia_smi_gpu() -> dict | None:
    """Name, compute capability and driver of GPU 0 as nvidia-smi reports them, for reports only
    (engines are named from the CUDA device properties: paracolor.engine.engine_cache)."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=name,compute_cap,driver_version", "--format=csv,noheader"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = out.strip().splitlines()
    if not lines:
        return None
    name, cc, driver = (s.strip() for s in lines[0].split(","))
    return {"name": name, "compute_capability": cc, "driver": driver}


def _lab_tables() -> str:
    from . import lab_tables

    if lab_tables.disabled():
        return "off (PARACOLOR_LAB_TABLES=0): OpenCV conversions"
    return "numba" if importlib.util.find_spec("numba") else "numba not installed: OpenCV conversions"


def _openvino() -> str:
    if importlib.util.find_spec("openvino") is None:
        return "not installed (pip install 'paracolor[openvino]')"
    from .engine.backends.openvino import describe_runtime

    return describe_runtime()


def collect_info(model_dir=None) -> dict:
    """Versions, backends, devices and the model card, as a nested dict."""
    from .engine.backends import choose
    from .engine.backends.onnxruntime import available_providers
    from .engine.config import EngineConfig
    from .engine.cuda.memory import ENV, device_integrated, select_memory_mode
    from .engine.modelfolder import ModelError, ModelFolder

    versions = {"paracolor": __version__, "python": platform.python_version()}
    versions.update({d: v for d in OPTIONAL if (v := _version(d))})
    backends = {
        # what --backend auto runs here (paracolor.engine.backends.choose says why)
        "auto": choose(EngineConfig()),
        "onnxruntime": ", ".join(available_providers()),
        "openvino": _openvino(),
        "torch": "available" if importlib.util.find_spec("torch") else "not installed (pip install 'paracolor[train]')",
        "tensorrt": "available" if importlib.util.find_spec("tensorrt") else "not installed",
        # without numba, large photos' Lab conversions fall back to OpenCV (same bytes, slower)
        "lab_tables": _lab_tables(),
    }
    mode, why = select_memory_mode(device_integrated() if _gpus() else None)
    devices = {
        "cpu": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "gpus": _gpus() or "none found",
        "gpu_memory_mode": f"{mode} ({why}; choose with --memory-mode, default ${ENV})",
    }
    try:
        model = ModelFolder.load(model_dir).describe()
    except ModelError as exc:
        model = {"error": str(exc)}
    return {"versions": versions, "backends": backends, "devices": devices, "model": model}

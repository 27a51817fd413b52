"""Environment and model report for ``paracolor info`` (imports nothing heavy)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import shutil
import subprocess

from . import __version__

OPTIONAL = ("onnxruntime", "onnxruntime-gpu", "opencv-python", "numpy", "torch", "onnx", "onnx-graphsurgeon", "polygraphy", "tensorrt", "cuda-python", "pycuda", "numba")


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


def _lab_tables() -> str:
    from . import lab_tables

    if lab_tables.disabled():
        return "off (PARACOLOR_LAB_TABLES=0): OpenCV conversions"
    return "numba" if importlib.util.find_spec("numba") else "numba not installed: OpenCV conversions"


def collect_info(model_dir=None) -> dict:
    """Versions, backends, devices and the model card, as a nested dict."""
    from .engine.modelfolder import ModelError, ModelFolder
    from .engine.runners.onnxruntime import available_providers

    versions = {"paracolor": __version__, "python": platform.python_version()}
    versions.update({d: v for d in OPTIONAL if (v := _version(d))})
    backends = {
        "onnxruntime": ", ".join(available_providers()),
        "torch": "available" if importlib.util.find_spec("torch") else "not installed (pip install 'paracolor[train]')",
        "tensorrt": "available" if importlib.util.find_spec("tensorrt") else "not installed",
        # without numba, large photos' Lab conversions fall back to OpenCV (same bytes, slower)
        "lab_tables": _lab_tables(),
    }
    from .engine.memory import device_integrated, select_memory_mode

    mode, why = select_memory_mode(device_integrated() if _gpus() else None)
    devices = {
        "cpu": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "gpus": _gpus() or "none found",
        "gpu_memory_mode": f"{mode} ({why}; override with PARACOLOR_MEMORY_MODE=device|zero-copy)",
    }
    try:
        model = ModelFolder.load(model_dir).describe()
    except ModelError as exc:
        model = {"error": str(exc)}
    return {"versions": versions, "backends": backends, "devices": devices, "model": model}

"""The backends: one module each, registered by name; the one place that picks which one runs.

Every backend module defines ``load(folder, cfg, size) -> Scheduler`` (its loader, as in
Polygraphy's ``backend/<framework>/loader.py``) and the runner or GPU stage classes behind it.
A module is imported only when its backend is chosen, so a backend's framework (torch,
TensorRT, OpenVINO) is needed only by those who use it. Adding a backend is one module, one
line here and its name in :data:`paracolor.choices.BACKENDS`.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import platform

from ...choices import COMPUTE_PRECISIONS
from ...errors import MissingDependency
from ...extras import extra_for, missing
from ..modelfolder import ModelFolder
from ..config import EngineConfig
from .base import Scheduler

#: backend name -> (module in this package, what to install when its framework is missing)
REGISTRY: dict[str, tuple[str, str]] = {
    "onnxruntime": ("onnxruntime", "pip install onnxruntime (or onnxruntime-gpu)"),
    "openvino": ("openvino", "pip install 'paracolor[openvino]'"),
    "torch": ("torch", "pip install 'paracolor[train]'"),
    "tensorrt": ("tensorrt", "TensorRT's Python bindings (JetPack, or NVIDIA's tensorrt wheels) and cuda-python or pycuda"),
}


def _x86() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64", "x86", "i686")


def _has_onnxruntime_gpu() -> bool:
    try:
        importlib.metadata.version("onnxruntime-gpu")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def choose(cfg: EngineConfig) -> str:
    """The backend that runs ``cfg``: as asked; for "auto", TensorRT when engines are given, the
    backend that computes a backend-only precision (bf16: OpenVINO), OpenVINO on an x86 CPU where
    it is installed (measured faster than ONNX Runtime there at every precision:
    benchmarks/results/2026-12-01-cpu-2core-xeon-openvino-side-by-side.md), else ONNX Runtime
    (it runs everywhere the package installs, and on CUDA with onnxruntime-gpu)."""
    if cfg.backend != "auto":
        return cfg.backend
    if cfg.engines:
        return "tensorrt"
    if cfg.precision in COMPUTE_PRECISIONS:
        return COMPUTE_PRECISIONS[cfg.precision][1][0]
    gpu = cfg.device.startswith("cuda") or (cfg.device == "auto" and _has_onnxruntime_gpu())
    if not gpu and _x86() and importlib.util.find_spec("openvino") is not None:
        return "openvino"
    return "onnxruntime"


def load(folder: ModelFolder, cfg: EngineConfig, size: int) -> Scheduler:
    """The scheduler of the chosen backend for ``folder`` at network size ``size``."""
    name = choose(cfg)
    module_name, install = REGISTRY[name]
    try:
        module = importlib.import_module(f"{__name__}.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith(__name__.rsplit(".", 2)[0]):
            raise  # one of ours: a bug, not a missing framework
        if extra_for(exc.name):  # torch: an extra of ours
            raise missing(exc.name, f"the {name} backend", "train") from None
        raise MissingDependency(f"the {name} backend needs {exc.name}: {install}") from None
    return module.load(folder, cfg, size)

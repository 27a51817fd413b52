"""The backends: one module each, registered by name; the one place that picks which one runs.

Every backend module defines ``load(folder, cfg, size) -> Scheduler`` (its loader, as in
Polygraphy's ``backend/<framework>/loader.py``) and the runner or GPU stage classes behind it.
A module is imported only when its backend is chosen, so a backend's framework (torch,
TensorRT) is needed only by those who use it. Adding a backend (openvino) is one module, one
line here and its name in :data:`paracolor.choices.BACKENDS`.
"""

from __future__ import annotations

import importlib

from ...errors import MissingDependency
from ...extras import extra_for, missing
from ..modelfolder import ModelFolder
from ..config import EngineConfig
from .base import Scheduler

#: backend name -> (module in this package, what to install when its framework is missing)
REGISTRY: dict[str, tuple[str, str]] = {
    "onnxruntime": ("onnxruntime", "pip install onnxruntime (or onnxruntime-gpu)"),
    "torch": ("torch", "pip install 'paracolor[train]'"),
    "tensorrt": ("tensorrt", "TensorRT's Python bindings (JetPack, or NVIDIA's tensorrt wheels) and cuda-python or pycuda"),
}


def choose(cfg: EngineConfig) -> str:
    """The backend that runs ``cfg``: as asked, and for "auto" TensorRT when engines are given,
    else ONNX Runtime (it runs everywhere the package installs)."""
    if cfg.backend != "auto":
        return cfg.backend
    return "tensorrt" if cfg.engines else "onnxruntime"


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

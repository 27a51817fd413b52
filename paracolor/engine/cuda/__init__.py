"""CUDA layer: streams, events, pinned host and device buffers, async copies, checked errors.

Two implementations of one interface (:class:`~paracolor.engine.cuda.base.CudaApi`):
cuda-python (``cuda.bindings``, wheels everywhere) and pycuda (usual on Jetson). Neither is
imported until a GPU runner asks for it, so CPU-only machines never need them.
"""

from __future__ import annotations

import importlib.util

from ...choices import CUDA_BINDINGS, check
from .base import CudaApi, CudaError


def available_bindings() -> list[str]:
    have = []
    if importlib.util.find_spec("cuda") is not None and importlib.util.find_spec("cuda.bindings") is not None:
        have.append("cuda-python")
    if importlib.util.find_spec("pycuda") is not None:
        have.append("pycuda")
    return have


def get_cuda(binding: str = "auto", device: int = 0) -> CudaApi:
    """The CUDA layer over ``binding`` ("auto": cuda-python if installed, else pycuda)."""
    check("CUDA binding", binding, CUDA_BINDINGS)
    have = available_bindings()
    if binding == "auto":
        if not have:
            raise CudaError("cuda", -1, "no CUDA Python binding installed: pip install cuda-python (or pycuda)")
        binding = have[0]
    if binding == "cuda-python":
        from .cudapython import CudaPythonApi

        return CudaPythonApi(device)
    from .pycuda_api import PyCudaApi

    return PyCudaApi(device)


__all__ = ["CudaApi", "CudaError", "available_bindings", "get_cuda"]

"""Host/device memory mode for GPU runners (no CUDA import at module level).

Integrated GPUs (Jetson) share DRAM with the CPU: mapped pinned host memory ("zero-copy") lets
the GPU read inputs and write outputs in place, saving the copies. Discrete GPUs keep device
buffers plus async copies ("device"), since zero-copy there reads over PCIe on every access.
"""

from __future__ import annotations

import os

MODES = ("auto", "device", "zero-copy")
ENV = "PARACOLOR_MEMORY_MODE"


def select_memory_mode(integrated: bool | None, requested: str | None = None) -> tuple[str, str]:
    """(mode, why) from the device's ``integrated`` flag and an optional override.

    ``requested`` (or the PARACOLOR_MEMORY_MODE environment variable) forces "device" or
    "zero-copy"; "auto" or nothing picks zero-copy exactly when the GPU is integrated.
    """
    req = requested or os.environ.get(ENV) or "auto"
    if req not in MODES:
        raise ValueError(f"unknown memory mode {req!r}; choose from {MODES}")
    if req != "auto":
        source = "option" if requested else f"${ENV}"
        return req, f"forced by {source}"
    if integrated is None:
        return "device", "no CUDA device found"
    if integrated:
        return "zero-copy", "integrated GPU shares memory with the CPU"
    return "device", "discrete GPU: device buffers and async copies"


def device_integrated() -> bool | None:
    """Whether CUDA device 0 is integrated (None when no CUDA binding or device is available)."""
    try:
        from cuda.bindings import runtime as cudart  # cuda-python

        err, props = cudart.cudaGetDeviceProperties(0)
        return bool(props.integrated) if int(err) == 0 else None
    except Exception:
        pass
    try:
        import pycuda.driver as drv

        drv.init()
        return bool(drv.Device(0).get_attribute(drv.device_attribute.INTEGRATED))
    except Exception:
        return None

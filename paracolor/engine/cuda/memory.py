"""Host/device memory mode of the GPU schedule (no CUDA import at module level).

Integrated GPUs (Jetson) share DRAM with the CPU: mapped pinned host memory ("zero-copy") lets
the GPU read inputs and write outputs in place, saving the copies. Discrete GPUs keep device
buffers plus async copies ("device"), since zero-copy there reads over PCIe on every access.
"""

from __future__ import annotations

import os

from ...choices import MEMORY_MODES, check
from ...errors import ConfigError

#: the documented default of ``--memory-mode``; an explicit option (even "auto") wins over it
ENV = "PARACOLOR_MEMORY_MODE"


def select_memory_mode(integrated: bool | None, requested: str | None = None, can_map: bool = True) -> tuple[str, str]:
    """(mode, why) from the device's ``integrated`` flag and the requested mode.

    ``requested`` None means "not given": $PARACOLOR_MEMORY_MODE, else "auto". "auto" picks
    zero-copy exactly when the GPU is integrated and the CUDA layer can map host memory
    (``can_map``); "device" or "zero-copy" force that mode.
    """
    source = "option" if requested else f"${ENV}"
    req = requested or os.environ.get(ENV) or "auto"
    check("memory mode", req, MEMORY_MODES)
    if req == "zero-copy" and not can_map:
        raise ConfigError("this CUDA layer has no mapped (zero-copy) host memory; use memory mode 'device' or another --cuda-binding")
    if req != "auto":
        return req, f"forced by {source}"
    if integrated is None:
        return "device", "no CUDA device found"
    if integrated and can_map:
        return "zero-copy", "integrated GPU shares memory with the CPU"
    if integrated:
        return "device", "integrated GPU, but this CUDA layer cannot map host memory"
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

"""The CUDA layer over pycuda (``pycuda.driver``); pycuda raises on failed calls itself,
which is re-raised as :class:`CudaError` naming the call."""

from __future__ import annotations

import atexit
import functools

import numpy as np

from .base import CudaApi, CudaError, DeviceBuffer, HostBuffer


def _checked(call):
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            import pycuda.driver as drv

            try:
                return fn(*a, **k)
            except drv.Error as exc:
                raise CudaError(call, getattr(exc, "code", -1), str(exc)) from None

        return wrapper

    return deco


class PyCudaApi(CudaApi):
    name = "pycuda"

    def __init__(self, device: int = 0):
        import pycuda.driver as drv

        self.drv = drv
        drv.init()
        self.dev = drv.Device(device)
        # the primary context, shared with TensorRT and any other runtime-API user
        self.ctx = self.dev.retain_primary_context()
        self.ctx.push()
        # pycuda aborts the process at exit if a pushed context is still on its stack
        atexit.register(self.close)

    def close(self) -> None:
        """Pop this layer's context (once); pycuda objects made with it must be freed first."""
        if self.ctx is not None:
            self.ctx.pop()
            self.ctx = None

    @_checked("cuStreamCreate")
    def stream(self, high_priority: bool = False):
        return self.drv.Stream()  # pycuda exposes no stream priorities: every stream is equal

    def stream_handle(self, stream) -> int:
        return int(stream.handle)

    @_checked("cuEventCreate")
    def event(self, timing: bool = False):
        return self.drv.Event() if timing else self.drv.Event(self.drv.event_flags.DISABLE_TIMING)

    @_checked("cuEventRecord")
    def record(self, event, stream):
        event.record(stream)

    @_checked("cuStreamWaitEvent")
    def wait(self, stream, event):
        stream.wait_for_event(event)

    @_checked("cuEventSynchronize")
    def event_synchronize(self, event):
        event.synchronize()

    @_checked("cuStreamSynchronize")
    def synchronize(self, stream):
        stream.synchronize()

    @_checked("cuEventElapsedTime")
    def elapsed_ms(self, start, end) -> float:
        return float(start.time_till(end))

    @_checked("cuMemAlloc")
    def device_alloc(self, nbytes: int) -> DeviceBuffer:
        mem = self.drv.mem_alloc(nbytes)
        return DeviceBuffer(int(mem), nbytes, mem, mem.free)

    @_checked("cuMemHostAlloc")
    def host_alloc(self, shape, dtype, mapped: bool = False) -> HostBuffer:
        flags = self.drv.host_alloc_flags.DEVICEMAP if mapped else 0
        array = self.drv.pagelocked_empty(shape, np.dtype(dtype), mem_flags=flags)
        dev = int(array.base.get_device_pointer()) if mapped else None
        return HostBuffer(array, dev, array.base, array.base.free)

    @_checked("cuMemcpyHtoDAsync")
    def copy_htod(self, dst, src, nbytes, stream):
        self.drv.memcpy_htod_async(dst.ptr, src.array.reshape(-1).view(np.uint8)[:nbytes], stream)

    @_checked("cuMemcpyDtoHAsync")
    def copy_dtoh(self, dst, src, nbytes, stream):
        self.drv.memcpy_dtoh_async(dst.array.reshape(-1).view(np.uint8)[:nbytes], src.ptr, stream)

    def properties(self) -> dict:
        a = self.drv.device_attribute
        major, minor = self.dev.compute_capability()
        return {"name": self.dev.name(), "compute_capability": f"{major}.{minor}", "integrated": bool(self.dev.get_attribute(a.INTEGRATED)), "total_memory": int(self.dev.total_memory())}

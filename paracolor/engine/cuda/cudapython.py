"""The CUDA layer over cuda-python (``cuda.bindings.runtime``); every call's status is checked."""

from __future__ import annotations

import ctypes

import numpy as np

from .base import CudaApi, CudaError, DeviceBuffer, HostBuffer


class CudaPythonApi(CudaApi):
    name = "cuda-python"

    def __init__(self, device: int = 0):
        from cuda.bindings import runtime as cudart

        self.rt = cudart
        self._check("cudaSetDevice", cudart.cudaSetDevice(device))
        self.device = device

    def _check(self, call: str, result):
        """cuda-python returns (status, *values): raise on a non-zero status, return the values."""
        status, *values = result if isinstance(result, tuple) else (result,)
        if int(status) != 0:
            _, msg = self.rt.cudaGetErrorString(status)
            raise CudaError(call, int(status), msg.decode() if isinstance(msg, bytes) else str(msg))
        return values[0] if len(values) == 1 else (tuple(values) if values else None)

    def stream(self, high_priority: bool = False):
        if not high_priority:
            return self._check("cudaStreamCreateWithFlags", self.rt.cudaStreamCreateWithFlags(self.rt.cudaStreamNonBlocking))
        _least, greatest = self._check("cudaDeviceGetStreamPriorityRange", self.rt.cudaDeviceGetStreamPriorityRange())
        return self._check("cudaStreamCreateWithPriority", self.rt.cudaStreamCreateWithPriority(self.rt.cudaStreamNonBlocking, greatest))

    def stream_handle(self, stream) -> int:
        return int(stream)

    def event(self, timing: bool = False):
        flags = self.rt.cudaEventDefault if timing else self.rt.cudaEventDisableTiming
        return self._check("cudaEventCreateWithFlags", self.rt.cudaEventCreateWithFlags(flags))

    def record(self, event, stream):
        self._check("cudaEventRecord", self.rt.cudaEventRecord(event, stream))

    def wait(self, stream, event):
        self._check("cudaStreamWaitEvent", self.rt.cudaStreamWaitEvent(stream, event, 0))

    def event_synchronize(self, event):
        self._check("cudaEventSynchronize", self.rt.cudaEventSynchronize(event))

    def synchronize(self, stream):
        self._check("cudaStreamSynchronize", self.rt.cudaStreamSynchronize(stream))

    def elapsed_ms(self, start, end) -> float:
        return float(self._check("cudaEventElapsedTime", self.rt.cudaEventElapsedTime(start, end)))

    def device_alloc(self, nbytes: int) -> DeviceBuffer:
        ptr = self._check("cudaMalloc", self.rt.cudaMalloc(nbytes))
        return DeviceBuffer(int(ptr), nbytes, ptr, lambda: self._check("cudaFree", self.rt.cudaFree(ptr)))

    def host_alloc(self, shape, dtype, mapped: bool = False) -> HostBuffer:
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape)) * dtype.itemsize
        flags = self.rt.cudaHostAllocMapped if mapped else self.rt.cudaHostAllocDefault
        ptr = int(self._check("cudaHostAlloc", self.rt.cudaHostAlloc(nbytes, flags)))
        array = np.frombuffer((ctypes.c_byte * nbytes).from_address(ptr), dtype=dtype).reshape(shape)
        dev = int(self._check("cudaHostGetDevicePointer", self.rt.cudaHostGetDevicePointer(ptr, 0))) if mapped else None
        return HostBuffer(array, dev, ptr, lambda: self._check("cudaFreeHost", self.rt.cudaFreeHost(ptr)))

    def copy_htod(self, dst, src, nbytes, stream):
        self._check("cudaMemcpyAsync(H2D)", self.rt.cudaMemcpyAsync(dst.ptr, src.array.ctypes.data, nbytes, self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice, stream))

    def copy_dtoh(self, dst, src, nbytes, stream):
        self._check("cudaMemcpyAsync(D2H)", self.rt.cudaMemcpyAsync(dst.array.ctypes.data, src.ptr, nbytes, self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost, stream))

    def properties(self) -> dict:
        p = self._check("cudaGetDeviceProperties", self.rt.cudaGetDeviceProperties(self.device))
        name = p.name.decode(errors="replace").rstrip("\x00") if isinstance(p.name, bytes) else str(p.name)
        return {"name": name, "compute_capability": f"{p.major}.{p.minor}", "integrated": bool(p.integrated), "total_memory": int(p.totalGlobalMem)}

    def begin_capture(self, stream):
        self._check("cudaStreamBeginCapture", self.rt.cudaStreamBeginCapture(stream, self.rt.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal))

    def end_capture(self, stream):
        graph = self._check("cudaStreamEndCapture", self.rt.cudaStreamEndCapture(stream))
        return self._check("cudaGraphInstantiate", self.rt.cudaGraphInstantiate(graph, 0))

    def launch_graph(self, graph, stream):
        self._check("cudaGraphLaunch", self.rt.cudaGraphLaunch(graph, stream))

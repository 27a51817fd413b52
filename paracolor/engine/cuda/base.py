"""The CUDA layer's interface. Buffers and streams are opaque handles of each implementation."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ...errors import ParacolorError


class CudaError(ParacolorError, RuntimeError):
    """A failed CUDA call: names the call and the error code."""

    def __init__(self, call: str, code: int, message: str = ""):
        self.call, self.code = call, code
        super().__init__(f"{call} failed with CUDA error {code}{': ' + message if message else ''}")


class DeviceBuffer:
    """Device memory: ``ptr`` (int address), ``nbytes``; ``handle`` is the binding's own object."""

    def __init__(self, ptr: int, nbytes: int, handle=None, free=None):
        self.ptr, self.nbytes, self.handle, self._free = int(ptr), int(nbytes), handle, free

    def free(self):
        if self._free is not None:
            self._free()
            self._free = None


class HostBuffer:
    """Pinned host memory as a numpy array; ``device_ptr`` is set when it is mapped (zero-copy)."""

    def __init__(self, array: np.ndarray, device_ptr: int | None = None, handle=None, free=None):
        self.array, self.device_ptr, self.handle, self._free = array, device_ptr, handle, free

    def free(self):
        if self._free is not None:
            self._free()
            self._free = None


class CudaApi(ABC):
    """What the GPU scheduler and runners need from CUDA, nothing more."""

    name = "abstract"
    #: whether host_alloc(mapped=True) works (zero-copy memory mode)
    can_map = True

    @abstractmethod
    def stream(self, high_priority: bool = False):
        """A non-blocking stream; ``high_priority``: the device's highest stream priority where the
        binding can set one (the scheduler puts the critical path, fg then fusion, there)."""

    @abstractmethod
    def stream_handle(self, stream) -> int:
        """The raw cudaStream_t (what TensorRT's execute_async_v3 takes)."""

    @abstractmethod
    def event(self, timing: bool = False): ...

    @abstractmethod
    def record(self, event, stream) -> None: ...

    @abstractmethod
    def wait(self, stream, event) -> None:
        """Make ``stream`` wait for ``event`` (no host blocking)."""

    @abstractmethod
    def event_synchronize(self, event) -> None: ...

    @abstractmethod
    def synchronize(self, stream) -> None: ...

    @abstractmethod
    def elapsed_ms(self, start, end) -> float: ...

    @abstractmethod
    def device_alloc(self, nbytes: int) -> DeviceBuffer: ...

    @abstractmethod
    def host_alloc(self, shape, dtype, mapped: bool = False) -> HostBuffer: ...

    @abstractmethod
    def copy_htod(self, dst: DeviceBuffer, src: HostBuffer, nbytes: int, stream) -> None: ...

    @abstractmethod
    def copy_dtoh(self, dst: HostBuffer, src: DeviceBuffer, nbytes: int, stream) -> None: ...

    @abstractmethod
    def properties(self) -> dict:
        """name, compute_capability "X.Y", integrated (bool), total_memory (bytes)."""

    def close(self) -> None:
        """Release what the layer holds (a pushed context); buffers are freed by their owners."""

    # CUDA graphs: optional (a binding without them raises NotImplementedError)
    def begin_capture(self, stream) -> None:
        raise NotImplementedError(f"CUDA graph capture is not available with {self.name}")

    def end_capture(self, stream):
        raise NotImplementedError(f"CUDA graph capture is not available with {self.name}")

    def launch_graph(self, graph, stream) -> None:
        raise NotImplementedError(f"CUDA graph capture is not available with {self.name}")

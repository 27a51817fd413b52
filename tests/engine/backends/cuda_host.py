"""A host implementation of the CUDA layer for tests: same interface, executed on the CPU.

Every operation runs immediately in submission order, which is one valid execution of the
stream semantics (waits are satisfied trivially). It lets the GPU scheduler's bookkeeping
(ordering, slot and buffer reuse, pipelining, zero-copy wiring) run and be tested on machines
without a GPU, with real models behind :class:`HostStage`. It measures nothing about GPUs.
"""

from __future__ import annotations

import itertools

import numpy as np

from paracolor.engine.backends.base import TensorSpec
from paracolor.engine.backends.gpu_scheduler import GpuStage
from paracolor.engine.cuda.base import CudaApi, DeviceBuffer, HostBuffer


class HostStream:
    _ids = itertools.count()

    def __init__(self):
        self.id = next(self._ids)


class HostApi(CudaApi):
    name = "host"

    def __init__(self, trace: list | None = None):
        self.trace = trace
        self.memory: dict[int, np.ndarray] = {}
        self._addr = itertools.count(0x1000, 0x1000)
        self.allocations = 0

    def _log(self, *item):
        if self.trace is not None:
            self.trace.append(item)

    def stream(self, high_priority: bool = False):
        return HostStream()

    def stream_handle(self, stream) -> int:
        return stream.id

    def event(self, timing: bool = False):
        return {"recorded": False}

    def record(self, event, stream):
        event["recorded"] = True
        self._log("record", stream.id)

    def wait(self, stream, event):
        assert event["recorded"], "waiting on an event never recorded"
        self._log("wait", stream.id)

    def event_synchronize(self, event):
        pass

    def synchronize(self, stream):
        pass

    def elapsed_ms(self, start, end) -> float:
        return 0.0

    def device_alloc(self, nbytes: int) -> DeviceBuffer:
        ptr = next(self._addr)
        self.memory[ptr] = np.zeros(nbytes, np.uint8)
        self.allocations += 1
        return DeviceBuffer(ptr, nbytes, self.memory[ptr])

    def host_alloc(self, shape, dtype, mapped: bool = False) -> HostBuffer:
        array = np.zeros(shape, dtype)
        self.allocations += 1
        dev = None
        if mapped:  # the "device pointer" of mapped memory is the host array itself
            dev = next(self._addr)
            self.memory[dev] = array.reshape(-1).view(np.uint8)
        return HostBuffer(array, dev, array)

    def copy_htod(self, dst, src, nbytes, stream):
        self.memory[dst.ptr][:nbytes] = src.array.reshape(-1).view(np.uint8)[:nbytes]
        self._log("h2d", stream.id)

    def copy_dtoh(self, dst, src, nbytes, stream):
        dst.array.reshape(-1).view(np.uint8)[:nbytes] = self.memory[src.ptr][:nbytes]
        self._log("d2h", stream.id)

    def view(self, ptr: int, shape, dtype) -> np.ndarray:
        """The memory at ``ptr`` as an array (host implementation only)."""
        dtype = np.dtype(dtype)
        n = int(np.prod(shape)) * dtype.itemsize
        return self.memory[ptr][:n].view(dtype).reshape(shape)

    def properties(self) -> dict:
        return {"name": "host (no GPU)", "compute_capability": "0.0", "integrated": True, "total_memory": 0}


class HostStage(GpuStage):
    """A CPU runner as a GPU stage of the host implementation (reads/writes host "device" memory)."""

    def __init__(self, runner, size: int):
        self.runner, self.role = runner, runner.role
        self.size = size
        self._inputs = [TensorSpec(s.name, s.dtype, (s.shape[1], size, size)) for s in runner.inputs]
        self._outputs = [TensorSpec(s.name, "float32", (2, size, size)) for s in runner.outputs]
        self.calls = []

    def enqueue(self, api: HostApi, batch: int, stream, buffers) -> None:
        self.calls.append((batch, stream.id, {k: v.ptr for k, v in buffers.items()}))
        feeds = {s.name: api.view(buffers[s.name].ptr, (batch, *s.shape), s.dtype) for s in self._inputs}
        out = self.runner.run(feeds)
        for s in self._outputs:
            api.view(buffers[s.name].ptr, (batch, *s.shape), s.dtype)[...] = out[s.name]
        api._log("enqueue", self.role, stream.id)

    def close(self) -> None:
        self.runner.close()

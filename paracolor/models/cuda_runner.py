"""The PyTorch models on CUDA streams: the GPU reference, and a way to measure the two-stream
scheduler's overlap on a GPU without TensorRT.

:class:`TorchCudaApi` implements the CUDA layer with ``torch.cuda`` streams, events and
tensors; :class:`TorchStage` enqueues a module on a given stream, in FP32 or FP16
(channels-last), optionally captured into CUDA graphs. Both plug into the same
:class:`~paracolor.engine.gpu_scheduler.StreamScheduler` as the TensorRT stages.
"""

from __future__ import annotations

import numpy as np
import torch

from ..engine.cuda.base import CudaApi, DeviceBuffer, HostBuffer
from ..engine.gpu_scheduler import GpuStage
from ..engine.modelfolder import IO_NAMES
from ..engine.runners.base import TensorSpec
from .fusion import DenseFuse, FusionHead

_TORCH = {"float32": torch.float32, "float16": torch.float16, "uint8": torch.uint8}


class TorchCudaApi(CudaApi):
    name = "torch.cuda"

    def __init__(self, device: int = 0):
        if not torch.cuda.is_available():
            raise RuntimeError("torch reports no CUDA device")
        self.device = torch.device("cuda", device)

    def stream(self, high_priority: bool = False):
        # torch maps an out-of-range priority to the nearest valid one: -100 is the highest
        return torch.cuda.Stream(self.device, priority=-100 if high_priority else 0)

    def stream_handle(self, stream) -> int:
        return int(stream.cuda_stream)

    def event(self, timing: bool = False):
        return torch.cuda.Event(enable_timing=timing)

    def record(self, event, stream):
        event.record(stream)

    def wait(self, stream, event):
        stream.wait_event(event)

    def event_synchronize(self, event):
        event.synchronize()

    def synchronize(self, stream):
        stream.synchronize()

    def elapsed_ms(self, start, end) -> float:
        return float(start.elapsed_time(end))

    def device_alloc(self, nbytes: int) -> DeviceBuffer:
        t = torch.empty(nbytes, dtype=torch.uint8, device=self.device)
        return DeviceBuffer(t.data_ptr(), nbytes, t)

    def host_alloc(self, shape, dtype, mapped: bool = False) -> HostBuffer:
        if mapped:
            raise NotImplementedError("torch has no mapped (zero-copy) host memory; use memory mode 'device'")
        t = torch.empty(tuple(shape), dtype=_TORCH[np.dtype(dtype).name], pin_memory=True)
        return HostBuffer(t.numpy(), None, t)

    def copy_htod(self, dst, src, nbytes, stream):
        with torch.cuda.stream(stream):
            dst.handle[:nbytes].copy_(src.handle.reshape(-1).view(torch.uint8)[:nbytes], non_blocking=True)

    def copy_dtoh(self, dst, src, nbytes, stream):
        with torch.cuda.stream(stream):
            dst.handle.reshape(-1).view(torch.uint8)[:nbytes].copy_(src.handle[:nbytes], non_blocking=True)

    def properties(self) -> dict:
        p = torch.cuda.get_device_properties(self.device)
        return {"name": p.name, "compute_capability": f"{p.major}.{p.minor}", "integrated": bool(p.is_integrated), "total_memory": int(p.total_memory)}


class _RawDeviceArray:
    """A raw device pointer seen through ``__cuda_array_interface__`` (what torch.as_tensor takes):
    buffers of the cuda-python and pycuda layers, and mapped host memory, as torch tensors."""

    def __init__(self, ptr: int, shape: tuple, dtype: str):
        self.__cuda_array_interface__ = {"shape": tuple(shape), "typestr": np.dtype(dtype).str, "data": (int(ptr), False), "strides": None, "version": 2}


def _typed(buf: DeviceBuffer, batch: int, spec: TensorSpec) -> torch.Tensor:
    n = batch * int(np.prod(spec.shape)) * np.dtype(spec.dtype).itemsize
    if n > buf.nbytes:
        raise ValueError(f"tensor {spec.name}: batch {batch} needs {n} bytes, the buffer holds {buf.nbytes}")
    if isinstance(buf.handle, torch.Tensor):
        return buf.handle[:n].view(_TORCH[spec.dtype]).view(batch, *spec.shape)
    return torch.as_tensor(_RawDeviceArray(buf.ptr, (batch, *spec.shape), spec.dtype), device="cuda")


_EXTERNAL: dict[int, torch.cuda.ExternalStream] = {}


def _torch_stream(api: CudaApi, stream):
    """A torch view of any CUDA layer's stream (torch's own, or an external cudaStream_t)."""
    if isinstance(stream, torch.cuda.Stream):
        return stream
    handle = api.stream_handle(stream)
    if handle not in _EXTERNAL:
        _EXTERNAL[handle] = torch.cuda.ExternalStream(handle)
    return _EXTERNAL[handle]


class TorchStage(GpuStage):
    """A generator or the fusion head on a CUDA stream (a GpuStage); FP32 I/O buffers."""

    def __init__(self, module: torch.nn.Module, role: str, size: int, precision: str = "fp32", cuda_graphs: bool = False, device: str = "cuda"):
        if isinstance(module, DenseFuse):
            module = FusionHead(module)
        self.role, self.size, self.cuda_graphs = role, size, cuda_graphs
        self.dtype = torch.float16 if precision == "fp16" else torch.float32
        self.module = module.eval().to(device=device, dtype=self.dtype, memory_format=torch.channels_last)
        self._inputs = [TensorSpec(n, "float32", (1 if n == "L" else 2, size, size)) for n in IO_NAMES[role][0]]
        self._outputs = [TensorSpec("ab", "float32", (2, size, size))]
        self.graphs: dict = {}

    def _compute(self, ins, out):
        args = [x.to(self.dtype).contiguous(memory_format=torch.channels_last) for x in ins]
        out.copy_(self.module(*args).float())

    def enqueue(self, api, batch: int, stream, buffers) -> None:
        stream = _torch_stream(api, stream)
        if self.cuda_graphs:
            key = (batch, tuple(b.ptr for b in buffers.values()))
            graph = self.graphs.get(key)
            if graph is not None:  # the hot path: one launch, no tensor views built on the host
                with torch.cuda.stream(stream):
                    graph.replay()
                return
        ins = [_typed(buffers[s.name], batch, s) for s in self._inputs]
        out = _typed(buffers["ab"], batch, self._outputs[0])
        with torch.inference_mode(), torch.cuda.stream(stream):
            self._compute(ins, out)  # eager, or the warm-up run before capture (also this call's result)
            if self.cuda_graphs:
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph, stream=stream):
                    self._compute(ins, out)
                self.graphs[key] = graph

    def close(self) -> None:
        self.graphs.clear()


def torch_cuda_scheduler(folder, size: int, max_batch: int, precision: str = "fp32", schedule: str = "parallel", cuda_graphs: bool = False, device: int = 0, binding: str = "torch", memory_mode: str = "device", priorities: bool = True):
    """A StreamScheduler over the model folder's PyTorch weights on CUDA.

    ``binding`` picks the CUDA layer that owns streams, events and buffers: "torch" (torch.cuda),
    or "cuda-python" / "pycuda" (the layers the TensorRT backend uses), so the scheduler and
    those layers can be exercised on a GPU without TensorRT. ``memory_mode="zero-copy"`` needs
    one of the latter two (mapped pinned memory).
    """
    from ..engine.cuda import get_cuda
    from ..engine.gpu_scheduler import StreamScheduler
    from .checkpoint import load_model

    api = TorchCudaApi(device) if binding == "torch" else get_cuda(binding, device)
    stages = {}
    for role in ("fg", "bg", "fusion"):
        module = load_model(folder.root / "checkpoints" / f"{role}.safetensors", expect_kind="fusion" if role == "fusion" else "generator")
        stages[role] = TorchStage(module, role, size, precision, cuda_graphs, device=f"cuda:{device}")
    if schedule == "merged":
        raise ValueError("the merged fg+bg graph is an ONNX/TensorRT artifact; use parallel or sequential with torch")
    return StreamScheduler(api, stages["fg"], stages["bg"], stages["fusion"], max_batch, schedule, memory_mode=memory_mode, priorities=priorities)


def torch_cuda_scheduler_if_available(folder, size: int, max_batch: int, precision: str = "fp32", schedule: str = "parallel", cuda_graphs: bool = False):
    """:func:`torch_cuda_scheduler` when torch sees a CUDA device, else None (CPU runners)."""
    if not torch.cuda.is_available():
        return None
    return torch_cuda_scheduler(folder, size, max_batch, precision, schedule, cuda_graphs)

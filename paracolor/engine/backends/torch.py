"""The PyTorch backend: the models/ modules, eager, on the CPU or on CUDA streams.

The only engine module that imports torch, loaded only when ``--backend torch`` is chosen.
On the CPU each network is a :class:`TorchRunner` under the host scheduler. On a CUDA device
:class:`TorchStage` enqueues a module on a given stream, in FP32 or FP16 (channels-last),
optionally captured into CUDA graphs, under the same two-stream scheduler as TensorRT; the
streams, events and buffers come from :class:`TorchCudaApi` (torch.cuda), or from the
cuda-python / pycuda layers that TensorRT uses, so those can be exercised without TensorRT.
"""

from __future__ import annotations

import numpy as np
import torch

from ...errors import ConfigError
from ...models.checkpoint import load_model
from ...models.fusion import DenseFuse, FusionHead
from ..config import EngineConfig
from ..cuda import get_cuda
from ..cuda.base import CudaApi, DeviceBuffer, HostBuffer
from ..cuda.memory import select_memory_mode
from ..modelfolder import IO_NAMES, ROLES, ModelError, ModelFolder
from .base import Runner, TensorSpec
from .cpu_scheduler import StageScheduler
from .gpu_scheduler import GpuStage, StreamScheduler

_TORCH = {"float32": torch.float32, "float16": torch.float16, "uint8": torch.uint8}


def load_role(folder: ModelFolder, role: str) -> torch.nn.Module:
    """``checkpoints/<role>.safetensors`` of a model folder."""
    path = folder.root / "checkpoints" / f"{role}.safetensors"
    if not path.is_file():
        raise ModelError(f"{path}: missing; the torch backend needs the PyTorch weights in the model folder")
    return load_model(path, expect_kind="fusion" if role == "fusion" else "generator")


def prepare_module(module: torch.nn.Module, precision: str, device, channels_last: bool = False) -> tuple[torch.nn.Module, torch.dtype]:
    """The module as inference runs it: DenseFuse as its fusion head, eval mode, on ``device``
    in the precision's dtype; returns (module, dtype)."""
    if precision not in ("fp32", "fp16"):
        raise ConfigError(f"the torch backend runs fp32 or fp16, not {precision}")
    dtype = torch.float16 if precision == "fp16" else torch.float32
    if isinstance(module, DenseFuse):
        module = FusionHead(module)
    fmt = {"memory_format": torch.channels_last} if channels_last else {}
    return module.eval().to(device=device, dtype=dtype, **fmt), dtype


class TorchRunner(Runner):
    """One network as a PyTorch module; numpy in, numpy out."""

    backend = "torch"

    def __init__(self, module: torch.nn.Module, role: str, precision: str = "fp32", device: str = "auto"):
        super().__init__(role)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        if precision == "fp16" and self.device.type != "cuda":
            raise ConfigError("fp16 with the torch backend needs a CUDA device")
        self.module, self.dtype = prepare_module(module, precision, self.device)
        ins, outs = IO_NAMES[role]
        self._inputs = [TensorSpec(n, "float32", (None, 1 if n == "L" else 2, None, None)) for n in ins]
        self._outputs = [TensorSpec(n, "float32", (None, 2, None, None)) for n in outs]

    @classmethod
    def from_folder(cls, folder: ModelFolder, role: str, precision: str = "fp32", device: str = "auto"):
        return cls(load_role(folder, role), role, precision, device)

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        args = [torch.from_numpy(feeds[s.name]).to(self.device, self.dtype) for s in self._inputs]
        with torch.inference_mode():
            out = self.module(*args)
        return {"ab": out.float().cpu().numpy()}

    def describe(self) -> dict:
        return {**super().describe(), "device": str(self.device)}


class TorchCudaApi(CudaApi):
    """The CUDA layer over torch.cuda (no mapped host memory: zero-copy needs another layer)."""

    name = "torch.cuda"
    can_map = False

    def __init__(self, device: int = 0):
        if not torch.cuda.is_available():
            raise ConfigError("torch reports no CUDA device")
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


class TorchStage(GpuStage):
    """A generator or the fusion head on a CUDA stream (a GpuStage); FP32 I/O buffers."""

    def __init__(self, module: torch.nn.Module, role: str, size: int, precision: str = "fp32", cuda_graphs: bool = False, device: str = "cuda"):
        self.role, self.size, self.cuda_graphs = role, size, cuda_graphs
        self.module, self.dtype = prepare_module(module, precision, device, channels_last=True)
        self._inputs = [TensorSpec(n, "float32", (1 if n == "L" else 2, size, size)) for n in IO_NAMES[role][0]]
        self._outputs = [TensorSpec("ab", "float32", (2, size, size))]
        self.graphs: dict = {}
        #: torch views of other layers' raw streams, by handle (kept for this stage's life only)
        self._streams: dict[int, torch.cuda.ExternalStream] = {}

    def _torch_stream(self, api: CudaApi, stream):
        if isinstance(stream, torch.cuda.Stream):
            return stream
        handle = api.stream_handle(stream)
        if handle not in self._streams:
            self._streams[handle] = torch.cuda.ExternalStream(handle)
        return self._streams[handle]

    def _compute(self, ins, out):
        args = [x.to(self.dtype).contiguous(memory_format=torch.channels_last) for x in ins]
        out.copy_(self.module(*args).float())

    def enqueue(self, api, batch: int, stream, buffers) -> None:
        stream = self._torch_stream(api, stream)
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
        self._streams.clear()


def torch_cuda_scheduler(folder, size: int, max_batch: int, precision: str = "fp32", schedule: str = "parallel", cuda_graphs: bool = False, device: int = 0, binding: str = "torch", memory_mode: str | None = "device", priorities: bool = True) -> StreamScheduler:
    """A StreamScheduler over the model folder's PyTorch weights on CUDA device ``device``.

    ``binding`` picks the CUDA layer that owns streams, events and buffers: "torch" (torch.cuda),
    or "cuda-python" / "pycuda" (the layers the TensorRT backend uses). ``memory_mode``
    "zero-copy" needs one of the latter two (mapped pinned memory); None or "auto" picks it on
    integrated GPUs where the layer can map.
    """
    if schedule == "merged":
        raise ConfigError("the merged fg+bg graph is an ONNX/TensorRT artifact; use parallel or sequential with torch")
    api = TorchCudaApi(device) if binding == "torch" else get_cuda(binding, device)
    mode, _ = select_memory_mode(api.properties()["integrated"], memory_mode, api.can_map)
    stages = {role: TorchStage(load_role(folder, role), role, size, precision, cuda_graphs, device=f"cuda:{device}") for role in ROLES}
    return StreamScheduler(api, stages["fg"], stages["bg"], stages["fusion"], max_batch, schedule, memory_mode=mode, priorities=priorities, backend="torch")


def _cuda_index(device: str) -> int:
    return int(device.split(":", 1)[1]) if ":" in device else 0


def load(folder: ModelFolder, cfg: EngineConfig, size: int):
    """The loader: two CUDA streams where torch sees the device asked for, else host runners.

    ``cfg.device`` "auto" takes CUDA device 0 when there is one; "cuda[:N]" requires it.
    ``cfg.cuda_binding`` "auto" is torch's own CUDA layer.
    """
    if cfg.schedule == "merged":
        raise ConfigError("the merged fg+bg graph is an ONNX/TensorRT artifact; use parallel or sequential with torch")
    on_cuda = cfg.device.startswith("cuda") or (cfg.device == "auto" and torch.cuda.is_available())
    if on_cuda:
        binding = "torch" if cfg.cuda_binding == "auto" else cfg.cuda_binding
        return torch_cuda_scheduler(folder, size, cfg.max_batch, cfg.precision, cfg.schedule, cfg.cuda_graphs, _cuda_index(cfg.device), binding, cfg.memory_mode)
    r = {role: TorchRunner.from_folder(folder, role, cfg.precision, "cpu") for role in ROLES}
    return StageScheduler(r["fg"], r["bg"], r["fusion"], cfg.schedule)

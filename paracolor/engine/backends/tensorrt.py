"""The TensorRT backend: serialized engines as stages of the two-stream GPU scheduler.

tensorrt is imported when an engine loads. Name-based I/O only (``set_input_shape``,
``set_tensor_address``, ``execute_async_v3``), as in TensorRT 10 and 11; FP16/FP32 I/O types
come from the engine. Buffers belong to the scheduler, allocated once for the largest batch.
With ``cuda_graphs`` each (batch size, buffer set) is captured into a CUDA graph after its first
ordinary run and replayed afterwards. An engine loads only if its JSON sidecar matches this
TensorRT version and GPU (:mod:`paracolor.engine.engine_cache`). Checked statically against
the TensorRT 11.4 API listing (tests/builder/test_trt_api.py); it has not run on a GPU yet.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from ...errors import MissingDependency
from ..config import EngineConfig
from ..cuda import get_cuda
from ..cuda.memory import select_memory_mode
from ..engine_cache import bundle_precision, check_sidecar, find_engine_dir, gpu_identity
from ..modelfolder import ModelError, ModelFolder
from .base import TensorSpec
from .gpu_scheduler import GpuStage, StreamScheduler


class TrtStage(GpuStage):
    """One deserialized engine enqueued on a given stream (a GpuStage)."""

    def __init__(self, plan_path, role: str, api, cuda_graphs: bool = False):
        import tensorrt as trt

        self.trt, self.role, self.api = trt, role, api
        self.path = Path(plan_path)
        self.meta = check_sidecar(self.path, trt.__version__, gpu_identity(api.properties()))
        self.logger = trt.Logger(trt.Logger.WARNING)
        runtime = trt.Runtime(self.logger)
        engine = runtime.deserialize_cuda_engine(self.path.read_bytes())
        if engine is None:
            raise ModelError(f"{self.path}: TensorRT could not deserialize the engine (corrupt file?)")
        self.runtime, self.engine = runtime, engine
        self.context = engine.create_execution_context()
        self._inputs, self._outputs = [], []
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name))).name
            shape = tuple(engine.get_tensor_shape(name))[1:]
            spec = TensorSpec(name, dtype, shape)
            (self._inputs if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT else self._outputs).append(spec)
        self.max_batch = min(int(engine.get_tensor_profile_shape(s.name, 0)[2][0]) for s in self._inputs)
        self.cuda_graphs = cuda_graphs
        self.graphs: dict = {}

    def _bind(self, batch: int, buffers) -> None:
        for s in self._inputs:
            self.context.set_input_shape(s.name, (batch, *s.shape))
        for s in self._inputs + self._outputs:
            self.context.set_tensor_address(s.name, buffers[s.name].ptr)

    def enqueue(self, api, batch: int, stream, buffers) -> None:
        key = (batch, tuple(sorted((k, b.ptr) for k, b in buffers.items())), api.stream_handle(stream))
        if key in self.graphs:
            api.launch_graph(self.graphs[key], stream)
            return
        self._bind(batch, buffers)
        if not self.context.execute_async_v3(api.stream_handle(stream)):
            raise RuntimeError(f"{self.path}: execute_async_v3 failed for batch {batch}")
        if self.cuda_graphs:  # first run done (TensorRT's lazy setup happens there): capture the next
            api.begin_capture(stream)
            self.context.execute_async_v3(api.stream_handle(stream))
            self.graphs[key] = api.end_capture(stream)

    def close(self) -> None:
        self.graphs.clear()
        self.context = self.engine = self.runtime = None


def load_trt_stages(root, precision: str, api, schedule: str = "parallel", cuda_graphs: bool = False) -> dict:
    """fg/bg/fusion (or fg_bg/fusion for the merged schedule) stages from an engine folder."""
    import tensorrt as trt

    edir = find_engine_dir(root, gpu_identity(api.properties()), trt.__version__, precision)
    roles = ("fg_bg", "fusion") if schedule == "merged" else ("fg", "bg", "fusion")
    stages = {}
    for role in roles:
        plan = edir / f"{role}.plan"
        if not plan.is_file():
            raise ModelError(f"{plan}: missing engine")
        stages[role] = TrtStage(plan, "fg+bg" if role == "fg_bg" else role, api, cuda_graphs)
    return stages


def load(folder: ModelFolder, cfg: EngineConfig, size: int) -> StreamScheduler:
    """The loader: ``cfg.engines``' plans on the CUDA layer ``cfg.cuda_binding``.

    A deploy bundle's engines have the bundle's precision, whatever ``cfg.precision`` says.
    """
    if importlib.util.find_spec("tensorrt") is None:
        raise MissingDependency("the tensorrt backend needs TensorRT's Python bindings (JetPack, or NVIDIA's tensorrt wheels); use --backend onnxruntime here")
    api = get_cuda(cfg.cuda_binding)
    precision = bundle_precision(cfg.engines) or cfg.precision
    stages = load_trt_stages(cfg.engines, precision, api, cfg.schedule, cfg.cuda_graphs)
    mode, _ = select_memory_mode(api.properties()["integrated"], cfg.memory_mode, api.can_map)
    max_batch = min(s.max_batch for s in stages.values())
    if cfg.schedule == "merged":
        return StreamScheduler(api, stages["fg_bg"], None, stages["fusion"], max_batch, "merged", memory_mode=mode, backend="tensorrt")
    return StreamScheduler(api, stages["fg"], stages["bg"], stages["fusion"], max_batch, cfg.schedule, memory_mode=mode, backend="tensorrt")

"""TensorRT engines as GPU stages (tensorrt imported lazily; NOT run on any machine yet).

Name-based I/O only (``set_input_shape``, ``set_tensor_address``, ``execute_async_v3``), as in
TensorRT 10 and 11; FP16/FP32 I/O types come from the engine. Buffers belong to the
scheduler, allocated once for the largest batch. With ``cuda_graphs`` each (batch size, buffer
set) is captured into a CUDA graph after its first ordinary run and replayed afterwards.
An engine loads only if its JSON sidecar matches this TensorRT version and GPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..gpu_scheduler import GpuStage
from ..modelfolder import ModelError
from .base import TensorSpec


def check_sidecar(plan: Path, trt_version: str, gpu: dict) -> dict:
    """The sidecar of ``plan`` if it was built for this TensorRT and GPU, else ModelError."""
    side = plan.with_suffix(".json")
    if not side.is_file():
        raise ModelError(f"{side}: missing sidecar; rebuild the engine with 'paracolor build'")
    meta = json.loads(side.read_text())
    if meta.get("tensorrt_version") != trt_version:
        raise ModelError(f"{plan}: built with TensorRT {meta.get('tensorrt_version')}, this is {trt_version}; rebuild it with 'paracolor build'")
    if meta.get("gpu") != gpu["name"] or meta.get("compute_capability") != gpu["compute_capability"]:
        raise ModelError(
            f"{plan}: built for {meta.get('gpu')} (sm {meta.get('compute_capability')}), this is {gpu['name']} "
            f"(sm {gpu['compute_capability']}); engines are not portable: rebuild on this GPU"
        )
    return meta


class TrtStage(GpuStage):
    """One deserialized engine enqueued on a given stream (a GpuStage)."""

    def __init__(self, plan_path, role: str, api, cuda_graphs: bool = False):
        import tensorrt as trt

        self.trt, self.role, self.api = trt, role, api
        self.path = Path(plan_path)
        self.meta = check_sidecar(self.path, trt.__version__, api.properties())
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


def find_engine_dir(root, precision: str, api) -> Path:
    """The engine folder for this GPU and TensorRT under ``root`` (or ``root`` itself)."""
    import tensorrt as trt

    from ...builder.trt import engine_dir_name

    root = Path(root)
    if (root / "fg.plan").is_file() or (root / "fg_bg.plan").is_file():
        return root
    props = api.properties()
    name = engine_dir_name({"name": props["name"], "compute_capability": props["compute_capability"]}, trt.__version__, precision)
    path = root / "engines" / name
    if not path.is_dir():
        have = sorted(p.name for p in (root / "engines").glob("*")) if (root / "engines").is_dir() else []
        raise ModelError(f"{path}: no engines for this GPU/TensorRT/precision (found: {have or 'none'}); run 'paracolor build --bundle {root}' here")
    return path


def load_trt_stages(root, precision: str, api, schedule: str = "parallel", cuda_graphs: bool = False) -> dict:
    """fg/bg/fusion (or fg_bg/fusion for the merged schedule) stages from an engine folder."""
    edir = find_engine_dir(root, precision, api)
    roles = ("fg_bg", "fusion") if schedule == "merged" else ("fg", "bg", "fusion")
    stages = {}
    for role in roles:
        plan = edir / f"{role}.plan"
        if not plan.is_file():
            raise ModelError(f"{plan}: missing engine")
        stages[role] = TrtStage(plan, "fg+bg" if role == "fg_bg" else role, api, cuda_graphs)
    return stages

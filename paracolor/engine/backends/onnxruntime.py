"""The ONNX Runtime backend: CPU everywhere, CUDA when onnxruntime-gpu is installed.

Each network is an ``InferenceSession``; the host scheduler runs fg || bg in two threads that
share the cores, or the merged fg+bg graph from ``paracolor build --merge-fg-bg``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ...errors import MissingDependency
from ...logs import onnxruntime_severity, quiet_onnxruntime
from ..config import EngineConfig
from ..modelfolder import ROLES, ModelError, ModelFolder, make_graphs_hint
from .base import Runner, TensorSpec, check_role_io
from .cpu_scheduler import StageScheduler

_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16"}
#: onnxruntime's CPU memory arena keeps the largest batch's buffers for the session's life, so
#: resident memory follows the batch size (60 photos, fp32: 329 / 931 / 1720 MB at batch 1 / 4 /
#: 8; without the arena 315 / 693 / 1053 MB), but without it every run maps and faults its
#: buffers afresh (batch 1: 1.23 against 2.09 img/s in the same loaded run). Kept on; memory is
#: bounded by the CPU default batch of 1 instead (benchmarks/cpu_batch_memory.py).
CPU_MEM_ARENA = True
#: the folder job's batch when not told: on the CPU a batch buys no parallelism that two threads
#: per image lack, and larger batches cost memory (benchmarks/cpu_batch_memory.py)
PREFERRED_BATCH = 1


def available_providers() -> list[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())


def pick_providers(device: str = "auto") -> list[str]:
    """CUDA first when asked for (or on auto, when present), CPU always as the fallback."""
    have = available_providers()
    if device in ("auto", "cuda") and "CUDAExecutionProvider" in have:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "cuda":
        raise MissingDependency("the CUDA provider is not available: install onnxruntime-gpu")
    return ["CPUExecutionProvider"]


class OrtRunner(Runner):
    """One ONNX graph in an ``onnxruntime.InferenceSession``."""

    backend = "onnxruntime"

    def __init__(self, path, role: str, providers=None, threads: int = 0):
        super().__init__(role)
        # graph-optimizer notices are not the user's concern: shown only with -v
        ort = quiet_onnxruntime()
        self.path = Path(path)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads  # 0: onnxruntime's default (all cores)
        opts.inter_op_num_threads = 1
        # three sessions take turns on the same cores: a finished session's pool must not spin
        # while the next one runs (measured: 127 -> 105 ms per image, two-thread schedule)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = onnxruntime_severity()
        opts.enable_cpu_mem_arena = CPU_MEM_ARENA
        try:
            self.session = ort.InferenceSession(str(self.path), opts, providers=providers or pick_providers())
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{self.path}: cannot load the ONNX graph ({first})") from None
        self._inputs = [TensorSpec(i.name, _TYPES.get(i.type, i.type), tuple(i.shape)) for i in self.session.get_inputs()]
        self._outputs = [TensorSpec(o.name, _TYPES.get(o.type, o.type), tuple(o.shape)) for o in self.session.get_outputs()]
        self._names = [o.name for o in self._outputs]
        meta = self.session.get_modelmeta().custom_metadata_map
        stored = meta.get("paracolor.role")
        if stored is not None and stored != role:
            raise ModelError(f"{self.path}: graph of role {stored!r} loaded as {role!r}")

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(self._names, self.session.run(self._names, feeds)))

    def describe(self):
        providers = self.session.get_providers()
        return {**super().describe(), "path": str(self.path), "providers": providers, "device": "cuda" if providers[0] == "CUDAExecutionProvider" else "cpu"}


#: channels of every tensor a role's graph reads and writes
def _checked(runner: OrtRunner, role: str, size: int) -> OrtRunner:
    """The runner, once its graph's inputs and outputs are those of ``role`` at ``size``."""
    check_role_io(runner, role, size, runner.path)
    return runner


def runners(folder: ModelFolder, cfg: EngineConfig, size: int | None = None) -> dict[str, OrtRunner]:
    """One session per network of ``cfg``'s precision and schedule (fg_bg + fusion when merged)."""
    providers = pick_providers(cfg.device)
    cores = cfg.threads or os.cpu_count() or 1
    if cfg.schedule == "merged":
        merged = folder.root / cfg.precision / "fg_bg.onnx"
        if not merged.is_file():
            raise ModelError(f"{merged}: no merged fg+bg graph; {make_graphs_hint(cfg.precision, merged=True)}")
        made = {"fg_bg": OrtRunner(folder.verified(merged), "fg+bg", providers, cores), "fusion": OrtRunner(folder.onnx_path("fusion", cfg.precision), "fusion", providers, cores)}
    else:
        # Two generators at once share the cores; run alone, each stage may use all of them.
        gen_threads = max(1, cores // 2) if cfg.schedule == "parallel" else cores
        threads = {"fg": gen_threads, "bg": gen_threads, "fusion": cores}
        made = {role: OrtRunner(folder.onnx_path(role, cfg.precision), role, providers, threads[role]) for role in ROLES}
    if size is not None:
        for r in made.values():
            _checked(r, r.role, size)
    return made


def load(folder: ModelFolder, cfg: EngineConfig, size: int) -> StageScheduler:
    """The loader: the host scheduler over :func:`runners`."""
    r = runners(folder, cfg, size)
    # the CPU's measured batch; on onnxruntime-gpu's CUDA provider batches do pay: the GPU default
    preferred = PREFERRED_BATCH if pick_providers(cfg.device)[0] == "CPUExecutionProvider" else 4
    if cfg.schedule == "merged":
        return StageScheduler(r["fg_bg"], None, r["fusion"], "merged", preferred_batch=preferred)
    return StageScheduler(r["fg"], r["bg"], r["fusion"], cfg.schedule, preferred_batch=preferred)

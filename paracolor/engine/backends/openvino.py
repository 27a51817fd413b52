"""The OpenVINO backend: Intel's CPU runtime on the model folder's own ONNX graphs.

On x86 it runs the same graphs faster than onnxruntime (AVX-512, VNNI and AMX kernels, and
oneDNN's bf16 on CPUs that have it), so ``--backend auto`` picks it there when installed
(:func:`paracolor.engine.backends.choose`). Precisions: ``fp32`` (f32 compute: OpenVINO's default
on a bf16 CPU would be bf16), ``bf16`` (the fp32 graphs with ``INFERENCE_PRECISION_HINT=bf16``),
``fp16`` and ``int8`` (the folder's Q/DQ graphs, which OpenVINO turns into int8 kernels whatever
the target they were calibrated for; the CPU-target U8S8 graphs ran faster here than the
TensorRT-target S8S8 ones, 62 against 71 ms merged, and are onnxruntime's fast path too, so the
bundled U8S8 graphs stay the default: 2026-12-01-*-openvino-side-by-side.md). Schedules: ``parallel`` (fg and bg at once, half the
cores each, in the host scheduler's two threads; OpenVINO releases the GIL while it infers),
``sequential``, and ``merged``: fg and bg joined here into one OpenVINO model that shares the L
input, so no ``build --merge-fg-bg`` graph is needed at any precision.

Compiled models go to OpenVINO's model cache (``$PARACOLOR_CACHE_DIR/openvino``, by default
``~/.cache/paracolor/openvino``; ``PARACOLOR_CACHE_DIR=off`` disables it), so a second start
imports the compiled blobs instead of compiling again.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import openvino as ov  # this module is imported only when the backend is chosen (the registry)

from ...errors import ConfigError
from ..config import EngineConfig
from ..modelfolder import ROLES, ModelError, ModelFolder
from .base import Runner, TensorSpec, check_role_io
from .cpu_scheduler import StageScheduler

_log = logging.getLogger(__name__)
CACHE_ENV = "PARACOLOR_CACHE_DIR"
#: run precision -> OpenVINO's inference precision hint for the float parts of the graphs
HINTS = {"fp32": "f32", "bf16": "bf16", "fp16": "f32", "int8": "f32"}
_TYPES = {"f32": "float32", "f16": "float16"}
#: the folder job's batch when not told (benchmarks/cpu_batch_memory.py)
PREFERRED_BATCH = 1


def cache_dir() -> Path | None:
    """Where compiled models are cached (None: caching off)."""
    value = os.environ.get(CACHE_ENV)
    if value and value.lower() in ("off", "0", "none"):
        return None
    base = Path(value) if value else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "paracolor"
    return base / "openvino"


def cpu_capabilities() -> list[str]:
    """What OpenVINO's CPU plugin can compute on this CPU (FP32, BF16, INT8, ...)."""
    return list(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


def has_bf16() -> bool:
    return "BF16" in cpu_capabilities()


def describe_runtime() -> str:
    """One line for ``paracolor info``: version, CPU name and capabilities."""
    core = ov.Core()
    name = core.get_property("CPU", "FULL_DEVICE_NAME")
    return f"{ov.get_version().split('-')[0]} on {name} ({', '.join(core.get_property('CPU', 'OPTIMIZATION_CAPABILITIES'))}); model cache {cache_dir() or 'off'}"


class OvRunner(Runner):
    """One compiled OpenVINO model: a role's graph, or fg and bg merged ("fg+bg")."""

    backend = "openvino"

    def __init__(self, model, role: str, precision: str = "fp32", threads: int = 0, size: int | None = None, source: str = ""):
        """``model``: a graph's path or an ``openvino.Model``; ``threads`` 0: all cores."""
        super().__init__(role)
        core = ov.Core()
        self.source = source or str(model)
        if not isinstance(model, ov.Model):
            model = read_model(core, Path(model), role)
        if size:  # static spatial size, batch left dynamic: OpenVINO picks its kernels once
            model.reshape({p.get_any_name(): ov.PartialShape([-1, p.get_partial_shape()[1], size, size]) for p in model.inputs})
        self.precision, self.threads = precision, threads
        config = {
            "INFERENCE_PRECISION_HINT": HINTS[precision],
            "PERFORMANCE_HINT": "LATENCY",  # one stream: a batch at a time, every thread on it
            "NUM_STREAMS": 1,
            # two models run at once in the parallel schedule, each on its share of the cores:
            # pinned threads of both would pile onto the same cores
            "ENABLE_CPU_PINNING": False,
        }
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        cache = cache_dir()
        if cache is not None:
            try:
                cache.mkdir(parents=True, exist_ok=True)
                config["CACHE_DIR"] = str(cache)
            except OSError as exc:  # a read-only or missing home (containers, workers): compile uncached
                _log.warning("OpenVINO model cache %s not usable (%s); compiling without it (set %s)", cache, exc.strerror or exc, CACHE_ENV)
        try:
            self.compiled = core.compile_model(model, "CPU", config)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{self.source}: OpenVINO cannot compile the graph ({first})") from None
        self.request = self.compiled.create_infer_request()
        # The bindings set up their numpy interface on first use, under a lock that deadlocks
        # when two threads get there at once (fg and bg in the parallel schedule): do it here.
        _ = self.request.get_input_tensor(0).data
        self._inputs = [TensorSpec(i.get_any_name(), _TYPES.get(i.get_element_type().get_type_name(), "float32"), _shape(i)) for i in self.compiled.inputs]
        self._outputs = [TensorSpec(o.get_any_name(), "float32", _shape(o)) for o in self.compiled.outputs]

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        result = self.request.infer(feeds)
        # the request's output tensors are reused by its next inference: hand out copies
        return {o.get_any_name(): np.array(result[o], dtype=np.float32) for o in self.compiled.outputs}

    def describe(self) -> dict:
        hint = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        return {**super().describe(), "path": self.source, "device": "cpu", "precision": self.precision, "inference_precision": hint.get_type_name(), "threads": int(self.compiled.get_property("INFERENCE_NUM_THREADS"))}


def _shape(port) -> tuple:
    return tuple(d.get_length() if d.is_static else None for d in port.get_partial_shape())


def read_model(core, path: Path, role: str):
    """``path`` read by OpenVINO, checked to be a graph of ``role`` (as the onnxruntime backend checks)."""
    try:
        model = core.read_model(str(path))
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: cannot load the ONNX graph ({first})") from None
    key = ["framework", "paracolor.role"]
    if model.has_rt_info(key):
        stored = model.get_rt_info(key).astype(str)
        if stored != role:
            raise ModelError(f"{path}: graph of role {stored!r} loaded as {role!r}")
    return model


def merged_model(fg_path: Path, bg_path: Path):
    """One OpenVINO model holding fg and bg on one shared L input, outputs ab_fg and ab_bg."""
    core = ov.Core()
    fg, bg = read_model(core, fg_path, "fg"), read_model(core, bg_path, "bg")
    L = fg.inputs[0].get_node()
    for target in bg.inputs[0].get_target_inputs():  # bg's consumers of L read fg's L instead
        target.replace_source_output(L.output(0))
    outputs = []
    for name, model in (("ab_fg", fg), ("ab_bg", bg)):
        source = model.outputs[0].get_node().input_value(0)  # what the Result node returns
        result = ov.opset13.result(source)
        result.output(0).get_tensor().set_names({name})
        outputs.append(result)
    return ov.Model(outputs, [L], "paracolor-fg-bg")


def runners(folder: ModelFolder, cfg: EngineConfig, size: int | None = None) -> dict[str, OvRunner]:
    """Compiled models for ``cfg``'s precision and schedule (fg_bg + fusion when merged)."""
    precision = cfg.precision
    if precision == "bf16" and not has_bf16():
        raise ConfigError("this CPU has no bf16 support that OpenVINO can use (needs AVX-512 BF16 or AMX); use --precision fp32 or int8")
    graphs = cfg.graphs
    cores = cfg.threads or os.cpu_count() or 1
    if cfg.schedule == "merged":
        fg_path, bg_path = folder.onnx_path("fg", graphs), folder.onnx_path("bg", graphs)
        return {
            "fg_bg": OvRunner(merged_model(fg_path, bg_path), "fg+bg", precision, cores, size, f"{fg_path} + {bg_path}"),
            "fusion": OvRunner(folder.onnx_path("fusion", graphs), "fusion", precision, cores, size),
        }
    # two generators at once share the cores; one at a time, each may use all of them
    gen_threads = max(1, cores // 2) if cfg.schedule == "parallel" else cores
    threads = {"fg": gen_threads, "bg": gen_threads, "fusion": cores}
    return {role: OvRunner(folder.onnx_path(role, graphs), role, precision, threads[role], size) for role in ROLES}


def load(folder: ModelFolder, cfg: EngineConfig, size: int) -> StageScheduler:
    """The loader: the host scheduler over :func:`runners`, each graph's I/O checked once here."""
    r = runners(folder, cfg, size)
    for runner in r.values():
        check_role_io(runner, runner.role, size, runner.source)
    if cfg.schedule == "merged":
        return StageScheduler(r["fg_bg"], None, r["fusion"], "merged", preferred_batch=PREFERRED_BATCH)
    return StageScheduler(r["fg"], r["bg"], r["fusion"], cfg.schedule, preferred_batch=PREFERRED_BATCH)

"""TensorRT engine build from verified ONNX graphs (tensorrt imported lazily).

Written against the TensorRT 11.4 Python API (``../shared/reference``) and kept valid for
TensorRT 10 (JetPack 6): both take strongly typed networks, so precision comes from the ONNX
graph and no FP16/INT8 builder flag or calibrator is used. ``tests/builder/test_trt_api.py``
checks every TensorRT attribute used here against the 11.4 listing.

Engines are written with a JSON sidecar (TensorRT version, GPU, compute capability, precision,
shapes, source-ONNX hash, build options); :func:`cached_build` reuses a matching engine and
rebuilds, saying why, when any of those changed. Folder names, sidecars and the GPU identity
are the engine cache's (:mod:`paracolor.engine.engine_cache`), which the runtime reads too.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .. import progress
from ..engine import engine_cache
from ..engine.io import atomic_write
from ..errors import ConfigError, ParacolorError

log = logging.getLogger("paracolor.trt")


class TrtBuildError(ParacolorError, RuntimeError):
    """Parsing or building failed; the message names the ONNX file and the failing nodes."""


@dataclass
class TrtBuildOptions:
    """Optimisation profile and builder settings."""

    min_batch: int = 1
    opt_batch: int | None = None  # default: max_batch
    max_batch: int = 8
    workspace_mb: int = 2048
    opt_level: int = 3  # builder_optimization_level, 0-5
    max_aux_streams: int | None = None  # None: TensorRT's heuristic
    timing_cache: str | None = None  # file loaded before and saved after each build
    dla_core: int | None = None  # run the network on this DLA core (GPU fallback on)

    def profile(self) -> tuple[int, int, int]:
        opt = self.opt_batch or self.max_batch
        if not 1 <= self.min_batch <= opt <= self.max_batch:
            raise ConfigError(f"need 1 <= min_batch <= opt_batch <= max_batch, got {self.min_batch}, {opt}, {self.max_batch}")
        return self.min_batch, opt, self.max_batch


def tensorrt_available() -> bool:
    """True where ``import tensorrt`` would succeed (without importing it)."""
    return importlib.util.find_spec("tensorrt") is not None


def this_gpu(binding: str = "auto") -> dict:
    """The identity of CUDA device 0 (name, compute capability) from its CUDA properties: the
    identity the runtime looks engines up by. Needs a CUDA binding (cuda-python or pycuda)."""
    from ..engine.cuda import get_cuda

    api = get_cuda(binding)
    try:
        return engine_cache.gpu_identity(api.properties())
    finally:
        api.close()


def expected_sidecar(onnx_path: Path, precision: str, opts: TrtBuildOptions, gpu: dict, trt_version: str) -> dict:
    """What the sidecar of an engine built from ``onnx_path`` with ``opts`` says."""
    options = {k: v for k, v in asdict(opts).items() if k != "timing_cache"}
    return engine_cache.expected_sidecar(onnx_path, precision, list(opts.profile()), options, gpu, trt_version)


def _parser_errors(parser, onnx_path: Path) -> str:
    lines = []
    for i in range(parser.num_errors):
        err = parser.get_error(i)
        # ParserError's accessors are not in the 11.4 listing: read them defensively
        node = getattr(err, "node_name", lambda: "")() or f"node #{getattr(err, 'node', lambda: -1)()}"
        op = getattr(err, "node_operator", lambda: "")()
        desc = getattr(err, "desc", lambda: str(err))()
        lines.append(f"  {node} ({op}): {desc}")
    return f"{onnx_path}: TensorRT's ONNX parser failed:\n" + "\n".join(lines)


def build_engine(onnx_path, plan_path, precision: str, opts: TrtBuildOptions, gpu: dict) -> dict:
    """Parse ``onnx_path`` and build a serialized engine for ``gpu`` to ``plan_path`` (+ ``.json`` sidecar)."""
    import tensorrt as trt

    onnx_path, plan_path = Path(onnx_path), Path(plan_path)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    # TensorRT 11 networks are always strongly typed (the flag is accepted and ignored);
    # TensorRT 10 needs it to take types from the graph instead of builder flags.
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        raise TrtBuildError(_parser_errors(parser, onnx_path))
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, opts.workspace_mb << 20)
    config.builder_optimization_level = opts.opt_level
    if opts.max_aux_streams is not None:
        config.max_aux_streams = opts.max_aux_streams
    lo, opt, hi = opts.profile()
    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        dims = tuple(tensor.shape)
        if any(d < 0 for d in dims[1:]):
            raise TrtBuildError(f"{onnx_path}: input {tensor.name} has dynamic non-batch dims {dims}; fix them first")
        profile.set_shape(tensor.name, (lo, *dims[1:]), (opt, *dims[1:]), (hi, *dims[1:]))
    config.add_optimization_profile(profile)
    cache_path = Path(opts.timing_cache) if opts.timing_cache else None
    cache_bytes = cache_path.read_bytes() if cache_path and cache_path.is_file() else b""
    config.set_timing_cache(config.create_timing_cache(cache_bytes), False)
    if opts.dla_core is not None:
        if builder.num_DLA_cores <= opts.dla_core:
            raise TrtBuildError(f"DLA core {opts.dla_core} requested but this device has {builder.num_DLA_cores} DLA cores")
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = opts.dla_core
        config.set_flag(trt.BuilderFlag.GPU_FALLBACK)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise TrtBuildError(f"{onnx_path}: TensorRT could not build an engine (see the log above)")
    atomic_write(plan_path, bytes(serialized), overwrite=True)
    if cache_path:
        atomic_write(cache_path, bytes(config.get_timing_cache().serialize()), overwrite=True)
    sidecar = expected_sidecar(onnx_path, precision, opts, gpu, trt.__version__)
    engine_cache.write_sidecar(plan_path, sidecar)
    return sidecar


def cached_build(onnx_path, engine_dir, role: str, precision: str, opts: TrtBuildOptions, gpu: dict) -> tuple[Path, str]:
    """Reuse ``engine_dir/role.plan`` when its sidecar matches, else build; returns (plan, what happened)."""
    import tensorrt as trt

    plan = Path(engine_dir) / f"{role}.plan"
    expected = expected_sidecar(Path(onnx_path), precision, opts, gpu, trt.__version__)
    reason = engine_cache.rebuild_reason(plan.with_suffix(".json"), expected)
    if reason is None:
        return plan, "reused"
    log.warning("building %s engine: %s", role, reason)
    build_engine(onnx_path, plan, precision, opts, gpu)
    return plan, f"built ({reason})"


def build_engines(pdir: Path, root: Path, roles, precision: str, opts: TrtBuildOptions, dla_roles: tuple[str, ...] = ()) -> dict:
    """Engines for ``roles`` from ``pdir/<role>.onnx`` into ``root``'s engine cache entry for this
    GPU; ``dla_roles`` go on DLA core ``opts.dla_core`` (GPU fallback on), the rest on the GPU."""
    import tensorrt as trt

    gpu = this_gpu()
    edir = engine_cache.engine_dir(root, gpu, trt.__version__, precision)
    done = {}
    for role in progress.bar(list(roles), desc=f"TensorRT {precision} engines", unit="engine"):  # minutes each
        role_opts = opts if role in dla_roles else replace(opts, dla_core=None)
        plan, status = cached_build(pdir / f"{role}.onnx", edir, role, precision, role_opts, gpu)
        done[role] = {"plan": str(plan), "status": status, "device": "DLA" if role_opts.dla_core is not None else "GPU"}
    return done


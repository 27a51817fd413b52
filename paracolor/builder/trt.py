"""TensorRT engine build from verified ONNX graphs (tensorrt imported lazily).

Written against the TensorRT 11.4 Python API (``../shared/reference``) and kept valid for
TensorRT 10 (JetPack 6): both take strongly typed networks, so precision comes from the ONNX
graph and no FP16/INT8 builder flag or calibrator is used. ``tests/builder/test_trt_api.py``
checks every TensorRT attribute used here against the 11.4 listing.

Engines are written with a JSON sidecar (TensorRT version, GPU, compute capability, precision,
shapes, source-ONNX hash, build options); :func:`cached_build` reuses a matching engine and
rebuilds, saying why, when any of those changed.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from ..engine.io import atomic_write
from ..hashing import file_sha256

log = logging.getLogger("paracolor.trt")
SIDECAR_FORMAT = "paracolor-engine-v1"


class TrtBuildError(RuntimeError):
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
            raise ValueError(f"need 1 <= min_batch <= opt_batch <= max_batch, got {self.min_batch}, {opt}, {self.max_batch}")
        return self.min_batch, opt, self.max_batch


def tensorrt_available() -> bool:
    """True where ``import tensorrt`` would succeed (without importing it)."""
    return importlib.util.find_spec("tensorrt") is not None


def trt_major(trt) -> int:
    return int(str(trt.__version__).split(".")[0])


def gpu_identity() -> dict:
    """Name, compute capability and driver of GPU 0 from nvidia-smi (no CUDA library needed)."""
    exe = shutil.which("nvidia-smi")
    if exe:
        try:
            out = subprocess.run(
                [exe, "--query-gpu=name,compute_cap,driver_version", "--format=csv,noheader"], capture_output=True, text=True, timeout=20
            ).stdout.strip().splitlines()
        except (OSError, subprocess.TimeoutExpired):
            out = []
        if out:
            name, cc, driver = (s.strip() for s in out[0].split(","))
            return {"name": name, "compute_capability": cc, "driver": driver}
    return {"name": "unknown-gpu", "compute_capability": "0.0", "driver": "unknown"}


def engine_dir_name(gpu: dict, trt_version: str, precision: str) -> str:
    """``<gpu>-sm<cc>-trt<version>-<precision>``: engines are specific to all four."""
    slug = re.sub(r"[^a-z0-9]+", "-", gpu["name"].lower()).strip("-")
    return f"{slug}-sm{gpu['compute_capability'].replace('.', '')}-trt{trt_version}-{precision}"


def expected_sidecar(onnx_path: Path, precision: str, opts: TrtBuildOptions, gpu: dict, trt_version: str) -> dict:
    """What a reusable engine's sidecar must say."""
    return {
        "format": SIDECAR_FORMAT,
        "tensorrt_version": trt_version,
        "gpu": gpu["name"],
        "compute_capability": gpu["compute_capability"],
        "precision": precision,
        "onnx_sha256": file_sha256(onnx_path),
        "profile": list(opts.profile()),
        "options": {k: v for k, v in asdict(opts).items() if k not in ("timing_cache",)},
    }


def rebuild_reason(sidecar_path: Path, expected: dict) -> str | None:
    """Why an existing engine cannot be reused (None: it can)."""
    plan = sidecar_path.with_suffix(".plan")
    if not plan.is_file() or not sidecar_path.is_file():
        return "no engine built yet"
    try:
        have = json.loads(sidecar_path.read_text())
    except (OSError, json.JSONDecodeError):
        return f"unreadable sidecar {sidecar_path.name}"
    labels = {
        "tensorrt_version": "TensorRT version",
        "gpu": "GPU",
        "compute_capability": "compute capability",
        "onnx_sha256": "source ONNX",
        "precision": "precision",
        "profile": "batch profile",
        "options": "build options",
    }
    for key, label in labels.items():
        if have.get(key) != expected[key]:
            return f"{label} changed ({have.get(key)!r} -> {expected[key]!r})"
    return None


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


def build_engine(onnx_path, plan_path, precision: str, opts: TrtBuildOptions) -> dict:
    """Parse ``onnx_path`` and build a serialized engine to ``plan_path`` (+ ``.json`` sidecar)."""
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
    sidecar = expected_sidecar(onnx_path, precision, opts, gpu_identity(), trt.__version__)
    atomic_write(plan_path.with_suffix(".json"), json.dumps(sidecar, indent=1).encode(), overwrite=True)
    return sidecar


def cached_build(onnx_path, engine_dir, role: str, precision: str, opts: TrtBuildOptions) -> tuple[Path, str]:
    """Reuse ``engine_dir/role.plan`` when its sidecar matches, else build; returns (plan, what happened)."""
    import tensorrt as trt

    plan = Path(engine_dir) / f"{role}.plan"
    expected = expected_sidecar(Path(onnx_path), precision, opts, gpu_identity(), trt.__version__)
    reason = rebuild_reason(plan.with_suffix(".json"), expected)
    if reason is None:
        return plan, "reused"
    log.warning("building %s engine: %s", role, reason)
    build_engine(onnx_path, plan, precision, opts)
    return plan, f"built ({reason})"


"""Every choice list of the package, defined once: the configs validate against these tuples and
the CLI's ``click.Choice`` lists them (no other copy exists).

Each is a ``Literal`` type for annotations and the tuple of its values, in the order the CLI
shows them; the first value is the default where the option has one.
"""

from __future__ import annotations

from typing import Literal, get_args

from .errors import ConfigError

Backend = Literal["auto", "onnxruntime", "openvino", "torch", "tensorrt"]
# the graphs a model folder holds (fp32/, fp16/, int8/): what build, bundle and model folders take
Precision = Literal["fp32", "fp16", "int8"]
# what a run may ask for: the graph precisions, and bf16, which is the fp32 graphs computed in
# bfloat16 by a backend that can (openvino, on CPUs with AVX-512 BF16 or AMX)
RunPrecision = Literal["fp32", "fp16", "int8", "bf16"]
Schedule = Literal["parallel", "sequential", "merged"]
MemoryMode = Literal["auto", "device", "zero-copy"]
CudaBinding = Literal["auto", "cuda-python", "pycuda"]
Role = Literal["fg", "bg", "fusion"]
Attention = Literal["fused", "matmul"]
GraphIO = Literal["fp32", "fp16"]
CalibMethod = Literal["entropy", "percentile", "minmax"]
CalibTarget = Literal["tensorrt", "cpu"]
ImageFormat = Literal["png", "jpg", "tiff", "webp"]
TritonPlatform = Literal["tensorrt", "onnx", "python"]  # triton-repo: tensorrt_plan, onnxruntime_onnx, python backend

BACKENDS: tuple[str, ...] = get_args(Backend)
PRECISIONS: tuple[str, ...] = get_args(Precision)
RUN_PRECISIONS: tuple[str, ...] = get_args(RunPrecision)
#: run precisions that only some backends compute: precision -> (graphs it runs, those backends)
COMPUTE_PRECISIONS: dict[str, tuple[str, tuple[str, ...]]] = {"bf16": ("fp32", ("openvino",))}
SCHEDULES: tuple[str, ...] = get_args(Schedule)
MEMORY_MODES: tuple[str, ...] = get_args(MemoryMode)
CUDA_BINDINGS: tuple[str, ...] = get_args(CudaBinding)
ROLES: tuple[str, ...] = get_args(Role)
ATTENTION: tuple[str, ...] = get_args(Attention)
GRAPH_IO: tuple[str, ...] = get_args(GraphIO)
CALIB_METHODS: tuple[str, ...] = get_args(CalibMethod)
CALIB_TARGETS: tuple[str, ...] = get_args(CalibTarget)
IMAGE_FORMATS: tuple[str, ...] = get_args(ImageFormat)
TRITON_PLATFORMS: tuple[str, ...] = get_args(TritonPlatform)


def graph_precision(precision: str) -> str:
    """The model folder's graphs that a run at ``precision`` loads (bf16: the fp32 graphs)."""
    return COMPUTE_PRECISIONS[precision][0] if precision in COMPUTE_PRECISIONS else precision


def check(what: str, value, allowed: tuple[str, ...]) -> None:
    """Refuse ``value`` unless it is one of ``allowed``, naming the option and the choices."""
    if value not in allowed:
        raise ConfigError(f"unknown {what} {value!r}; choose from {allowed}")

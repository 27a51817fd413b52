"""How to run the model: the options a backend's loader reads (no backend is imported here)."""

from __future__ import annotations

from dataclasses import dataclass

from ..choices import BACKENDS, COMPUTE_PRECISIONS, CUDA_BINDINGS, MEMORY_MODES, RUN_PRECISIONS, SCHEDULES, check, graph_precision
from ..errors import ConfigError

#: the largest network input size (the default model runs at 256; memory grows with size^2)
MAX_SIZE = 1024


@dataclass
class EngineConfig:
    """Which model folder, backend, precision, network size and schedule."""

    model_dir: str | None = None  # None: the bundled default model
    backend: str = "auto"  # which backend "auto" means: paracolor.engine.backends.choose
    precision: str = "fp32"  # fp32, fp16, int8, or bf16 (the fp32 graphs in bf16; openvino)
    size: int | None = None  # network input size; None: the model's own (256)
    schedule: str = "parallel"
    threads: int | None = None  # CPU threads in total; None: all cores
    device: str = "auto"  # torch: auto, cpu, cuda, cuda:N; onnxruntime: auto, cpu, cuda
    engines: str | None = None  # TensorRT: an engine folder, or a bundle/model folder holding engines/
    cuda_binding: str = "auto"  # GPU schedules: cuda-python or pycuda (torch: "auto" is torch.cuda)
    memory_mode: str | None = None  # device | zero-copy | auto; None: $PARACOLOR_MEMORY_MODE, else auto
    cuda_graphs: bool = False
    max_batch: int = 8  # GPU buffers (torch on CUDA); TensorRT takes its engines' profile
    verify_model: bool = True  # check each graph's sha256 against model.json (once per file and process)

    def __post_init__(self):
        check("backend", self.backend, BACKENDS)
        check("precision", self.precision, RUN_PRECISIONS)
        check("schedule", self.schedule, SCHEDULES)
        check("CUDA binding", self.cuda_binding, CUDA_BINDINGS)
        if self.memory_mode is not None:
            check("memory mode", self.memory_mode, MEMORY_MODES)
        if self.size is not None and (self.size < 32 or self.size % 32 or self.size > MAX_SIZE):
            # memory grows with the square of the size: a slip such as --size 25600 is refused
            # here instead of being killed by the kernel after taking all memory
            raise ConfigError(f"size must be a multiple of 32 from 32 to {MAX_SIZE}, got {self.size}")
        if not 1 <= self.max_batch <= 256:
            raise ConfigError(f"max batch must be 1 to 256, got {self.max_batch}")
        if self.threads is not None and not 1 <= self.threads <= 1024:
            raise ConfigError(f"threads must be 1 to 1024, got {self.threads}")
        if self.precision in COMPUTE_PRECISIONS and self.backend not in ("auto", *COMPUTE_PRECISIONS[self.precision][1]):
            able = " or ".join(COMPUTE_PRECISIONS[self.precision][1])
            raise ConfigError(f"the {self.backend} backend cannot compute {self.precision}; use --backend {able} (or auto)")
        if self.backend == "tensorrt" and not self.engines:
            raise ConfigError("the tensorrt backend needs --engines DIR (built with 'paracolor build')")

    @property
    def graphs(self) -> str:
        """The precision of the model folder's graphs this run loads (bf16 runs the fp32 graphs)."""
        return graph_precision(self.precision)

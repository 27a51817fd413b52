"""What ``paracolor serve`` runs: the engine, the server's ports and the batcher (no PyTriton here)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..engine.config import EngineConfig
from ..engine.io import DEFAULT_MAX_PIXELS
from ..errors import ConfigError


@dataclass
class ServeConfig:
    engine: EngineConfig = field(default_factory=EngineConfig)
    host: str = "127.0.0.1"  # every endpoint listens here; 0.0.0.0 to reach it from other machines
    http_port: int = 8000
    grpc_port: int = 8001
    metrics_port: int = 8002
    max_batch: int = 8  # Triton's max_batch_size: items the dynamic batcher gives one call
    max_queue_delay_us: int = 2000  # how long the batcher waits to fill a batch
    instances: int = 2  # calls of the image model in flight: one finishes and encodes while the next infers
    max_pixels: int = DEFAULT_MAX_PIXELS
    quality: int = 95  # JPEG and WebP outputs
    exit_timeout_s: int = 30  # on SIGTERM/Ctrl-C, how long in-flight requests may take to finish
    stub_env: str | None = None  # the Python-backend stub's environment (default: paracolor.serve.stub)
    log_verbose: int = 0  # tritonserver's --log-verbose

    def __post_init__(self):
        for name in ("http_port", "grpc_port", "metrics_port"):
            port = getattr(self, name)
            if not 0 < port < 65536:
                raise ConfigError(f"{name.replace('_', ' ')} must be 1-65535, got {port}")
        if len({self.http_port, self.grpc_port, self.metrics_port}) != 3:
            raise ConfigError(f"the HTTP, gRPC and metrics ports must differ, got {self.http_port}, {self.grpc_port}, {self.metrics_port}")
        if self.max_batch < 1:
            raise ConfigError(f"max batch must be at least 1, got {self.max_batch}")
        if self.max_queue_delay_us < 0:
            raise ConfigError(f"max queue delay must be >= 0 us, got {self.max_queue_delay_us}")
        if self.instances < 1:
            raise ConfigError(f"instances must be at least 1, got {self.instances}")
        if self.max_pixels < 1:
            raise ConfigError(f"max pixels must be positive, got {self.max_pixels}")

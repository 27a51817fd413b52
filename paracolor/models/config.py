"""Architecture configuration dataclasses (plain Python: no torch import).

Every checkpoint and exported model stores its config as JSON, so it loads without being told
the architecture.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

ENCODERS = ("mobilenet_v2", "resnet18")
FUSION_STRATEGIES = ("add", "l1norm")


@dataclass
class GeneratorConfig:
    """ResUNet generator: L (N,1,H,W) -> ab (N,2,H,W) in [-1, 1]."""

    encoder: str = "mobilenet_v2"
    #: decoder widths at strides 16, 8, 4, 2, 1 (coarse to fine)
    decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16)
    #: SAGAN self-attention in the decoder at this stride (e.g. 8); 0 disables it
    attention_stride: int = 0
    #: width multiplier of the encoder (1.0 = torchvision's; tests use narrow encoders)
    encoder_width: float = 1.0

    def __post_init__(self):
        self.decoder_channels = tuple(int(c) for c in self.decoder_channels)
        if self.encoder not in ENCODERS:
            raise ValueError(f"unknown encoder {self.encoder!r}; choose from {ENCODERS}")
        if len(self.decoder_channels) != 5:
            raise ValueError("decoder_channels needs 5 widths (strides 16, 8, 4, 2, 1)")
        if self.attention_stride not in (0, 1, 2, 4, 8, 16):
            raise ValueError("attention_stride must be 0 (off) or one of 1, 2, 4, 8, 16")


@dataclass
class DiscriminatorConfig:
    """PatchGAN on (L, ab): 70x70 receptive field with n_layers=3."""

    in_channels: int = 3
    base_channels: int = 64
    n_layers: int = 3


@dataclass
class FusionConfig:
    """DenseFuse autoencoder on 3-channel Lab images."""

    in_channels: int = 3
    encoder_channels: int = 16
    dense_layers: int = 3
    decoder_channels: tuple[int, ...] = (64, 32, 16)
    strategy: str = "add"

    def __post_init__(self):
        self.decoder_channels = tuple(int(c) for c in self.decoder_channels)
        if self.strategy not in FUSION_STRATEGIES:
            raise ValueError(f"unknown fusion strategy {self.strategy!r}; choose from {FUSION_STRATEGIES}")

    @property
    def feature_channels(self) -> int:
        return self.encoder_channels * (1 + self.dense_layers)


KINDS = {"generator": GeneratorConfig, "discriminator": DiscriminatorConfig, "fusion": FusionConfig}


def config_to_json(kind: str, cfg) -> str:
    """Serialise a config with its kind, e.g. for checkpoint or ONNX metadata."""
    return json.dumps({"kind": kind, "config": dataclasses.asdict(cfg)}, sort_keys=True)


def config_from_json(text: str):
    """Inverse of :func:`config_to_json`: returns ``(kind, config)``."""
    data = json.loads(text)
    kind = data.get("kind")
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r} in stored config")
    cls = KINDS[kind]
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data["config"]) - known
    if unknown:
        raise ValueError(f"stored {kind} config has unknown fields {sorted(unknown)}")
    return kind, cls(**data["config"])

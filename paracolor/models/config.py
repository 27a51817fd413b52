"""Architecture configuration dataclasses (plain Python: no torch import).

Every checkpoint and exported model stores its config as JSON, so it loads without being told
the architecture.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

ENCODERS = ("mobilenet_v2", "resnet18")
#: ``add`` (the paper's), ``l1norm`` (DenseFuse's activity weighting): both symmetric in their
#: two inputs; ``gate``: a learned per-pixel weight from both feature maps, so a fusion trained
#: supervised can learn which generator to trust where (fg on objects, bg on scenes)
FUSION_STRATEGIES = ("add", "l1norm", "gate")
#: what the decoder gives: the fused image (the paper), or a correction to the mean of the two inputs' ab
FUSION_OUTPUTS = ("image", "residual")
#: ``regression``: tanh ab at full resolution (the paper); ``classes``: logits over quantized
#: ab bins decoded by the annealed mean (Zhang et al. 2016), which keeps strong colours that an
#: L1-trained mean regresses to grey-brown
HEADS = ("regression", "classes")
#: ``bilinear``: torch's align_corners=False (the paper's and the first model's); ``aligned``:
#: bilinear that puts low-resolution sample i at full-resolution pixel s*i, where the encoder's
#: stride-2 convs centre it. The mismatch of ``bilinear`` shifts deep features right by
#: (s-1)/2 pixels per level, 15.5 px at stride 32: the reddish band right of dark regions.
UPSAMPLES = ("bilinear", "aligned")


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
    head: str = "regression"
    #: the decoder stops at this stride and the head's output is upsampled to full size
    #: (1 = the paper's full-resolution decoder; 4 = Zhang et al.'s 64x64 colour grid at 256 px)
    head_stride: int = 1
    upsample: str = "bilinear"
    #: ``classes`` head: bin centres as [a, b] pairs in network scale (ab / 110), from the
    #: training photos' gamut (train.colour_prior); and the annealed-mean temperature
    ab_bins: tuple = ()
    temperature: float = 0.38

    def __post_init__(self):
        self.decoder_channels = tuple(int(c) for c in self.decoder_channels)
        self.ab_bins = tuple(tuple(float(v) for v in b) for b in self.ab_bins)
        if self.head not in HEADS:
            raise ValueError(f"unknown head {self.head!r}; choose from {HEADS}")
        if self.upsample not in UPSAMPLES:
            raise ValueError(f"unknown upsample {self.upsample!r}; choose from {UPSAMPLES}")
        if self.head_stride not in (1, 2, 4):
            raise ValueError("head_stride must be 1, 2 or 4")
        if self.head == "classes" and len(self.ab_bins) < 2:
            raise ValueError("the classes head needs ab_bins (at least two [a, b] centres)")
        if not self.temperature > 0:
            raise ValueError("temperature must be positive")
        if self.encoder not in ENCODERS:
            raise ValueError(f"unknown encoder {self.encoder!r}; choose from {ENCODERS}")
        if len(self.decoder_channels) != 5:
            raise ValueError("decoder_channels needs 5 widths (strides 16, 8, 4, 2, 1)")
        if self.attention_stride not in (0, 1, 2, 4, 8, 16):
            raise ValueError("attention_stride must be 0 (off) or one of 1, 2, 4, 8, 16")
        if self.attention_stride and self.attention_stride < self.head_stride:
            raise ValueError("attention_stride must not be finer than head_stride (that stage is not built)")


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
    #: ``gate`` strategy: width of the hidden layer of the weight network
    gate_channels: int = 16
    #: ``image``: the decoder's output is the fused Lab image (the paper). ``residual``: the fused
    #: ab is the mean of the two inputs' ab plus the decoder's ab, clipped to [-1, 1]; the decoder
    #: starts at zero, so an untrained fusion is the 0.5 blend and training learns only corrections
    output: str = "image"

    def __post_init__(self):
        self.decoder_channels = tuple(int(c) for c in self.decoder_channels)
        if self.strategy not in FUSION_STRATEGIES:
            raise ValueError(f"unknown fusion strategy {self.strategy!r}; choose from {FUSION_STRATEGIES}")
        if self.output not in FUSION_OUTPUTS:
            raise ValueError(f"unknown fusion output {self.output!r}; choose from {FUSION_OUTPUTS}")

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

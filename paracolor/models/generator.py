"""ResUNet generator with optional SAGAN self-attention: L (N,1,H,W) -> ab (N,2,H,W)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .backbones import build_encoder
from .config import GeneratorConfig


class SelfAttention(nn.Module):
    """SAGAN self-attention: 1x1 query/key (C/8) and value (C) convs, softmax over positions.

    ``gamma`` starts at 0, so a fresh block is the identity and training blends it in.
    The MatMul -> Softmax -> MatMul form is what the builder's graph pass recognises.
    """

    def __init__(self, channels: int):
        super().__init__()
        inner = max(1, channels // 8)
        self.query = nn.Conv2d(channels, inner, 1)
        self.key = nn.Conv2d(channels, inner, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        n, c, h, w = x.shape
        q = self.query(x).flatten(2).transpose(1, 2)  # (N, HW, C/8)
        k = self.key(x).flatten(2)  # (N, C/8, HW)
        attn = torch.softmax(torch.bmm(q, k), dim=-1)  # (N, HW, HW): row i attends over j
        v = self.value(x).flatten(2).transpose(1, 2)  # (N, HW, C)
        out = torch.bmm(attn, v).transpose(1, 2).reshape(n, c, h, w)
        return self.gamma * out + x


class ResBlock(nn.Module):
    """Two 3x3 conv-BN layers with a (projected) identity shortcut."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, 1, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.shortcut = (
            nn.Identity() if cin == cout else nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        )

    def forward(self, x):
        return F.relu(self.body(x) + self.shortcut(x))


def upsample(x: torch.Tensor, size, mode: str = "bilinear") -> torch.Tensor:
    """Bilinear resize of ``x`` to ``size`` (an integer multiple of its own size).

    ``aligned`` reads full-resolution pixel j from low-resolution coordinate j/s, where a
    stride-2, padding-1 conv (MobileNet's, ResNet's) centres sample i; torch's
    align_corners=False reads (j + 0.5)/s - 0.5 instead, half a pixel per level off. Written
    as edge pad + align_corners resize to s*n+1 samples + crop, so ONNX and TensorRT export it
    with standard ops (Pad edge, Resize align_corners, Slice).
    """
    if mode == "bilinear":
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    h, w = size[0], size[1]  # kept symbolic when traced: the exported graph stays size-agnostic
    xp = F.pad(x, (0, 1, 0, 1), mode="replicate")
    return F.interpolate(xp, size=(h + 1, w + 1), mode="bilinear", align_corners=True)[..., :h, :w]


class UpBlock(nn.Module):
    """Bilinear x2 upsampling, concatenation with the skip, residual block."""

    def __init__(self, cin: int, cskip: int, cout: int, mode: str = "bilinear"):
        super().__init__()
        self.block = ResBlock(cin + cskip, cout)
        self.mode = mode

    def forward(self, x, skip):
        x = upsample(x, skip.shape[-2:], self.mode)
        return self.block(torch.cat([x, skip], dim=1))


class ResUNet(nn.Module):
    """Residual U-Net colorizer with skips at every scale (strides 16, 8, 4, 2 and 1).

    The decoder runs down to ``head_stride``; the head gives ab there (tanh regression, or the
    annealed mean of a softmax over ab bins) and it is upsampled to the input's size.
    """

    def __init__(self, config: GeneratorConfig | None = None):
        super().__init__()
        self.config = config = config or GeneratorConfig()
        self.encoder = build_encoder(config.encoder, config.encoder_width)
        enc = self.encoder.channels  # strides 2, 4, 8, 16, 32
        skips = (enc[3], enc[2], enc[1], enc[0], 1)  # strides 16, 8, 4, 2, 1 (1 = the input L)
        strides = (16, 8, 4, 2, 1)
        ups, attn = [], {}
        cin = enc[4]
        for stride, cskip, cout in zip(strides, skips, config.decoder_channels):
            if stride < config.head_stride:
                break
            ups.append(UpBlock(cin, cskip, cout, config.upsample))
            if stride == config.attention_stride:
                attn[str(stride)] = SelfAttention(cout)
            cin = cout
        self.decoder = nn.ModuleList(ups)
        self.attention = nn.ModuleDict(attn)
        if config.head == "classes":
            self.head = nn.Conv2d(cin, len(config.ab_bins), 1)
            # (2, Q, 1, 1): the annealed mean is a 1x1 conv over the bin probabilities
            centres = torch.tensor(config.ab_bins, dtype=torch.float32).t().reshape(2, -1, 1, 1)
            self.register_buffer("ab_centres", centres.contiguous())
        else:
            self.head = nn.Conv2d(cin, 2, 3, 1, 1)

    def features(self, L):
        """Decoder features at ``head_stride``."""
        feats = self.encoder((L + 1.0) * 0.5)
        x = feats[4]
        skips = (feats[3], feats[2], feats[1], feats[0], L)
        for stride, up, skip in zip((16, 8, 4, 2, 1), self.decoder, skips):
            x = up(x, skip)
            key = str(stride)
            if key in self.attention:
                x = self.attention[key](x)
        return x

    def logits(self, L):
        """``classes`` head: raw logits (N,Q,H/s,W/s) over the ab bins (for training)."""
        return self.head(self.features(L))

    def decode_logits(self, logits, temperature: float | None = None):
        """Annealed mean at ``head_stride``: softmax(logits / T) weighted sum of the bin centres
        (T: the config's unless given, e.g. by a temperature sweep)."""
        t = self.config.temperature if temperature is None else temperature
        p = torch.softmax(logits * (1.0 / t), dim=1)
        return F.conv2d(p, self.ab_centres)

    def forward(self, L):
        """L in [-1, 1] (N,1,H,W), H and W multiples of 32 -> ab in [-1, 1] (N,2,H,W)."""
        x = self.features(L)
        if self.config.head == "classes":
            ab = self.decode_logits(self.head(x))
        else:
            ab = torch.tanh(self.head(x))
        if self.config.head_stride == 1:
            return ab
        return upsample(ab, L.shape[-2:], self.config.upsample)

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


class UpBlock(nn.Module):
    """Bilinear x2 upsampling, concatenation with the skip, residual block."""

    def __init__(self, cin: int, cskip: int, cout: int):
        super().__init__()
        self.block = ResBlock(cin + cskip, cout)

    def forward(self, x, skip):
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.block(torch.cat([x, skip], dim=1))


class ResUNet(nn.Module):
    """Residual U-Net colorizer with skips at every scale (strides 16, 8, 4, 2 and 1)."""

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
            ups.append(UpBlock(cin, cskip, cout))
            if stride == config.attention_stride:
                attn[str(stride)] = SelfAttention(cout)
            cin = cout
        self.decoder = nn.ModuleList(ups)
        self.attention = nn.ModuleDict(attn)
        self.head = nn.Conv2d(cin, 2, 3, 1, 1)

    def forward(self, L):
        """L in [-1, 1] (N,1,H,W), H and W multiples of 32 -> ab in [-1, 1] (N,2,H,W)."""
        feats = self.encoder((L + 1.0) * 0.5)
        x = feats[4]
        skips = (feats[3], feats[2], feats[1], feats[0], L)
        for stride, up, skip in zip((16, 8, 4, 2, 1), self.decoder, skips):
            x = up(x, skip)
            key = str(stride)
            if key in self.attention:
                x = self.attention[key](x)
        return torch.tanh(self.head(x))

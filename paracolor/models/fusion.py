"""DenseFuse autoencoder and the fusion head used at inference."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import FusionConfig


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, 1, 1)


class DenseFuse(nn.Module):
    """Encoder: conv 3->16, dense block of three 16-wide 3x3 convs (64 channels out).
    Decoder: 64->64->32->16->3, tanh output (Lab in network scale).
    """

    def __init__(self, config: FusionConfig | None = None):
        super().__init__()
        self.config = config = config or FusionConfig()
        c = config.encoder_channels
        self.conv_in = _conv(config.in_channels, c)
        self.dense = nn.ModuleList(_conv(c * (i + 1), c) for i in range(config.dense_layers))
        dec, cin = [], config.feature_channels
        for cout in config.decoder_channels:
            dec.append(_conv(cin, cout))
            cin = cout
        self.decoder_convs = nn.ModuleList(dec)
        self.conv_out = _conv(cin, config.in_channels)
        if config.strategy == "gate":
            # w = sigmoid(conv(relu(conv([f1, f2])))): the order of the inputs matters, unlike in
            # add and l1norm. The last conv starts at zero, so training starts from the mean (w = 0.5)
            self.gate_hidden = _conv(2 * config.feature_channels, config.gate_channels)
            self.gate_out = _conv(config.gate_channels, 1)
            nn.init.zeros_(self.gate_out.weight)
            nn.init.zeros_(self.gate_out.bias)
        if config.output == "residual":
            # a zero correction: the untrained fusion is the 0.5 blend, which already beats either
            # generator alone on FID; training then only has to learn where to depart from it
            nn.init.zeros_(self.conv_out.weight)
            nn.init.zeros_(self.conv_out.bias)

    def encode(self, x):
        feats = [F.relu(self.conv_in(x))]
        for conv in self.dense:
            feats.append(F.relu(conv(torch.cat(feats, dim=1))))
        return torch.cat(feats, dim=1)

    def decode(self, f):
        for conv in self.decoder_convs:
            f = F.relu(conv(f))
        return torch.tanh(self.conv_out(f))

    def fuse_features(self, f1, f2):
        """Combine two feature maps with the configured strategy."""
        if self.config.strategy == "add":
            return f1 + f2
        if self.config.strategy == "gate":
            w1 = self.gate(f1, f2)
        else:  # DenseFuse's l1-norm strategy: activity = channel l1-norm, smoothed over 3x3.
            a1 = F.avg_pool2d(f1.abs().sum(1, keepdim=True), 3, 1, 1, count_include_pad=False)
            a2 = F.avg_pool2d(f2.abs().sum(1, keepdim=True), 3, 1, 1, count_include_pad=False)
            w1 = a1 / (a1 + a2 + 1e-6)
        return w1 * f1 + (1.0 - w1) * f2

    def gate(self, f1, f2):
        """``gate`` strategy: the weight (N,1,H,W) in (0, 1) given to the first input's features."""
        return torch.sigmoid(self.gate_out(F.relu(self.gate_hidden(torch.cat([f1, f2], 1)))))

    def forward(self, x):
        """Reconstruction: decode(encode(x))."""
        return self.decode(self.encode(x))

    def fuse(self, x1, x2):
        """Fused image of two inputs: decode(fuse_features(encode(x1), encode(x2)))."""
        return self.decode(self.fuse_features(self.encode(x1), self.encode(x2)))

    def fuse_ab(self, L, ab1, ab2):
        """Fused ab (N,2,H,W) of two colorizations of L: the decoded ab, or for the ``residual``
        output the inputs' mean ab plus the decoded correction. The mean reads ``ab1``/``ab2``
        themselves, not slices of the encoder inputs, so the exported graph keeps its two encoder
        branches identical (the builder batches them)."""
        ab = self.fuse(torch.cat([L, ab1], 1), torch.cat([L, ab2], 1))[:, 1:3]
        if self.config.output == "residual":
            ab = torch.clamp(0.5 * (ab1 + ab2) + ab, -1.0, 1.0)
        return ab


class FusionHead(nn.Module):
    """Inference wrapper: (L, ab_fg, ab_bg) -> fused ab; the decoded L is dropped.

    The two encoder passes stay separate here (as in the paper); the builder's graph pass
    merges them into one pass over a 2N batch.
    """

    def __init__(self, net: DenseFuse):
        super().__init__()
        self.net = net

    def forward(self, L, ab_fg, ab_bg):
        return self.net.fuse_ab(L, ab_fg, ab_bg)

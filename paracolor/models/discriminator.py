"""PatchGAN discriminator (pix2pix): a 70x70 receptive field with the default 3 layers."""

from __future__ import annotations

from torch import nn

from .config import DiscriminatorConfig


class PatchGAN(nn.Module):
    """Scores overlapping patches of (L, ab) as real or fake; raw scores for the LSGAN loss."""

    def __init__(self, config: DiscriminatorConfig | None = None):
        super().__init__()
        self.config = config = config or DiscriminatorConfig()
        nf = config.base_channels
        layers: list[nn.Module] = [nn.Conv2d(config.in_channels, nf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, config.n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < config.n_layers else 1
            layers += [
                nn.Conv2d(nf * prev, nf * mult, 4, stride, 1, bias=False),
                nn.BatchNorm2d(nf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(nf * mult, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)

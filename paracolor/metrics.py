"""Image quality metrics on RGB arrays (numpy/cv2; no torch): PSNR, SSIM, colourfulness.

Shared by training validation, the engine's reports and evaluation, so every figure in the
project is computed one way. RGB images are float in [0, 1] or uint8 (converted to [0, 1]).
"""

from __future__ import annotations

import cv2
import numpy as np


def _unit(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.dtype == np.uint8:
        return img.astype(np.float64) / 255.0
    if img.dtype == np.uint16:
        return img.astype(np.float64) / 65535.0
    return img.astype(np.float64)


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB on images in [0, data_range] (RGB [0, 1] by default)."""
    mse = float(np.mean((_unit(a) - _unit(b)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(data_range**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    """Mean SSIM with a Gaussian window (sigma 1.5, 11 taps), averaged over channels.

    Matches ``skimage.metrics.ssim(..., gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=1, channel_axis=-1)`` on [0, 1] images.
    """
    x, y = _unit(a), _unit(b)
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2

    def blur(img):
        # skimage truncates its Gaussian at 3.5 sigma (radius 5 for sigma 1.5) -> 11 taps
        return cv2.GaussianBlur(img, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT_101)

    vals = []
    for ch in range(x.shape[-1]):
        p, q = x[..., ch], y[..., ch]
        mp, mq = blur(p), blur(q)
        spp = blur(p * p) - mp * mp
        sqq = blur(q * q) - mq * mq
        spq = blur(p * q) - mp * mq
        s = ((2 * mp * mq + c1) * (2 * spq + c2)) / ((mp**2 + mq**2 + c1) * (spp + sqq + c2))
        pad = 5  # skimage averages over the region the window fits in
        vals.append(s[pad:-pad, pad:-pad].mean() if min(s.shape) > 2 * pad else s.mean())
    return float(np.mean(vals))


def colourfulness(img: np.ndarray) -> float:
    """Hasler-Suesstrunk colourfulness of an RGB image, on the 0-255 scale.

    M = sqrt(std_rg^2 + std_yb^2) + 0.3 * sqrt(mean_rg^2 + mean_yb^2), rg = R - G,
    yb = (R + G) / 2 - B. A grey image scores 0; typical photos score 20-60.
    """
    x = _unit(img) * 255.0
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    return float(np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2))


def summarize(preds: list[np.ndarray], refs: list[np.ndarray]) -> dict:
    """Mean PSNR, SSIM, colourfulness of predictions and references, and the colourfulness gap."""
    if not preds or len(preds) != len(refs):
        raise ValueError("need equally many (at least one) predictions and references")
    cf_p = [colourfulness(p) for p in preds]
    cf_r = [colourfulness(r) for r in refs]
    return {
        "n": len(preds),
        "psnr": float(np.mean([psnr(p, r) for p, r in zip(preds, refs)])),
        "ssim": float(np.mean([ssim(p, r) for p, r in zip(preds, refs)])),
        "colourfulness": float(np.mean(cf_p)),
        "colourfulness_ref": float(np.mean(cf_r)),
        "colourfulness_gap": float(abs(np.mean(cf_r) - np.mean(cf_p))),
    }

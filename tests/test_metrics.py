"""Metrics against hand-computed values and scikit-image."""

import numpy as np
import pytest

from paracolor import metrics


def test_colourfulness_by_hand():
    # two pixels: pure red and pure blue (0-255 scale)
    img = np.array([[[255, 0, 0], [0, 0, 255]]], np.uint8)
    rg = np.array([255.0, 0.0])  # R - G
    yb = np.array([127.5, -255.0])  # (R + G) / 2 - B
    expected = np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    assert metrics.colourfulness(img) == pytest.approx(expected)
    # explicit numbers: std_rg = 127.5, std_yb = 191.25, mean_rg = 127.5, mean_yb = -63.75
    assert expected == pytest.approx(np.hypot(127.5, 191.25) + 0.3 * np.hypot(127.5, 63.75))
    assert metrics.colourfulness(np.full((4, 4, 3), 90, np.uint8)) == 0.0  # grey has none


def test_psnr_ssim_match_scikit_image():
    skm = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 1, (40, 50, 3))
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1)
    assert metrics.psnr(a, b) == pytest.approx(skm.peak_signal_noise_ratio(a, b, data_range=1.0), rel=1e-9)
    ref = skm.structural_similarity(a, b, data_range=1.0, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    assert metrics.ssim(a, b) == pytest.approx(ref, abs=2e-3)
    assert metrics.ssim(a, a) == pytest.approx(1.0)
    assert metrics.psnr(a, a) == float("inf")


def test_summarize_gap():
    grey = [np.full((4, 8, 3), 100, np.uint8)]
    colour = [np.array([[[255, 0, 0], [0, 0, 255]]] * 4, np.uint8).repeat(4, axis=1)]
    s = metrics.summarize(grey, colour)
    assert s["colourfulness"] == 0.0 and s["colourfulness_gap"] == pytest.approx(s["colourfulness_ref"])

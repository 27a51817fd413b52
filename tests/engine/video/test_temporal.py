"""The chroma stabilizer: averages a static shot, follows motion, restarts at cuts."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from paracolor.engine.video.temporal import ChromaStabilizer, CutDetector, TemporalConfig
from paracolor.errors import ConfigError

from .synth import scene

S = 64


def _L_net(grey: np.ndarray) -> np.ndarray:
    return (cv2.resize(grey, (S, S), interpolation=cv2.INTER_AREA).astype(np.float32) / 127.5 - 1.0)[None]


def _ab_of(grey: np.ndarray) -> np.ndarray:
    """A colour that is a function of the texture (as a colorizer's would be), network scale."""
    g = cv2.resize(grey, (S, S), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return np.stack([0.5 * g - 0.25, 0.25 - 0.4 * g]).astype(np.float32)


def test_static_shot_flicker_is_averaged_out():
    rng = np.random.default_rng(0)
    img = scene(S, S, 0)[:S, :S]
    stab = ChromaStabilizer()
    raw, out = [], []
    for _ in range(40):
        ab = _ab_of(img) + rng.normal(0, 0.05, (2, S, S)).astype(np.float32)  # the networks' flicker
        raw.append(ab)
        out.append(stab(_L_net(img), ab))
    change = lambda seq: np.mean([np.abs(b - a).mean() for a, b in zip(seq[10:], seq[11:])])
    assert change(out) < 0.4 * change(raw)  # strength 0.8: the std falls to sqrt(0.2/1.8) = 1/3
    assert stab.cuts == []


def test_motion_is_followed_not_smeared():
    big = scene(2 * S, 2 * S, 3)
    stab = ChromaStabilizer()
    errs, still, prev = [], [], None
    for t in range(20):
        crop = big[t * 2 : t * 2 + S, t * 3 : t * 3 + S]  # a pan of (3, 2) px per frame
        ab = _ab_of(crop)
        out = stab(_L_net(crop), ab)
        errs.append(np.abs(out - ab)[:, 8:-8, 8:-8].mean())  # the true colour moves with the texture
        if prev is not None:
            still.append(np.abs(ab - prev)[:, 8:-8, 8:-8].mean())  # what a plain average would smear
        prev = ab
    assert stab.cuts == []
    assert stab.last_weight > 0.4  # the history was used (not simply dropped), along the motion
    assert np.mean(errs[1:]) < 0.25 * np.mean(still)


def test_cut_restarts_the_average():
    a, b = scene(S, S, 1)[:S, :S], scene(S, S, 2)[:S, :S]
    stab = ChromaStabilizer()
    for _ in range(8):
        stab(_L_net(a), _ab_of(a))
    ab_b = _ab_of(b) + 0.3  # a shot with quite other colours
    out = stab(_L_net(b), ab_b)
    assert stab.cuts == [8]
    np.testing.assert_array_equal(out, ab_b)  # nothing of the previous shot carried over


def test_cut_between_similar_shots_is_found_by_the_jump():
    det = CutDetector(TemporalConfig())
    assert not any(det(0.02 + 0.005 * (i % 3), 0.04) for i in range(10))
    assert det(0.19, 0.30)  # far below the absolute limits, but 8x the shot's level
    assert not det(0.03, 0.05)  # a new shot: no mean yet, only the absolute limits


def test_config_checked():
    with pytest.raises(ConfigError):
        TemporalConfig(strength=1.0)

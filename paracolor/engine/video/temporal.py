"""Temporal chroma stabilization: a motion-compensated, match-weighted running average of the
networks' ab over the frames of a shot, reset at scene cuts (docs/video.md).

Per-frame colorization flickers: the generators see each frame afresh, and grain, small motion
or exposure changes move their colour decisions. The lightness is the source's and is left
alone; only ab (at the network's size, before upsampling) is filtered:

    flow      = DIS optical flow from this frame's L to the previous frame's L
    history   = previous *stabilized* ab, warped to this frame along the flow
    match     = exp(-(e / match_sigma)^2), e = local mean |L - warped previous L| (blurred L)
    weight    = strength * match          (0 outside the previous frame)
    ab_out    = weight * history + (1 - weight) * ab_now

On a static scene this is an exponential average with time constant 1 / (1 - strength) frames;
where motion is followed the colour moves with the object; where it is not (occlusions, new
objects, lighting changes) the match is poor and the frame's own colour wins, so nothing smears.
A scene cut (:class:`CutDetector`: lightness histograms far apart, or too many pixels unmatched
after motion compensation) restarts the average from the frame's own colour.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...errors import ConfigError


@dataclass
class TemporalConfig:
    """Parameters of the stabilizer (the defaults are documented in docs/video.md)."""

    enabled: bool = True
    strength: float = 0.8  # largest weight of the history: a 5-frame time constant on static shots
    match_sigma: float = 6.0  # local L mismatch (8-bit L levels, 2.35 Lab L units) at which the weight falls to 1/e
    cut_histogram: float = 0.45  # Bhattacharyya distance of 64-bin L histograms that is always a cut
    cut_unmatched: float = 0.7  # share of pixels unmatched after motion compensation that is always a cut
    cut_jump: float = 4.0  # ...and a cut when either signal jumps to this many times its mean over the shot
    cut_floor: tuple[float, float] = (0.08, 0.15)  # (histogram, unmatched) below which no jump counts (noise)

    def __post_init__(self):
        if not 0.0 <= self.strength < 1.0:
            raise ConfigError(f"temporal strength must be within [0, 1), got {self.strength}")
        if self.match_sigma <= 0:
            raise ConfigError("match_sigma must be positive")


def to_L8(L_net: np.ndarray) -> np.ndarray:
    """Network-scaled L ((1,) S, S in [-1, 1]) -> uint8 plane, the flow's input."""
    L = np.asarray(L_net, np.float32).reshape(L_net.shape[-2:])
    return cv2.convertScaleAbs(L, alpha=127.5, beta=127.5)


def histogram(L8: np.ndarray) -> np.ndarray:
    h = cv2.calcHist([L8], [0], None, [64], [0, 256])
    return cv2.normalize(h, h, 1.0, 0.0, cv2.NORM_L1)


class Flow:
    """Dense optical flow (OpenCV's DIS) and warping along it; one instance per thread."""

    def __init__(self, preset: int = cv2.DISOPTICAL_FLOW_PRESET_FAST):
        self._dis = cv2.DISOpticalFlow_create(preset)
        self._grid: tuple[np.ndarray, np.ndarray] | None = None

    def backward(self, cur: np.ndarray, prev: np.ndarray) -> np.ndarray:
        """For every pixel of ``cur``, the (dx, dy) to where it was in ``prev`` (H, W, 2)."""
        return self._dis.calc(cur, prev, None)

    def maps(self, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h, w = flow.shape[:2]
        if self._grid is None or self._grid[0].shape != (h, w):
            self._grid = tuple(np.indices((h, w), dtype=np.float32)[::-1])
        gx, gy = self._grid
        return gx + flow[..., 0], gy + flow[..., 1]

    @staticmethod
    def warp(img: np.ndarray, mx: np.ndarray, my: np.ndarray) -> np.ndarray:
        return cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    @staticmethod
    def inside(mx: np.ndarray, my: np.ndarray) -> np.ndarray:
        h, w = mx.shape
        return (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)


class CutDetector:
    """Scene cuts from two signals per frame pair: the Bhattacharyya distance of the lightness
    histograms and the share of pixels that the motion-compensated previous frame does not
    match. A cut is either signal above its absolute limit, or jumping to ``cut_jump`` times its
    running mean over the current shot (similar-looking shots cut together stay apart). A false
    cut only restarts the average for one frame; a missed one would carry colour across shots,
    so the test leans towards cuts."""

    def __init__(self, cfg: TemporalConfig):
        self.cfg = cfg
        self.reset()

    def reset(self):
        self._mean: list[float] | None = None

    def __call__(self, hist_distance: float, unmatched: float) -> bool:
        c = self.cfg
        cut = hist_distance > c.cut_histogram or unmatched > c.cut_unmatched
        if not cut and self._mean is not None:
            cut = any(v > max(floor, c.cut_jump * m) for v, m, floor in zip((hist_distance, unmatched), self._mean, c.cut_floor))
        if cut:
            self.reset()
        elif self._mean is None:
            self._mean = [hist_distance, unmatched]
        else:  # a slow running mean: a shot's typical level, not the last frame's
            self._mean = [0.9 * m + 0.1 * v for m, v in zip(self._mean, (hist_distance, unmatched))]
        return cut


class ChromaStabilizer:
    """The running average of one video, fed frame by frame in order (one per video)."""

    def __init__(self, cfg: TemporalConfig | None = None):
        self.cfg = cfg or TemporalConfig()
        self.flow = Flow()
        self.detect = CutDetector(self.cfg)
        self._prev: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # (blurred L8, hist, stabilized ab (S,S,2))
        self.cuts: list[int] = []  # frame indices that started a new shot
        self.frames = 0
        self.last_weight = 0.0  # mean history weight of the last frame (for reports)

    def __call__(self, L_net: np.ndarray, ab_net: np.ndarray) -> np.ndarray:
        """This frame's network L ((1,) S, S) and ab (2, S, S) -> stabilized ab (2, S, S)."""
        cfg = self.cfg
        L8 = cv2.GaussianBlur(to_L8(L_net), (5, 5), 1.2)  # grain is not structure: match on blurred L
        hist = histogram(L8)
        ab = np.ascontiguousarray(np.asarray(ab_net, np.float32).transpose(1, 2, 0))
        index, self.frames = self.frames, self.frames + 1
        out, weight = ab, None
        if self._prev is not None:
            prev_L8, prev_hist, prev_ab = self._prev
            mx, my = self.flow.maps(self.flow.backward(L8, prev_L8))
            err = cv2.blur(cv2.absdiff(L8, self.flow.warp(prev_L8, mx, my)).astype(np.float32), (5, 5))
            inside = self.flow.inside(mx, my)
            unmatched = 1.0 - float(np.mean((err < cfg.match_sigma) & inside))
            if self.detect(cv2.compareHist(prev_hist, hist, cv2.HISTCMP_BHATTACHARYYA), unmatched):
                self.cuts.append(index)
            else:
                weight = (cfg.strength * np.exp(-((err / cfg.match_sigma) ** 2))) * inside
                out = ab + weight[..., None] * (self.flow.warp(prev_ab, mx, my) - ab)
        self.last_weight = float(weight.mean()) if weight is not None else 0.0
        self._prev = (L8, hist, out)
        return np.ascontiguousarray(out.transpose(2, 0, 1))

"""CIE Lab colour space and the networks' L/ab scaling: the only place these constants live.

Training (dataset code) and the engine (pre/post-processing) both call this module, so the
scaling seen by the networks at inference is by construction the one they were trained on.

Conventions (OpenCV's float Lab, D65 white, sRGB gamma):
    L in [0, 100], a and b roughly in [-110, 110] for sRGB colours.
    Network input  ``L_net  = L / L_SCALE - 1``      -> [-1, 1]
    Network output ``ab_net = ab / AB_SCALE``        -> [-1, 1] (tanh range)
"""

from __future__ import annotations

import cv2
import numpy as np

from . import lab_tables

L_SCALE = 50.0
AB_SCALE = 110.0
#: OpenCV's 8-bit Lab stores L * 255 / 100 and a + 128, b + 128.
L8_SCALE = 255.0 / 100.0
AB8_OFFSET = 128.0


def constants() -> dict:
    """The scaling constants, as stored in model metadata so a deployment can check them."""
    return {
        "space": "CIELab-D65-sRGB (OpenCV float)",
        "L_scale": L_SCALE,
        "L_offset": -1.0,
        "ab_scale": AB_SCALE,
    }


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """Float RGB in [0, 1] (H, W, 3) -> float32 Lab (H, W, 3)."""
    return cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.float32), cv2.COLOR_RGB2Lab)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """Float32 Lab (H, W, 3) -> RGB clipped to [0, 1]."""
    rgb = cv2.cvtColor(np.ascontiguousarray(lab, dtype=np.float32), cv2.COLOR_Lab2RGB)
    return np.clip(rgb, 0.0, 1.0, out=rgb)


def L_to_net(L: np.ndarray) -> np.ndarray:
    """Lightness in [0, 100] -> network input in [-1, 1] (float32)."""
    return (np.asarray(L, dtype=np.float32) / L_SCALE - 1.0).astype(np.float32, copy=False)


def net_to_L(L_net: np.ndarray) -> np.ndarray:
    """Network-scaled lightness -> [0, 100]."""
    return (np.asarray(L_net, dtype=np.float32) + 1.0) * L_SCALE


def ab_to_net(ab: np.ndarray) -> np.ndarray:
    """Chroma in Lab units -> network scale, clipped to [-1, 1] (float32)."""
    return np.clip(np.asarray(ab, dtype=np.float32) / AB_SCALE, -1.0, 1.0)


def net_to_ab(ab_net: np.ndarray) -> np.ndarray:
    """Network-scaled chroma -> Lab units (float32)."""
    return np.asarray(ab_net, dtype=np.float32) * AB_SCALE


def rgb_to_net(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float RGB in [0, 1] (H, W, 3) -> (L_net (1, H, W), ab_net (2, H, W)), channels first."""
    lab = rgb_to_lab(rgb)
    return L_to_net(lab[..., 0])[None], ab_to_net(lab[..., 1:]).transpose(2, 0, 1)


def net_to_rgb(L_net: np.ndarray, ab_net: np.ndarray) -> np.ndarray:
    """(L_net (1, H, W), ab_net (2, H, W)) -> float RGB in [0, 1] (H, W, 3)."""
    lab = np.concatenate([net_to_L(L_net), net_to_ab(ab_net)], axis=0).transpose(1, 2, 0)
    return lab_to_rgb(lab)


def L8_to_net(L8: np.ndarray) -> np.ndarray:
    """OpenCV 8-bit Lab lightness (L * 255 / 100) -> network input in [-1, 1]."""
    return (np.asarray(L8, dtype=np.float32) * np.float32(1.0 / (L8_SCALE * L_SCALE)) - 1.0).astype(np.float32)


def ab_net_to_ab8(ab_net: np.ndarray) -> np.ndarray:
    """Network chroma (2, H, W) -> OpenCV 8-bit Lab a/b (H, W, 2) uint8 (a + 128, b + 128).

    ab_net is within [-1, 1] (tanh), so a + 128 stays within [18, 238]: no wrap-around.
    """
    ab = np.ascontiguousarray(np.asarray(ab_net, dtype=np.float32).transpose(1, 2, 0))
    return cv2.convertScaleAbs(ab, alpha=AB_SCALE, beta=AB8_OFFSET)


def lab8_to_bgr(L8: np.ndarray, ab8: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """8-bit L (H, W) and a/b (H, W, 2) -> uint8 BGR, reusing the original L byte for byte.

    Exactly OpenCV's 8-bit Lab->BGR: large images go through :mod:`paracolor.lab_tables`
    (the same bytes, 4-5x faster), others through ``cv2.cvtColor``. ``out``: a contiguous
    (H, W, 3) uint8 array to write into (a caller's reused buffer), else a new one.
    """
    out = lab_tables.bgr_out(L8.shape, out)  # one check for both paths
    if L8.size >= lab_tables.MIN_PIXELS and lab_tables.available():
        return lab_tables.lab8_to_bgr(np.ascontiguousarray(L8), np.ascontiguousarray(ab8), out)
    lab = cv2.merge([L8, ab8], dst=out)
    # in place: a second full-size output buffer costs more in page faults than the conversion
    # itself saves (6 MP: 34 -> 18 ms for the whole finishing step)
    return cv2.cvtColor(lab, cv2.COLOR_Lab2BGR, dst=lab)


def rgb8_to_L8(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> OpenCV's 8-bit Lab L (L * 255 / 100), a contiguous plane.

    Large images go through :mod:`paracolor.lab_tables` (the same bytes, about 4x faster than
    the full three-channel conversion OpenCV would do for one channel).
    """
    if rgb.shape[0] * rgb.shape[1] >= lab_tables.MIN_PIXELS and lab_tables.available():
        return lab_tables.rgb8_to_L8(rgb)
    return cv2.extractChannel(cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab), 0)


def lab_to_bgr16(L: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """Float L (H, W) in [0, 100] and ab (H, W, 2) in Lab units -> uint16 BGR (16-bit photos)."""
    lab = cv2.merge([np.asarray(L, np.float32), ab[..., 0].astype(np.float32), ab[..., 1].astype(np.float32)])
    bgr = cv2.cvtColor(lab, cv2.COLOR_Lab2BGR, dst=lab)
    return (np.clip(bgr, 0.0, 1.0, out=bgr) * 65535.0 + 0.5).astype(np.uint16)

"""The right-edge band statistic: output chroma along the right vs left edges (of the image, and
of its dark regions), with the truth's own figures beside.

A colorizer with no spatial bias gives the same chroma on both sides of dark regions (the
truth's own ratio is printed beside). Dark = input lightness L < 25 (Lab, of 100); the right
band is the dark pixels within 6 px of the region's right boundary, the left band likewise.
The first default model's decoder upsampled with align_corners=False while its encoder's
strided convs centre samples at 2i: deep features landed up to 15.5 px to the right.

Usage: python benchmarks/edge_band.py PHOTOS [--model DIR ...] [--limit 50] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from paracolor import colorspace
from paracolor.bench.harness import environment
from paracolor.engine.io import find_images, read_image
from paracolor.engine.pipeline import Colorizer, EngineConfig

DARK_L, BAND = 25.0, 6
#: the image's outermost 4 columns / rows: stride-2 convs with padding 1 pad only the top and
#: left of an even-sized input, so a biased network colours the right and bottom differently
BORDERS = {"right": np.s_[:, -4:], "left": np.s_[:, :4], "bottom": np.s_[-4:, :], "top": np.s_[:4, :]}


def bands(L: np.ndarray, outside: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(right band, left band) masks along the dark regions of lightness ``L`` (0-100):
    inside them (dark pixels within BAND px of the boundary) or, with ``outside``, the
    brighter pixels within BAND px beyond it."""
    dark = L < DARK_L
    inner = ~dark if outside else dark
    right = np.zeros_like(dark)
    left = np.zeros_like(dark)
    for k in range(1, BAND + 1):
        if outside:  # bright pixel with a dark pixel k to its left: right of a dark region
            right[:, k:] |= inner[:, k:] & dark[:, :-k]
            left[:, :-k] |= inner[:, :-k] & dark[:, k:]
        else:  # dark pixel with a bright pixel k to its right: its region's right edge
            right[:, :-k] |= dark[:, :-k] & ~dark[:, k:]
            left[:, k:] |= dark[:, k:] & ~dark[:, :-k]
    return right, left


def chroma(bgr: np.ndarray) -> np.ndarray:
    lab = colorspace.rgb_to_lab(bgr[..., ::-1].astype(np.float32) / 255.0)
    return np.hypot(lab[..., 1], lab[..., 2])


def measure(photos: list[Path], model_dir: str | None) -> dict:
    sums = {k: 0.0 for k in ("in_r", "in_l", "out_r", "out_l", "t_in_r", "t_in_l", "t_out_r", "t_out_l")}
    with Colorizer(EngineConfig(model_dir=model_dir)) as col:
        for p in photos:
            img = read_image(p)
            truth = np.ascontiguousarray(img.pixels[..., ::-1])  # 8-bit BGR
            L = img.lab_L()
            out = col.colorize([img])[0].bgr
            c, ct = chroma(out), chroma(truth)
            for name, sl in BORDERS.items():
                sums[f"border_{name}"] = sums.get(f"border_{name}", 0.0) + float(c[sl].mean()) / len(photos)
                sums[f"t_border_{name}"] = sums.get(f"t_border_{name}", 0.0) + float(ct[sl].mean()) / len(photos)
            for side, outside in (("in", False), ("out", True)):
                right, left = bands(L, outside)
                sums[f"{side}_r"] += c[right].sum()
                sums[f"{side}_l"] += c[left].sum()
                sums[f"t_{side}_r"] += ct[right].sum()
                sums[f"t_{side}_l"] += ct[left].sum()
                sums[f"n_{side}_r"] = sums.get(f"n_{side}_r", 0) + int(right.sum())
                sums[f"n_{side}_l"] = sums.get(f"n_{side}_l", 0) + int(left.sum())
    row = {"model": model_dir or "bundled default", "photos": len(photos)}
    for side in ("in", "out"):
        for lr in ("r", "l"):
            n = max(sums[f"n_{side}_{lr}"], 1)
            row[f"{side}side_{'right' if lr == 'r' else 'left'}"] = sums[f"{side}_{lr}"] / n
            row[f"truth_{side}side_{'right' if lr == 'r' else 'left'}"] = sums[f"t_{side}_{lr}"] / n
    for name in BORDERS:
        row[f"border_{name}"], row[f"truth_border_{name}"] = sums[f"border_{name}"], sums[f"t_border_{name}"]
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photos")
    ap.add_argument("--model", action="append", default=None, help="model folder (repeatable; default: bundled)")
    ap.add_argument("--limit", type=int, default=50)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    photos = [p for p, _ in find_images([args.photos])][: args.limit]
    rows = [measure(photos, m) for m in (args.model or [None])]
    for r in rows:
        print(f"{r['model']} (image borders, 4 px): right {r['border_right']:.2f} left {r['border_left']:.2f} bottom {r['border_bottom']:.2f} "
              f"top {r['border_top']:.2f} (truth {r['truth_border_right']:.2f} / {r['truth_border_left']:.2f} / {r['truth_border_bottom']:.2f} / {r['truth_border_top']:.2f})")
        for side in ("in", "out"):
            print(f"{r['model']} ({side}side dark regions): right {r[side + 'side_right']:.2f}  left {r[side + 'side_left']:.2f}  "
                  f"(truth {r['truth_' + side + 'side_right']:.2f} / {r['truth_' + side + 'side_left']:.2f}; {r['photos']} photos)")
    if args.out:
        meta = {"environment": environment(), "photos": args.photos, "command": "python " + " ".join(sys.argv)}
        Path(args.out).write_text(json.dumps({**meta, "rows": rows}, indent=1, default=float))


if __name__ == "__main__":
    main()

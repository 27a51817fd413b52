"""Colour blotches in flat regions (skies, walls): how much the output's chroma varies where the
input's lightness is flat, against the truth's own variation there.

A flat sky in the truth has nearly constant ab; a colorizer that paints it in patches of
different hue ("rainbow blotches") shows ab varying across the patch borders although L does
not. Flat = local standard deviation of L (Lab, 0-100) under FLAT_STD in a 9 px window, L above
DARK_L, eroded by 4 px so that object edges do not count. Over those pixels the statistic is the
local ab spread, sqrt(var a + var b) in a window of 9 px (patch borders) and 33 px (patches),
averaged; with the truth's figure beside (its own gradients and clouds). The blotch share is
the fraction of flat pixels whose 33 px spread exceeds 6 Lab units (a visible hue change
within about a tenth of a 256 px photo) while the truth's there does not.

Usage: python benchmarks/flat_chroma.py PHOTOS [--model DIR ...] [--limit 100] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from paracolor import colorspace
from paracolor.bench.harness import environment
from paracolor.engine.io import find_images, read_image
from paracolor.engine.pipeline import Colorizer, EngineConfig

FLAT_STD, DARK_L, BLOTCH = 1.0, 30.0, 6.0
WINDOWS = (9, 33)


def local_std(x: np.ndarray, k: int) -> np.ndarray:
    m = cv2.blur(x, (k, k), borderType=cv2.BORDER_REFLECT)
    return np.sqrt(np.maximum(cv2.blur(x * x, (k, k), borderType=cv2.BORDER_REFLECT) - m * m, 0.0))


def flat_mask(L: np.ndarray) -> np.ndarray:
    flat = ((local_std(L, 9) < FLAT_STD) & (L > DARK_L)).astype(np.uint8)
    return cv2.erode(flat, np.ones((9, 9), np.uint8)).astype(bool)


def ab_spread(bgr: np.ndarray, k: int) -> np.ndarray:
    lab = colorspace.rgb_to_lab(bgr[..., ::-1].astype(np.float32) / 255.0)
    a, b = np.ascontiguousarray(lab[..., 1]), np.ascontiguousarray(lab[..., 2])
    return np.sqrt(local_std(a, k) ** 2 + local_std(b, k) ** 2)


def measure(photos: list[Path], model_dir: str | None) -> dict:
    tot = {f"{w}_{k}": 0.0 for w in ("out", "truth") for k in WINDOWS} | {"blotch": 0.0}
    n = 0
    with Colorizer(EngineConfig(model_dir=model_dir)) as col:
        for p in photos:
            img = read_image(p)
            truth = np.ascontiguousarray(img.pixels[..., ::-1])  # 8-bit BGR
            mask = flat_mask(img.lab_L().astype(np.float32))
            if not mask.any():
                continue
            out = col.colorize([img])[0].bgr
            for k in WINDOWS:
                so, st = ab_spread(out, k)[mask], ab_spread(truth, k)[mask]
                tot[f"out_{k}"] += float(so.sum())
                tot[f"truth_{k}"] += float(st.sum())
                if k == WINDOWS[-1]:
                    tot["blotch"] += float(((so > BLOTCH) & (st <= BLOTCH)).sum())
            n += int(mask.sum())
    row = {"model": model_dir or "bundled default", "photos": len(photos), "flat_pixels": n}
    row |= {k: v / max(n, 1) for k, v in tot.items()}
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photos")
    ap.add_argument("--model", action="append", default=None, help="model folder (repeatable; default: bundled)")
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    photos = [p for p, _ in find_images([args.photos])][: args.limit]
    rows = [measure(photos, m) for m in (args.model or [None])]
    for r in rows:
        spreads = "  ".join(f"{k} px: {r[f'out_{k}']:.2f} (truth {r[f'truth_{k}']:.2f})" for k in WINDOWS)
        print(f"{r['model']}: ab spread in flat regions  {spreads};  blotch share {100 * r['blotch']:.1f} % "
              f"({r['flat_pixels']} flat pixels in {r['photos']} photos)")
    if args.out:
        meta = {"environment": environment(), "photos": args.photos, "command": "python " + " ".join(sys.argv)}
        Path(args.out).write_text(json.dumps({**meta, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()

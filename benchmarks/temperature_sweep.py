"""Annealed-mean temperature of classes-head generators: PSNR and colourfulness against T.

The logits are computed once per photo at 256 px; each temperature only re-decodes them, so a
sweep costs about one forward pass per photo and generator. Low T picks the mode (vivid,
riskier colours, lower PSNR); T = 1 is the plain mean (muted, L1-like).

Usage: python benchmarks/temperature_sweep.py DATA_DIR GEN.safetensors [GEN ...] [--t 0.3 --t 0.38 ...] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from paracolor import colorspace, metrics
from paracolor.engine.io import find_images, read_image
from paracolor.models.checkpoint import load_model
from paracolor.models.generator import upsample

SETS = ("objects", "scenes", "coco")


def sweep(gen, photos, temps, size=256, batch=8, keep: bool = False) -> dict:
    """Per temperature: psnr, colourfulness, colourfulness_ref, gap; and the grey baseline.
    With ``keep`` the images themselves come back too (``preds``, ``refs``, ``grey_images``)."""
    cfg = gen.config
    preds = {t: [] for t in temps}
    refs, greys = [], []
    for i in range(0, len(photos), batch):
        Ls = []
        for p in photos[i : i + batch]:
            rgb = cv2.resize(read_image(p).rgb, (size, size), interpolation=cv2.INTER_AREA)
            L, ab = colorspace.rgb_to_net(rgb)
            Ls.append(L)
            refs.append(colorspace.net_to_rgb(L, ab))
            greys.append(colorspace.net_to_rgb(L, np.zeros_like(ab)))
        L = torch.from_numpy(np.stack(Ls))
        with torch.no_grad():
            logits = gen.logits(L)
            for t in temps:
                ab = upsample(gen.decode_logits(logits, t), L.shape[-2:], cfg.upsample).numpy()
                preds[t] += [colorspace.net_to_rgb(Ls[k], ab[k]) for k in range(len(Ls))]
    out = {str(t): metrics.summarize(preds[t], refs) for t in temps}
    out["grey"] = metrics.summarize(greys, refs)
    if keep:
        out.update(preds=preds, refs=refs, grey_images=greys)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("generators", nargs="+")
    ap.add_argument("--t", dest="temps", type=float, action="append", default=None)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    temps = args.temps or [0.3, 0.38, 0.5, 0.65, 0.8, 1.0]
    result = {"date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(), "temperatures": temps, "generators": {}}
    for path in args.generators:
        gen = load_model(path, expect_kind="generator").float().eval()
        if gen.config.head != "classes":
            raise SystemExit(f"{path}: not a classes-head generator")
        result["generators"][path] = {}
        for name in SETS:
            photos = [p for p, _ in find_images([str(Path(args.data) / "val" / name)])][: args.limit]
            res = sweep(gen, photos, temps)
            result["generators"][path][name] = res
            g = res["grey"]
            print(f"{path} val/{name} ({len(photos)}): grey psnr {g['psnr']:.2f}, truth colourfulness {g['colourfulness_ref']:.1f}")
            for t in temps:
                r = res[str(t)]
                print(f"  T={t:<5} psnr {r['psnr']:.2f} ({r['psnr'] - g['psnr']:+.2f})  colourfulness {r['colourfulness']:.1f}  gap {r['colourfulness_gap']:.1f}", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

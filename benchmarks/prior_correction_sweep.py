"""Prior correction of a classes-head generator: FID, PSNR and colourfulness against beta.

Training with class rebalancing teaches the head a posterior tilted towards rare colours by the
weights w (q(c|x) ~ w(c) p(c|x)). Decoding ``logits - beta * log w`` undoes a share beta of that
tilt (logit adjustment, Menon et al. 2021): beta = 0 keeps the rebalanced (vivid) posterior,
beta = 1 recovers the plain one (muted, higher PSNR). It is a bias on the head's last conv, so it
ships inside the graphs at no cost. Grey baseline beside; FID against each set's originals.

Usage: python benchmarks/prior_correction_sweep.py DATA_DIR GEN.safetensors PRIOR.json [--beta 0 --beta 0.25 ...] [--out F.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path


from paracolor.engine.io import find_images
from paracolor.eval.fid import InceptionFeatures, frechet_distance, statistics
from paracolor.models.checkpoint import load_model
from paracolor.train.colour_prior import ColourPrior, correct_head

try:
    from temperature_sweep import SETS, sweep
except ImportError:  # run as a module from the repository root
    from benchmarks.temperature_sweep import SETS, sweep


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("generator")
    ap.add_argument("prior")
    ap.add_argument("--beta", type=float, action="append", default=None)
    ap.add_argument("--temperature", type=float, default=None, help="default: the generator's")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    betas = args.beta or [0.0, 0.25, 0.5]
    gen = load_model(args.generator, expect_kind="generator").float().eval()
    prior, base = ColourPrior.load(args.prior), gen.head.bias.data.clone()
    t = args.temperature or gen.config.temperature
    inception = InceptionFeatures()
    result = {"date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(), "generator": args.generator,
              "temperature": t, "betas": betas, "sets": {}}
    for name in args.sets.split(","):
        photos = [p for p, _ in find_images([str(Path(args.data) / "val" / name)])][: args.limit]
        rows = {}
        for beta in betas:
            gen.head.bias.data = base.clone()
            try:
                correct_head(gen, prior, beta)
            except ValueError as exc:
                raise SystemExit(f"{args.prior}: {exc}") from None
            res = sweep(gen, photos, [t], keep=True)
            if "ref_stats" not in rows:
                rows["ref_stats"] = statistics(inception(res["refs"]))
                grey = res["grey"]
                grey["fid"] = frechet_distance(*statistics(inception(res["grey_images"])), *rows["ref_stats"])
                rows["grey"] = grey
            r = res[str(t)]
            r["fid"] = frechet_distance(*statistics(inception(res["preds"][t])), *rows["ref_stats"])
            rows[str(beta)] = r
            g = rows["grey"]
            print(f"val/{name} ({len(photos)}) beta {beta}: FID {r['fid']:.1f} (grey {g['fid']:.1f}, x{r['fid'] / g['fid']:.2f})  "
                  f"PSNR {r['psnr'] - g['psnr']:+.2f} dB vs grey  colourfulness {r['colourfulness']:.1f} / truth {r['colourfulness_ref']:.1f}", flush=True)
        rows.pop("ref_stats")
        result["sets"][name] = rows
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

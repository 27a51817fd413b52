"""The paper's Tables I, IV and V at this project's scale (CPU), with the commands that made them.

Table I: FID, PSNR, SSIM and colourfulness of the bundled model (``--model``), of earlier
  models (``--compare NAME=DIR``, e.g. the first default model) and of the grey baseline on
  the three validation sets.
Table IV: the edge-loss weight lambda1 in {0, 0.5, 1.0} against SSIM of the foreground outputs.
  Each is a short adversarial run of the foreground generator from the given pre-trained
  weights (same seed, data and length), validated on val/objects. For a classes-head
  generator (the default since the second model) the reconstruction term is its rebalanced
  cross-entropy (``--l1-weight`` weighs it), so lambda1 is measured on top of that recipe.
Table V: fixed blends alpha * fg + (1 - alpha) * bg, alpha in {0, 0.5, 1}, against the fusion
  network (FID, and PSNR/SSIM/colourfulness) on the validation sets, with the bundled model.

Usage: python benchmarks/ablations.py DATA_DIR PRETRAINED_FG [--epochs 1] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path


def run(cmd: list[str]) -> None:
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("pretrained_fg")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--max-steps", type=int, default=None, help="cut each Table IV run short (steps of 16 images)")
    ap.add_argument("--limit", type=int, default=None, help="photos per validation set for Table V")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--runs", default="runs/ablation")
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--skip-table4", action="store_true")
    ap.add_argument("--skip-table5", action="store_true")
    ap.add_argument("--skip-table1", action="store_true")
    ap.add_argument("--model", default=None, help="model folder for Tables I and V (default: bundled)")
    ap.add_argument("--compare", action="append", default=[], help="NAME=MODEL_DIR rows for Table I (repeatable)")
    ap.add_argument("--l1-weight", default="10", help="Table IV: weight of the reconstruction term")
    ap.add_argument("--rebalance", default="auto", help="Table IV: rebalancing lambda of the reconstruction term; 'auto': the pre-training run's "
                    "(its config.json beside PRETRAINED_FG; off when there is none), 'off': none")
    ap.add_argument("--gan-lr", default=None, help="Table IV: adversarial learning rate (default: the paper's 2e-4)")
    ap.add_argument("--stem", default=None, help="file-name stem (default: date-hostname)")
    args = ap.parse_args()
    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = args.stem or f"{time.strftime('%Y-%m-%d')}-{platform.node()}"
    model = ["--model", args.model] if args.model else []
    pc = [sys.executable, "-m", "paracolor.cli"]
    commands = []

    if not args.skip_table4:
        rows = []
        # continue the generator's own recipe: its pre-training run's photo sets (found under DATA/train by name) and
        # rebalancing, read from the config.json beside it; without one, train/objects and no rebalancing (the paper's)
        run_dir = Path(args.pretrained_fg).parent
        init_cfg = json.loads((run_dir / "config.json").read_text()) if (run_dir / "config.json").is_file() else {}
        fg_sets = [data / "train" / Path(d).name for d in init_cfg.get("train_dirs", [])] or [data / "train" / "objects"]
        train_dirs = [a for d in fg_sets for a in ("--train", str(d))]
        rebalance = args.rebalance if args.rebalance != "auto" else init_cfg.get("rebalance")
        for lam in (0.0, 0.5, 1.0):
            rd = Path(args.runs) / f"edge{lam}"
            cmd = pc + ["train", "gan", "--role", "fg", "--init", args.pretrained_fg, "--l1-weight", args.l1_weight, "--edge-weight", str(lam),
                        *train_dirs, "--val", str(data / "val" / "objects"), "-o", str(rd),
                        "--epochs", str(args.epochs), "--size", str(args.size), "--batch-size", "16", "--workers", "1", "--seed", "0", "--no-resume"]
            if args.gan_lr:
                cmd += ["--lr", args.gan_lr]
            if rebalance not in (None, "off"):
                cmd += ["--rebalance", str(rebalance)]
            if args.max_steps:
                cmd += ["--max-steps", str(args.max_steps)]
            commands.append(" ".join(cmd[3:]))
            t0 = time.perf_counter()
            run(cmd)
            last = json.loads((rd / "log.jsonl").read_text().splitlines()[-1])
            rows.append({"lambda1": lam, "ssim": last["ssim"], "psnr": last["psnr"], "colourfulness": last["colourfulness"], "colourfulness_gap": last["colourfulness_gap"], "minutes": (time.perf_counter() - t0) / 60})
        table = ["| lambda1 | SSIM (fg outputs) | PSNR dB | colourfulness gap |", "|---|---|---|---|"]
        table += [f"| {r['lambda1']} | {r['ssim']:.4f} | {r['psnr']:.2f} | {r['colourfulness_gap']:.2f} |" for r in rows]
        length = f"{args.max_steps} steps of 16 images" if args.max_steps else f"{args.epochs} adversarial epoch(s)"
        note = (f"Foreground generator, {length} at {args.size} px from the default recipe's pre-trained weights, "
                f"seed 0, on {' + '.join('train/' + d.name for d in fg_sets)} (photos + object crops); validated on val/objects (50). Paper: lambda1 = 1.0 best.")
        (out / f"{stem}-table4.md").write_text("# Table IV at this project's scale\n\n" + note + "\n\n" + "\n".join(table) + "\n\nCommands:\n\n" + "\n".join(f"    paracolor {c}" for c in commands) + "\n")
        (out / f"{stem}-table4.json").write_text(json.dumps({"rows": rows, "note": note, "commands": commands}, indent=1))
        print("\n".join(table))

    if not args.skip_table5:
        results = {}
        md = ["# Table V at this project's scale", "", "Bundled default model; alpha * fg + (1 - alpha) * bg blends in ab against the fusion network.", ""]
        for name in ("coco", "objects", "scenes"):
            ed = Path(args.runs) / f"table5-{name}"
            cmd = pc + ["evaluate", str(data / "val" / name), "-o", str(ed), *model, "--variant", "fusion", "--variant", "blend:0", "--variant", "blend:0.5", "--variant", "blend:1", "--name", "paracolor"]
            if args.limit:
                cmd += ["--limit", str(args.limit)]
            run(cmd)
            md += [f"## val/{name}", "", (ed / "evaluation.md").read_text(), f"Command: `paracolor {' '.join(cmd[3:])}`", ""]
            results[name] = json.loads((ed / "evaluation.json").read_text())["rows"]
        (out / f"{stem}-table5.md").write_text("\n".join(md))
        (out / f"{stem}-table5.json").write_text(json.dumps(results, indent=1))

    if not args.skip_table1:
        rows = {}
        models = [("paracolor (bundled)" if not args.model else f"paracolor ({args.model})", args.model)] + [tuple(c.split("=", 1)) for c in args.compare]
        for name in ("coco", "objects", "scenes"):
            for label, mdir in models:
                ed = Path(args.runs) / f"table1-{name}-{len(rows)}"
                cmd = pc + ["evaluate", str(data / "val" / name), "-o", str(ed), "--name", label] + (["--model", mdir] if mdir else [])
                if args.limit:
                    cmd += ["--limit", str(args.limit)]
                commands.append(" ".join(cmd[3:]))
                run(cmd)
                res = json.loads((ed / "evaluation.json").read_text())["rows"]
                rows.setdefault(name, []).extend(r for r in res if not r["model"].startswith("grey") or label == models[0][0])
        md = ["# Table I at this project's scale", "", "Each model and the grey baseline on the validation sets (256x256, all photos unless --limit).", ""]
        for name, rs in rows.items():
            md += [f"## val/{name}", "", "| model | n | FID | PSNR dB | SSIM | colourfulness | gap to truth |", "|---|---|---|---|---|---|---|"]
            md += [f"| {r['model']} | {r['n']} | {r.get('fid', float('nan')):.2f} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['colourfulness']:.2f} | {r['colourfulness_gap']:.2f} |" for r in rs]
            md.append("")
        md += ["Commands:", ""] + [f"    paracolor {c}" for c in commands if c.startswith("evaluate") and "table1" in c]
        (out / f"{stem}-table1.md").write_text("\n".join(md) + "\n")
        (out / f"{stem}-table1.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

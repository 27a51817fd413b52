"""Flicker of colorized videos: the warping error (Lai et al., "Learning Blind Video Temporal
Consistency", ECCV 2018), measured along the *source's* motion so every method is judged on
the same flow.

For consecutive frames t-1, t: optical flow on the source's lightness (DIS, medium preset) from
t back to t-1 warps output frame t-1 onto frame t; pixels that the forward-backward check marks
as occluded, or that come from outside the frame, are masked out (Sundaram et al. 2010, as Lai
et al.); pairs across a scene cut of the source are skipped. Reported per method:

- ``warp_rgb``: mean over pairs of the masked mean of ||O_t - W(O_{t-1})||^2 on RGB in [0, 1]
  (Lai et al.'s E_warp; includes the lightness, which is the source's for every method here,
  so the grey baseline gives the floor that flow errors alone cause)
- ``warp_ab``: the same as a mean Euclidean distance in Lab ab units (chroma only: 0 for grey)

``paracolor evaluate clip.mp4 -o eval/`` colorizes the clip with and without temporal
stabilization (lossless H.264 RGB, so the encoder adds no noise) and reports both, the grey
baseline and the source as given.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from .. import colorspace
from ..engine.batch import ColorizeConfig, colorize_files
from ..engine.config import EngineConfig
from ..engine.video.container import VideoError, VideoOptions, VideoSource
from ..engine.video.job import VideoConfig
from ..engine.video.temporal import CutDetector, Flow, TemporalConfig, histogram
from ..errors import ConfigError

#: the eval outputs: lossless RGB H.264, so the metric sees the pipeline's frames
LOSSLESS = VideoOptions(codec="libx264rgb", crf=0, pix_fmt="bgr24", preset="ultrafast")
WORK_SIDE = 480  # frames are measured at most this large (long side): flow cost, not accuracy, bounds it


def _work_size(w: int, h: int) -> tuple[int, int]:
    s = min(1.0, WORK_SIDE / max(w, h))
    return max(16, round(w * s)), max(16, round(h * s))


def _frames(path, size):
    """RGB float [0, 1] frames at the working size."""
    src = VideoSource(path)
    try:
        for _, rgb in src.frames():
            yield cv2.resize(rgb, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    finally:
        src.close()


def _grey(rgb: np.ndarray) -> np.ndarray:
    lab = colorspace.rgb_to_lab(rgb)
    lab[..., 1:] = 0.0
    return colorspace.lab_to_rgb(lab)


def warping_error(source, outputs: dict[str, str | None]) -> dict[str, dict]:
    """Warping errors of each output video (None: the grey baseline; "source": the source
    itself) along the source's motion; all are decoded in lockstep with the source."""
    probe = VideoSource(source)
    size = _work_size(probe.width, probe.height)
    probe.close()
    flow = Flow(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    cuts = CutDetector(TemporalConfig())
    streams = {name: (_frames(path, size) if path and path != "source" else None) for name, path in outputs.items()}
    sums = {name: [0.0, 0.0] for name in outputs}
    pairs = skipped = frames = 0
    prev_src = prev_L8 = prev_hist = None
    prev_out: dict[str, np.ndarray] = {}
    for src in _frames(source, size):
        frames += 1
        outs = {}
        for name, it in streams.items():
            if outputs[name] == "source":
                outs[name] = src
                continue
            o = next(it, None) if it is not None else _grey(src)
            if o is None:
                raise VideoError(outputs[name], f"has fewer frames than {source} ({frames - 1})")
            outs[name] = o
        L8 = cv2.convertScaleAbs(colorspace.rgb_to_lab(src)[..., 0], alpha=2.55)
        hist = histogram(L8)
        if prev_src is not None:
            fb = flow.backward(L8, prev_L8)  # t -> t-1
            ff = flow.backward(prev_L8, L8)  # t-1 -> t
            mx, my = flow.maps(fb)
            ff_at = Flow.warp(ff, mx, my)
            # forward-backward consistency (Sundaram et al.): a visible pixel's two flows cancel
            mask = (np.sum((fb + ff_at) ** 2, axis=2) < 0.01 * (np.sum(fb**2, axis=2) + np.sum(ff_at**2, axis=2)) + 0.5) & Flow.inside(mx, my)
            warped_L = Flow.warp(prev_L8, mx, my)
            unmatched = 1.0 - float(np.mean((cv2.absdiff(L8, warped_L) < 6) & mask))
            if cuts(cv2.compareHist(prev_hist, hist, cv2.HISTCMP_BHATTACHARYYA), unmatched) or not mask.any():
                skipped += 1
            else:
                pairs += 1
                for name, o in outs.items():
                    w = Flow.warp(prev_out[name], mx, my)
                    sums[name][0] += float(np.sum((o - w) ** 2, axis=2)[mask].mean())
                    ab_o, ab_w = colorspace.rgb_to_lab(o)[..., 1:], colorspace.rgb_to_lab(w)[..., 1:]
                    sums[name][1] += float(np.sqrt(np.sum((ab_o - ab_w) ** 2, axis=2))[mask].mean())
        prev_src, prev_L8, prev_hist, prev_out = src, L8, hist, outs
    for name, it in streams.items():
        if it is not None and next(it, None) is not None:
            raise VideoError(outputs[name], f"has more frames than {source} ({frames})")
    if not pairs:
        raise ConfigError(f"{source}: no pair of consecutive frames within a shot to measure")
    return {name: {"warp_rgb": s[0] / pairs, "warp_ab": s[1] / pairs, "pairs": pairs, "cuts_skipped": skipped, "frames": frames, "work_size": list(size)} for name, s in sums.items()}


def evaluate_video(cfg) -> dict:
    """``paracolor evaluate VIDEO``: flicker with and without stabilization, grey, the source."""
    source = Path(cfg.photos)
    out = Path(cfg.out_dir)
    engine = EngineConfig(model_dir=cfg.model_dir, backend=cfg.backend, precision=cfg.precision, size=cfg.size)
    t0 = time.perf_counter()
    made, runs = {}, {}
    for label, on in (("temporal", True), ("per_frame", False)):
        run = ColorizeConfig(inputs=[str(source)], output_dir=str(out / label), engine=engine, overwrite=True, progress=False, video=VideoConfig(LOSSLESS, TemporalConfig(enabled=on)))
        summary = colorize_files(run)
        if not summary.ok or not summary.done:
            why = summary.failed[0]["reason"] if summary.failed else "interrupted"
            raise VideoError(source, f"could not be colorized for evaluation: {why}")
        made[label] = summary.done[0]["output"]
        runs[label] = summary.done[0]
    name = cfg.name or "paracolor"
    outputs = {f"{name}, temporal on": made["temporal"], f"{name}, temporal off (per frame)": made["per_frame"], "grey baseline (ab = 0)": None, "source as given": "source"}
    scores = warping_error(source, outputs)
    result = {
        "config": asdict(cfg),
        "video": str(source),
        "seconds": time.perf_counter() - t0,
        "runs": runs,
        "metric_notes": {
            "warp_rgb": "Lai et al. 2018 warping error: masked mean of squared RGB difference (RGB in [0, 1]) between frame t and frame t-1 warped by the source's flow",
            "warp_ab": "the same as the mean Euclidean ab distance in Lab units (chroma only)",
            "flow": "OpenCV DIS (medium) on the source's L, forward-backward occlusion mask; pairs across the source's cuts skipped",
            "outputs": "colorized losslessly (libx264rgb, crf 0) so the encoder adds nothing",
        },
        "rows": [{"model": k, **v} for k, v in scores.items()],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(json.dumps(result, indent=1, default=str))
    (out / "evaluation.md").write_text(markdown(result))
    return result


def markdown(result: dict) -> str:
    rows = result["rows"]
    r0 = rows[0]
    lines = [
        f"Video: {result['video']} ({r0['frames']} frames, {r0['pairs']} frame pairs measured, {r0['cuts_skipped']} across cuts skipped; measured at {r0['work_size'][0]}x{r0['work_size'][1]})",
        "",
        "| output | warping error, RGB (x1000) | warping error, ab (Lab units) |",
        "|---|---|---|",
    ]
    lines += [f"| {r['model']} | {1000 * r['warp_rgb']:.3f} | {r['warp_ab']:.3f} |" for r in rows]
    lines += ["", *(f"- {k}: {v}" for k, v in result["metric_notes"].items())]
    return "\n".join(lines) + "\n"

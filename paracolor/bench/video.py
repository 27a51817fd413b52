"""The bench's video rows: frames per second of the whole video job (decode, networks, temporal
stabilization, finishing, encode + remux) on a synthetic clip at each height, with per-stage
times. The stages overlap in three threads, so the end-to-end time per frame is less than
their sum: the largest stage bounds it.
"""

from __future__ import annotations

import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..engine.batch import ColorizeConfig, colorize_files
from ..engine.pipeline import Colorizer, EngineConfig
from ..engine.video.container import require_av
from ..engine.video.job import STAGES, VideoConfig


def synthetic_clip(path: Path, height: int, frames: int, fps: int = 24, seed: int = 0) -> Path:
    """A 16:9 grey clip at ``height``: a textured scene panning diagonally, with grain and an
    AAC track (H.264 crf 18), like a scanned film."""
    av = require_av()
    h = height
    w = (round(h * 16 / 9) + 1) // 2 * 2
    rng = np.random.default_rng(seed)
    H, W = 2 * h, 2 * w  # the camera pans back and forth over a scene twice the frame's size
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    scene = 120 + 60 * np.sin(xx / (0.02 * w)) * np.cos(yy / (0.03 * h)) + 30 * np.sin((xx + yy) / (0.11 * w))
    for _ in range(12):
        cy, cx, r = rng.uniform(0, H), rng.uniform(0, W), rng.uniform(0.05, 0.2) * h
        scene[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(20, 235)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.codec_context.options = {"crf": "18", "preset": "veryfast"}
        au = out.add_stream("aac", rate=48000, layout="stereo")
        for i in range(frames):
            x, y = w - abs(3 * i % (2 * w) - w), h - abs(2 * i % (2 * h) - h)
            g = scene[y : y + h, x : x + w] + rng.normal(0, 3, (h, w))
            g = np.clip(g, 0, 255).astype(np.uint8)
            f = av.VideoFrame.from_ndarray(g, format="gray").reformat(format="yuv420p")
            f.pts, f.time_base = i, Fraction(1, fps)
            for p in vs.encode(f):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)
        mux_tone(out, au, seconds=frames / fps, hz=330, channels=2)
    return path


def mux_tone(out, stream, seconds: float, hz: float, channels: int, rate: int = 48000) -> None:
    """A sine tone of ``seconds`` encoded into the audio ``stream`` of the open container ``out``
    (the synthetic clips' sound track, so that remuxing audio is part of what is measured)."""
    av = require_av()
    n = int(seconds * rate)
    tone = np.repeat((0.1 * np.sin(np.arange(n) * (2 * np.pi * hz / rate))).astype(np.float32)[None], channels, axis=0)
    layout = "mono" if channels == 1 else "stereo"
    for s in range(0, n, 1024):
        af = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, s : s + 1024]), format="fltp", layout=layout)
        af.sample_rate, af.pts = rate, s
        for p in stream.encode(af):
            out.mux(p)
    for p in stream.encode(None):
        out.mux(p)


def run_video(engine: EngineConfig, heights: list[int], frames: int, batch_size: int | None = None, temporal: bool = True) -> list[dict]:
    """One row per height: the video job end to end on a synthetic clip, warm engine.
    ``batch_size`` None: the backend's preferred batch, as ``colorize`` uses."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="paracolor-bench-video-") as tmp, Colorizer(engine) as col:
        batch_size = batch_size or col.preferred_batch
        col.infer(np.zeros((min(batch_size, col.max_batch or batch_size), 1, col.size, col.size), np.float32))  # warm-up
        for h in heights:
            clip = synthetic_clip(Path(tmp) / f"clip{h}.mp4", h, frames)
            cfg = ColorizeConfig(inputs=[str(clip)], output_dir=str(Path(tmp) / "out"), engine=engine, batch_size=batch_size, overwrite=True, progress=False, video=VideoConfig())
            cfg.video.temporal.enabled = temporal
            t0 = time.perf_counter()
            summary = colorize_files(cfg, col)
            wall = time.perf_counter() - t0
            if not summary.done:
                raise RuntimeError(f"video bench at {h}p failed: {summary.to_dict()}")
            d = summary.done[0]
            rows.append({
                "height": h, "frames": d["frames"], "backend": col.backend, "precision": engine.precision, "batch": batch_size, "temporal": temporal,
                "fps": d["frames"] / wall, "ms_per_frame": 1000 * wall / d["frames"],
                "stage_ms_per_frame": {k: 1000 * d["stage_seconds"][k] / d["frames"] for k in STAGES},
                "device_name": col.describe().get("device", "cpu"),
            })
    return rows


def markdown(rows: list[dict]) -> list[str]:
    """The video rows' table (lines), empty without rows."""
    if not rows:
        return []
    head = "| video | fps end to end | ms/frame | " + " | ".join(STAGES) + " |"
    lines = ["", "Video (decode, networks, temporal stabilization, finishing, H.264 encode and audio remux overlap in three threads; stage times in ms per frame):", "", head, "|" + "---|" * (3 + len(STAGES))]
    for r in rows:
        label = f"{r['height']}p, {r['frames']} frames, {r['backend']} {r['precision']} bs{r['batch']}" + ("" if r["temporal"] else ", temporal off")
        lines.append(f"| {label} | {r['fps']:.2f} | {r['ms_per_frame']:.1f} | " + " | ".join(f"{r['stage_ms_per_frame'][k]:.1f}" for k in STAGES) + " |")
    return lines

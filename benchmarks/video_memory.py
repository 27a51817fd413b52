"""Resident memory of the video job over a long clip: is it flat?

The networks are replaced by a scheduler that returns a fixed chroma at once (the model's own
memory is constant and measured elsewhere), so thousands of frames of decode, stabilization,
finishing, H.264 encoding and audio remux run in minutes on a small CPU. RSS is sampled every
``--every`` frames from the writer's progress.

    python benchmarks/video_memory.py --frames 6000 --height 360 -o benchmarks/results/DATE-MACHINE-video-memory.json
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from paracolor.bench.harness import environment
from paracolor.bench.video import synthetic_clip
from paracolor.engine.backends.base import Scheduler
from paracolor.engine.batch import ColorizeConfig, colorize_files
from paracolor.engine.pipeline import Colorizer, EngineConfig


class FixedChroma(Scheduler):
    """Returns the same smooth chroma for every frame, at once (no networks)."""

    backend = "fixed"

    def __init__(self, size: int):
        super().__init__()
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
        self.ab = np.stack([0.2 * xx - 0.1, 0.1 - 0.2 * yy])[None]
        self._timings = {"generators": 0.0, "fusion": 0.0}
        self._out: dict[int, dict] = {}
        self._next = 0

    def submit(self, L):
        self._next += 1
        ab = np.repeat(self.ab, len(L), 0)
        self._out[self._next] = {"ab": ab, "ab_fg": ab, "ab_bg": ab}
        return self._next

    def collect(self, ticket):
        return self._out.pop(ticket)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=6000)
    ap.add_argument("--height", type=int, default=360)
    ap.add_argument("--every", type=float, default=2.0, help="seconds between RSS samples")
    ap.add_argument("-o", "--output", type=Path, required=True)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        clip = synthetic_clip(Path(tmp) / "long.mp4", args.height, args.frames)
        made = time.perf_counter() - t0
        col = Colorizer(EngineConfig(), scheduler=FixedChroma(256))
        samples, done = [], threading.Event()

        def sample():
            t = time.perf_counter()
            while not done.wait(args.every):
                samples.append((round(time.perf_counter() - t, 1), round(rss_mb(), 1)))

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        t1 = time.perf_counter()
        s = colorize_files(ColorizeConfig(inputs=[str(clip)], output_dir=str(Path(tmp) / "out"), engine=EngineConfig(), progress=False), col)
        done.set()
        th.join()
        wall = time.perf_counter() - t1
    rss = [r for _, r in samples]
    third = max(1, len(rss) // 3)
    result = {
        "what": "RSS of the video job over a long synthetic clip (networks replaced by a fixed chroma; decode, stabilization, finishing, H.264 encode, audio remux real)",
        "environment": environment(),
        "frames": s.done[0]["frames"] if s.done else 0, "height": args.height, "seconds": round(wall, 1), "clip_seconds_to_make": round(made, 1),
        "fps": round(s.done[0]["frames"] / wall, 1) if s.done else None,
        "rss_mb_samples": samples, "rss_mb_first_third_max": max(rss[:third]), "rss_mb_last_third_max": max(rss[-third:]),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "summary": s.to_dict(),
    }
    args.output.write_text(json.dumps(result, indent=1))
    print(f"{result['frames']} frames at {args.height}p in {wall:.0f} s; RSS max first third {result['rss_mb_first_third_max']} MB, last third {result['rss_mb_last_third_max']} MB")


if __name__ == "__main__":
    main()

"""Peak host memory of `paracolor colorize` over a folder of large photos (issue 18).

Thirty 24 MP (6000x4000) colour JPEGs, made by upscaling the photos of a folder (e.g.
../shared/data/fullres/colour) into a temporary folder that is deleted afterwards. Each setting
runs in a fresh process through the same library function as the CLI, with the bundled model at
its own size (256), and reports the process's peak RSS: the byte budget on the queues
(``--queue-mb``, default 512) against a budget so large that only the queues' item counts bound
them (what every run did before issue 18). A baseline run over the small source photos at the
same batch size gives the runtime's own memory (ONNX Runtime's arenas, numba, the libraries),
so the growth that large photos cause can be read against the queue budget.

Usage: python benchmarks/large_photos_memory.py PHOTOS [--count 30] [--queue-mb 512,65536] [--batch-size 4] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2

CHILD = """
import sys, json, resource, time
from paracolor.engine.batch import ColorizeConfig, colorize_files
from paracolor.engine.pipeline import EngineConfig
src, out, queue_mb, batch = sys.argv[1:5]
t0 = time.perf_counter()
s = colorize_files(ColorizeConfig(inputs=[src], output_dir=out, engine=EngineConfig(), batch_size=int(batch), queue_bytes=int(queue_mb) << 20, progress=False))
print(json.dumps({"done": len(s.done), "failed": len(s.failed), "seconds": time.perf_counter() - t0,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_photos(photos: Path, folder: Path, n: int, size=(6000, 4000)) -> None:
    from paracolor.engine.io import find_images

    srcs = [p for p, _ in find_images([str(photos)])]
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = cv2.imread(str(srcs[i % len(srcs)]), cv2.IMREAD_COLOR)
        big = cv2.resize(img, size, interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(folder / f"big{i:02d}.jpg"), big, [cv2.IMWRITE_JPEG_QUALITY, 90])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photos")
    ap.add_argument("--count", type=int, default=30)
    ap.add_argument("--queue-mb", default="512,65536")
    ap.add_argument("--batch-size", default="4")
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--tag", default=platform.node())
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="paracolor-large-") as tmp:
        src = Path(tmp) / "in"
        make_photos(Path(args.photos), src, args.count)
        runs = [("baseline: the small source photos", Path(args.photos), 512)] + [(f"{args.count} photos of 24 MP", src, int(m)) for m in args.queue_mb.split(",")]
        for what, folder, mb in runs:
            out = Path(tmp) / f"out{len(rows)}"
            res = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(out), str(mb), args.batch_size], capture_output=True, text=True, check=True)
            row = {"what": what, "queue_mb": mb, "batch_size": int(args.batch_size), **json.loads(res.stdout.strip().splitlines()[-1])}
            if rows:
                row["above_baseline_mb"] = row["peak_rss_mb"] - rows[0]["peak_rss_mb"]
            rows.append(row)
            extra = f" ({row['above_baseline_mb']:+.0f} MB over the baseline)" if "above_baseline_mb" in row else ""
            print(f"{what}, queue budget {mb} MiB, batch {args.batch_size}: peak RSS {row['peak_rss_mb']:.0f} MB{extra}, {row['done']} done, {row['failed']} failed, {row['seconds']:.0f} s")
            shutil.rmtree(out, ignore_errors=True)
    from paracolor.bench.harness import environment

    env = environment()
    path = Path(args.out) / f"{env['date']}-{args.tag}-large-photos-memory-batch{args.batch_size}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"what": "peak RSS of colorize_files over 24 MP photos vs the queue byte budget", "environment": env, "rows": rows}, indent=1))
    print(f"written: {path}")


if __name__ == "__main__":
    main()

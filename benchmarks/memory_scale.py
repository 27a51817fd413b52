"""Peak host memory of `paracolor colorize` over 100, 1,000 and 10,000 images (issue 9).

Each folder size runs in a fresh process (so each peak RSS is its own) through the same
library function as the CLI. Images are small generated JPEGs and the network runs at 64 px to
keep 10,000 images affordable on a 2-core CPU: the memory behaviour under test (bounded prefetch
and write queues) does not depend on either. Prints a table and writes a JSON file.

Usage: python benchmarks/memory_scale.py [--counts 100,1000,10000] [--model DIR] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

CHILD = """
import sys, json, resource, time
from paracolor.engine.batch import ColorizeConfig, colorize_files
from paracolor.engine.pipeline import EngineConfig
src, out, model, size = sys.argv[1:5]
t0 = time.perf_counter()
s = colorize_files(ColorizeConfig(inputs=[src], output_dir=out, engine=EngineConfig(model_dir=model or None, size=int(size)), batch_size=8, progress=False))
print(json.dumps({"done": len(s.done), "failed": len(s.failed), "seconds": time.perf_counter() - t0,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_images(folder: Path, n: int, size=(96, 72)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    base = [cv2.imencode(".jpg", cv2.resize(rng.uniform(0, 255, (6, 6, 3)).astype(np.uint8), size, interpolation=cv2.INTER_CUBIC))[1].tobytes() for _ in range(50)]
    for i in range(n):
        (folder / f"{i // 1000:03d}").mkdir(exist_ok=True)
        (folder / f"{i // 1000:03d}" / f"img{i:05d}.jpg").write_bytes(base[i % len(base)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", default="100,1000,10000")
    ap.add_argument("--model", default="")
    ap.add_argument("--size", default="64")
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--tag", default=platform.node())
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="paracolor-mem-") as tmp:
        for n in (int(c) for c in args.counts.split(",")):
            src, out = Path(tmp) / f"in{n}", Path(tmp) / f"out{n}"
            make_images(src, n)
            res = subprocess.run([sys.executable, "-c", CHILD, str(src), str(out), args.model, args.size], capture_output=True, text=True, check=True)
            row = {"images": n, **json.loads(res.stdout.strip().splitlines()[-1])}
            rows.append(row)
            print(f"{n:>6} images: peak RSS {row['peak_rss_mb']:.0f} MB, {row['done']} done, {row['failed']} failed, {row['seconds']:.0f} s ({n / row['seconds']:.1f} img/s)")
    from paracolor.bench.harness import environment

    env = environment()
    path = Path(args.out) / f"{env['date']}-{args.tag}-memory-scale.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"what": "peak RSS of colorize_files vs folder size", "network_size": int(args.size), "environment": env, "rows": rows}, indent=1))
    print(f"written: {path}")


if __name__ == "__main__":
    main()

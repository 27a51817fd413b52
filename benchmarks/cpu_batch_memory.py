"""Throughput and peak RSS of ``paracolor colorize`` per backend and batch size on the CPU (issue 20).

Each run is a fresh process (so its peak RSS is its own) colorizing the same N photos with the
folder job; configurations are interleaved over rounds so the machine's load affects all alike.
onnxruntime is run with its CPU memory arena on (onnxruntime's and paracolor's default) and off,
to show what the arena costs and saves at each batch size.

Usage: python benchmarks/cpu_batch_memory.py ../shared/data/val/coco [--num 100] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from paracolor.bench.harness import environment
from paracolor.engine.io import find_images

CHILD = r"""
import json, resource, sys, time
from paracolor.engine.backends import onnxruntime as ort_backend
from paracolor.engine.batch import ColorizeConfig, colorize_files
from paracolor.engine.pipeline import EngineConfig
src, out, backend, precision, batch, arena = sys.argv[1:7]
ort_backend.CPU_MEM_ARENA = arena == "on"
t0 = time.perf_counter()
s = colorize_files(ColorizeConfig(inputs=[src], output_dir=out, engine=EngineConfig(backend=backend, precision=precision), batch_size=int(batch), progress=False))
dt = time.perf_counter() - t0
assert not s.failed, s.failed
print(json.dumps({"done": len(s.done), "img_s": len(s.done) / dt, "seconds": dt, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images")
    ap.add_argument("--num", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch-sizes", default="1,2,4,8")
    ap.add_argument("--configs", default="openvino:int8:-,openvino:bf16:-,onnxruntime:fp32:off,onnxruntime:fp32:on", help="backend:precision:arena, comma-separated")
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--tag", default=platform.node())
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="paracolor-bm-"))
    try:
        src = root / "in"
        src.mkdir()
        for p, _ in find_images([args.images])[: args.num]:
            shutil.copy(p, src / p.name)
        configs = [tuple(c.split(":")) for c in args.configs.split(",")]
        batches = [int(b) for b in args.batch_sizes.split(",")]
        runs: dict[str, list] = {}
        load = {"before": [round(x, 2) for x in os.getloadavg()]}
        for r in range(args.rounds):
            for backend, precision, arena in configs:
                for bs in batches:
                    out = root / "out"
                    shutil.rmtree(out, ignore_errors=True)
                    res = subprocess.run([sys.executable, "-c", CHILD, str(src), str(out), backend, precision, str(bs), arena], capture_output=True, text=True, timeout=900)
                    if res.returncode:
                        raise SystemExit(res.stderr)
                    row = json.loads(res.stdout.strip().splitlines()[-1])
                    row["load"] = [round(x, 2) for x in os.getloadavg()]
                    key = f"{backend} {precision}" + (f" arena {arena}" if arena != "-" else "") + f" bs{bs}"
                    runs.setdefault(key, []).append(row)
                    print(key, row, flush=True)
        load["after"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    summary = {k: {"img_s_median": float(np.median([x["img_s"] for x in v])), "peak_rss_mb_max": float(max(x["peak_rss_mb"] for x in v))} for k, v in runs.items()}
    result = {"what": "issue 20: colorize throughput and peak RSS per backend and batch size", "command": "python " + " ".join(sys.argv), "photos": args.num,
              "environment": environment(), "load": load, "summary": summary, "runs": runs}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{result['environment']['date']}-{args.tag}-batch-memory.json"
    path.write_text(json.dumps(result, indent=1))
    for k, v in summary.items():
        print(f"{k}: {v['img_s_median']:.2f} img/s, peak RSS {v['peak_rss_mb_max']:.0f} MB")
    print(f"written: {path}")


if __name__ == "__main__":
    main()

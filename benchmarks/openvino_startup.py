"""Start-up of the OpenVINO backend with and without its model cache (issue 20).

Each sample is a fresh process that loads a Colorizer (fg, bg, fusion compiled or imported) and
runs one photo; "cold" has the cache off, "cached" reads the blobs an earlier start wrote.
onnxruntime's start-up is measured beside. Interleaved over rounds; medians.

Usage: python benchmarks/openvino_startup.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from paracolor.bench.harness import environment

CHILD = r"""
import sys, time
t0 = time.perf_counter()
import numpy as np
from paracolor.engine.pipeline import Colorizer, EngineConfig
col = Colorizer(EngineConfig(backend=sys.argv[1], precision=sys.argv[2]))
t1 = time.perf_counter()
col.infer(np.zeros((1, 1, 256, 256), np.float32))
print(t1 - t0, time.perf_counter() - t0)
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--tag", default=platform.node())
    args = ap.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="paracolor-startup-"))
    configs = [("openvino", "fp32", "off"), ("openvino", "fp32", "cached"), ("openvino", "int8", "off"), ("openvino", "int8", "cached"), ("onnxruntime", "fp32", "-"), ("onnxruntime", "int8", "-")]
    for backend, precision, _ in configs:  # fill the cache once
        if backend == "openvino":
            subprocess.run([sys.executable, "-c", CHILD, backend, precision], env={**os.environ, "PARACOLOR_CACHE_DIR": str(cache)}, check=True, capture_output=True)
    samples: dict[str, list] = {}
    load = [round(x, 2) for x in os.getloadavg()]
    for _ in range(args.rounds):
        for backend, precision, mode in configs:
            env = {**os.environ, "PARACOLOR_CACHE_DIR": "off" if mode == "off" else str(cache)}
            res = subprocess.run([sys.executable, "-c", CHILD, backend, precision], env=env, check=True, capture_output=True, text=True)
            load_s, first_s = (float(x) for x in res.stdout.split())
            samples.setdefault(f"{backend} {precision}" + (f" cache {mode}" if mode != "-" else ""), []).append({"load_s": load_s, "load_and_first_photo_s": first_s})
    summary = {k: {m: float(np.median([x[m] for x in v])) for m in ("load_s", "load_and_first_photo_s")} for k, v in samples.items()}
    result = {"what": "issue 20: start-up (imports, model load/compile, first photo's networks) in a fresh process", "environment": environment(),
              "load_before": load, "load_after": [round(x, 2) for x in os.getloadavg()], "summary": summary, "samples": samples}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{result['environment']['date']}-{args.tag}-openvino-startup.json"
    path.write_text(json.dumps(result, indent=1))
    for k, v in summary.items():
        print(f"{k}: load {v['load_s']:.2f} s, load + first photo {v['load_and_first_photo_s']:.2f} s")
    print(f"written: {path}")


if __name__ == "__main__":
    main()

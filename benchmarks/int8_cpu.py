"""INT8 vs FP32 throughput on this CPU with onnxruntime (issue 6's target: at least 1.8x).

Times each network (fg, bg, fusion) and the whole fg + bg + fusion chain at batch 1 and 8 on
256x256 inputs, for the FP32 graphs as exported (MODEL_DIR/fp32), the FP32 graphs after the
build passes when MODEL_DIR/fp32-built exists (a copy of 'paracolor build --precision fp32'
output: static size, fused attention, split full-resolution Concat->Conv, batched fusion
encoders), and the INT8 Q/DQ graphs (MODEL_DIR/int8). Prints JSON rows and writes JSON.

Usage: python benchmarks/int8_cpu.py MODEL_DIR [--reps 10] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from paracolor.bench.harness import environment


def session(path: Path, threads: int):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def feeds(role: str, n: int, size: int) -> dict:
    rng = np.random.default_rng(0)
    L = rng.uniform(-1, 1, (n, 1, size, size)).astype(np.float32)
    if role != "fusion":
        return {"L": L}
    return {"L": L, "ab_fg": rng.uniform(-0.5, 0.5, (n, 2, size, size)).astype(np.float32), "ab_bg": rng.uniform(-0.5, 0.5, (n, 2, size, size)).astype(np.float32)}


def time_graph(sess, f, reps: int) -> float:
    sess.run(None, f)
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        sess.run(None, f)
        t.append(time.perf_counter() - t0)
    return float(np.median(t))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--tag", default=platform.node())
    args = ap.parse_args()
    root = Path(args.model)
    variants = {"fp32 exported": root / "fp32", "int8": root / "int8"}
    if (root / "fp32-built").is_dir():
        variants["fp32 built"] = root / "fp32-built"
    rows = []
    for batch in (1, 8):
        row = {"batch": batch}
        for name, d in variants.items():
            per = {r: time_graph(session(d / f"{r}.onnx", args.threads), feeds(r, batch, args.size), args.reps) for r in ("fg", "bg", "fusion")}
            per["chain"] = sum(per.values())
            row[name] = {k: 1000 * v / batch for k, v in per.items()}  # ms per image
        for base in [v for v in variants if v.startswith("fp32")]:
            row[f"speedup vs {base}"] = {k: row[base][k] / row["int8"][k] for k in row["int8"]}
        rows.append(row)
        print(json.dumps(row, indent=None))
    env = environment()
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    env["cpu_int8_features"] = sorted({f for f in ("avx512_vnni", "avx_vnni", "amx_int8", "amx_tile", "avx512f") if f in flags})
    result = {"what": "onnxruntime CPU ms per image, INT8 Q/DQ vs FP32", "environment": env, "rows": rows, "target_speedup": 1.8}
    path = Path(args.out) / f"{env['date']}-{args.tag}-int8-cpu.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    print(f"written: {path}")


if __name__ == "__main__":
    main()

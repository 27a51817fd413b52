"""Verify a deployment on a machine with TensorRT: build every engine, compare with onnxruntime.

For each precision present in a built model folder (fp32, fp16, int8) and each graph (fg, bg,
fusion, and fg_bg when merged), this builds the engine with paracolor's own builder (sidecar,
timing cache, engine cache) and runs Polygraphy's Comparator: onnxruntime on the same ONNX graph
against the TensorRT engine, at batch 1 and the profile's largest batch, on random inputs in
the networks' input range. Exit status 1 if any comparison fails.

This has NOT been run yet: no machine available to the project has TensorRT. It is the check to
run first on one.

Usage:
    paracolor build -o built --precision fp16 --merge-fg-bg
    python benchmarks/trt_check.py built [--max-batch 8] [--atol 2e-2] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

TOLERANCE = {"fp32": (1e-3, 1e-3), "fp16": (2e-2, 2e-2), "int8": (1e-1, 1e-1)}  # (atol, rtol) on ab in [-1, 1]


def compare_one(onnx_path: Path, plan_path: Path, batch: int, atol: float, rtol: float) -> dict:
    import onnx
    from polygraphy.backend.onnxrt import OnnxrtRunner, SessionFromOnnx
    from polygraphy.backend.trt import EngineFromBytes, TrtRunner
    from polygraphy.common import TensorMetadata
    from polygraphy.comparator import Comparator, CompareFunc, DataLoader

    model = onnx.load(str(onnx_path))
    meta = TensorMetadata()
    dtypes = {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.FLOAT16: np.float16}
    for inp in model.graph.input:
        dims = [d.dim_value for d in inp.type.tensor_type.shape.dim]
        meta.add(inp.name, dtypes[inp.type.tensor_type.elem_type], (batch, *dims[1:]))
    loader = DataLoader(input_metadata=meta, val_range=(-1.0, 1.0), iterations=2)
    runners = [OnnxrtRunner(SessionFromOnnx(str(onnx_path))), TrtRunner(EngineFromBytes(plan_path.read_bytes()))]
    results = Comparator.run(runners, data_loader=loader)
    ok = bool(Comparator.compare_accuracy(results, compare_func=CompareFunc.simple(atol=atol, rtol=rtol)))
    return {"graph": onnx_path.name, "batch": batch, "passed": ok}


def main() -> int:
    ap = argparse.ArgumentParser(description="Build every TensorRT engine of a model folder and compare with onnxruntime")
    ap.add_argument("folder", help="model folder written by 'paracolor build'")
    ap.add_argument("--max-batch", type=int, default=8)
    ap.add_argument("--out", default="benchmarks/results")
    args = ap.parse_args()

    import tensorrt as trt

    from paracolor.builder.trt import TrtBuildOptions, cached_build, this_gpu
    from paracolor.engine.engine_cache import engine_dir, engine_dir_name

    folder = Path(args.folder)
    gpu = this_gpu()
    opts = TrtBuildOptions(max_batch=args.max_batch, timing_cache=str(folder / "timing.cache"))
    report = {"tensorrt": trt.__version__, "gpu": gpu, "date": time.strftime("%Y-%m-%d"), "checks": []}
    failed = 0
    for precision in ("fp32", "fp16", "int8"):
        pdir = folder / precision
        if not (pdir / "build_report.json").is_file():
            continue  # only graphs that 'paracolor build' prepared (static size, passes applied)
        graphs = sorted(pdir.glob("*.onnx"))
        edir = engine_dir(folder, gpu, trt.__version__, precision)
        atol, rtol = TOLERANCE[precision]
        for onnx_path in graphs:
            t0 = time.perf_counter()
            plan, status = cached_build(onnx_path, edir, onnx_path.stem, precision, opts, gpu)
            build_s = time.perf_counter() - t0
            for batch in sorted({1, args.max_batch}):
                res = {"precision": precision, "status": status, "build_s": round(build_s, 1), **compare_one(onnx_path, plan, batch, atol, rtol)}
                failed += not res["passed"]
                report["checks"].append(res)
                print(f"{precision} {onnx_path.name} batch {batch}: {'PASS' if res['passed'] else 'FAIL'} ({status})")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    slug = engine_dir_name(gpu, trt.__version__, "all")
    path = out / f"{report['date']}-{slug}-trt-check.json"
    path.write_text(json.dumps(report, indent=1))
    print(f"{len(report['checks']) - failed} passed, {failed} failed; written {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

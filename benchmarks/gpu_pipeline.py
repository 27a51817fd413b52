"""PyTorch CUDA runner: sequential vs two-stream, batch 1/8/32, FP32/FP16 (issue 5's evidence).

Times, with CUDA events, (a) the parallel stage alone (fg then bg on one stream, against fg and
bg on two streams; each generator alone; at batch 1 also with equal stream priorities), (b) end-to-end latency through the StreamScheduler (host L in, H2D, stages,
D2H, host ab out), (c) pipelined throughput (double buffering), each with and without CUDA
graphs, and (d) batch 1 through the cuda-python / pycuda layers (device and zero-copy memory).
Prints JSON lines and writes one JSON file.

Usage: python benchmarks/gpu_pipeline.py [--model DIR] [--out DIR] [--iters 50]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from paracolor.engine.cuda import available_bindings
from paracolor.engine.modelfolder import ModelFolder
from paracolor.engine.backends.torch import torch_cuda_scheduler


def time_generators(sched, L, iters):
    """ms for fg+bg: sequential (one stream) vs parallel (two streams), event-timed."""
    api, slot = sched.api, sched.slots[0]
    n = L.shape[0]
    slot.host_in.array[:n] = L
    api.copy_htod(slot.dev["L"], slot.host_in, L.nbytes, slot.A)
    api.synchronize(slot.A)
    res = {}
    for mode in ("sequential", "parallel"):
        times = []
        for _ in range(iters + 5):
            start, end = api.event(True), api.event(True)
            api.record(start, slot.A)
            api.wait(slot.B, start)
            sched.fg.enqueue(api, n, slot.A, slot.stage_buffers[id(sched.fg)])
            other = slot.B if mode == "parallel" else slot.A
            sched.bg.enqueue(api, n, other, slot.stage_buffers[id(sched.bg)])
            if mode == "parallel":
                ev = api.event()
                api.record(ev, slot.B)
                api.wait(slot.A, ev)
            api.record(end, slot.A)
            api.event_synchronize(end)
            times.append(api.elapsed_ms(start, end))
        res[mode] = float(np.median(times[5:]))
    for role in ("fg", "bg"):  # each generator alone: the parallel stage's floor is the slower one
        stage = getattr(sched, role)
        times = []
        for _ in range(iters + 5):
            start, end = api.event(True), api.event(True)
            api.record(start, slot.A)
            stage.enqueue(api, n, slot.A, slot.stage_buffers[id(stage)])
            api.record(end, slot.A)
            api.event_synchronize(end)
            times.append(api.elapsed_ms(start, end))
        res[f"{role}_alone"] = float(np.median(times[5:]))
    res["floor_ratio"] = max(res["fg_alone"], res["bg_alone"]) / (res["fg_alone"] + res["bg_alone"])
    return res


def time_e2e(sched, L, iters):
    """ms per batch, host L in to host ab out, one batch at a time (latency)."""
    for _ in range(5):
        sched.run(L)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(iters):
        sched.run(L)
    return 1000 * (time.perf_counter() - t0) / iters


def time_pipelined(sched, L, iters):
    """images/s with double buffering: batch k+1 enqueued before batch k is collected."""
    list(sched.run_many([L] * 4))
    t0 = time.perf_counter()
    for _ in sched.run_many([L] * iters):
        pass
    return L.shape[0] * iters / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--iters", type=int, default=50)
    args = ap.parse_args()
    folder = ModelFolder.load(args.model)
    size = folder.input_size
    props = torch.cuda.get_device_properties(0)
    rows = []
    for precision in ("fp32", "fp16"):
        for batch in (1, 8, 32):
            L = np.random.default_rng(0).uniform(-1, 1, (batch, 1, size, size)).astype(np.float32)
            for graphs in (False, True):
                row = {"precision": precision, "batch": batch, "cuda_graphs": graphs}
                for schedule in ("sequential", "parallel"):
                    sched = torch_cuda_scheduler(folder, size, batch, precision, schedule, graphs)
                    row[f"{schedule}_e2e_ms"] = time_e2e(sched, L, args.iters)
                    if schedule == "parallel":
                        g = row["generators_ms"] = time_generators(sched, L, args.iters)
                        row["parallel_over_sequential"] = g["parallel"] / g["sequential"]
                        row["pipelined_img_s"] = time_pipelined(sched, L, args.iters)
                    sched.close()
                if batch == 1:  # the same parallel stage with both streams at equal priority
                    sched = torch_cuda_scheduler(folder, size, batch, precision, "parallel", graphs, priorities=False)
                    time_e2e(sched, L, 5)
                    g = time_generators(sched, L, args.iters)
                    row["equal_priority_parallel_over_sequential"] = g["parallel"] / g["sequential"]
                    sched.close()
                rows.append(row)
                print(json.dumps(row))
    # the same scheduler with streams, events and buffers from the TensorRT backend's CUDA layers
    bindings = []
    L = np.random.default_rng(0).uniform(-1, 1, (1, 1, size, size)).astype(np.float32)
    for binding in available_bindings():
        for mode in ("device", "zero-copy"):
            try:
                sched = torch_cuda_scheduler(folder, size, 1, "fp16", "parallel", True, binding=binding, memory_mode=mode)
                row = {"binding": binding, "memory_mode": mode, "precision": "fp16", "batch": 1, "cuda_graphs": True, "parallel_e2e_ms": time_e2e(sched, L, args.iters)}
                sched.close()
            except Exception as exc:  # recorded, not fatal: the torch-layer rows above stand alone
                row = {"binding": binding, "memory_mode": mode, "error": f"{type(exc).__name__}: {exc}"}
            bindings.append(row)
            print(json.dumps(row))
    result = {"gpu": props.name, "torch": torch.__version__, "size": size, "date": time.strftime("%Y-%m-%d"), "iters": args.iters,
              "tf32_convolutions": torch.backends.cudnn.allow_tf32, "rows": rows, "bindings": bindings,
              "targets": {"parallel_over_sequential_batch1_max": 0.65, "fp16_batch1_e2e_ms_max_h100": 3.0}}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    slug = props.name.lower().replace(" ", "-")
    path = out / f"{result['date']}-{slug}-gpu-pipeline.json"
    path.write_text(json.dumps(result, indent=1))
    print(f"written: {path}")


if __name__ == "__main__":
    main()

"""PyTorch CUDA runner: sequential vs two-stream, batch 1/8/32, FP32/FP16 (issue 5's evidence).

Times, with CUDA events, (a) the parallel stage alone (fg then bg on one stream, against fg and
bg on two streams) and (b) end-to-end device latency through the StreamScheduler (H2D, stages,
D2H), optionally with CUDA graphs. Prints a table and writes JSON.

Usage: python benchmarks/gpu_pipeline.py [--model DIR] [--out DIR] [--iters 50]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from paracolor.engine.modelfolder import ModelFolder
from paracolor.models.cuda_runner import torch_cuda_scheduler


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
            sched.fg.enqueue(api, n, slot.A, sched._stage_buffers(slot, sched.fg))
            other = slot.B if mode == "parallel" else slot.A
            sched.bg.enqueue(api, n, other, sched._stage_buffers(slot, sched.bg))
            if mode == "parallel":
                ev = api.event()
                api.record(ev, slot.B)
                api.wait(slot.A, ev)
            api.record(end, slot.A)
            api.event_synchronize(end)
            times.append(api.elapsed_ms(start, end))
        res[mode] = float(np.median(times[5:]))
    return res


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
                    for _ in range(5):
                        sched.run(L)
                    torch.cuda.synchronize()
                    t0 = time.perf_counter()
                    for _ in range(args.iters):
                        sched.run(L)
                    row[f"{schedule}_e2e_ms"] = 1000 * (time.perf_counter() - t0) / args.iters
                    if schedule == "parallel" and not graphs:
                        row["generators_ms"] = time_generators(sched, L, args.iters)
                        g = row["generators_ms"]
                        row["parallel_over_sequential"] = g["parallel"] / g["sequential"]
                    sched.close()
                rows.append(row)
                print(json.dumps(row))
    result = {"gpu": props.name, "torch": torch.__version__, "size": size, "date": time.strftime("%Y-%m-%d"), "rows": rows,
              "targets": {"parallel_over_sequential_batch1_max": 0.65, "fp16_batch1_e2e_ms_max_h100": 3.0}}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    slug = props.name.lower().replace(" ", "-")
    path = out / f"{result['date']}-{slug}-gpu-pipeline.json"
    path.write_text(json.dumps(result, indent=1))
    print(f"written: {path}")


if __name__ == "__main__":
    main()

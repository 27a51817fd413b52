"""The whole folder job with and without the in-flight overlap (issue 17's GPU evidence).

``paracolor colorize`` on a folder of synthetic photos (decode, prepare, networks, finish,
encode, atomic write) through ``colorize_files``, twice per configuration: as shipped (on a
GPU scheduler batch k+1 is submitted before batch k is collected) and with the overlap switched
off (every batch collected right after its submit, as before issue 17). Reports images/s of the
whole job, the median of ``--rounds`` runs each, alternating the two to share drift.

NOT RUN YET: written for the first GPU machine available; until it has run there, the overlap's
effect on a GPU is unmeasured. On a CPU both variants are the same code path (in_flight 0).

Usage: python benchmarks/pipeline_overlap.py [--model DIR] [--backend torch] [--out DIR]
           [--photos 256] [--width 1920 --height 1080] [--batch-size 8,32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from paracolor.bench.harness import environment, synthetic_photos
from paracolor.engine.batch import ColorizeConfig, colorize_files
from paracolor.engine.pipeline import Colorizer, EngineConfig


class NoOverlap(Colorizer):
    """The batch job's behaviour before issue 17: collect each batch right after its submit."""

    @property
    def in_flight(self) -> int:
        return 0


def run_job(col: Colorizer, photos: Path, out: Path, batch_size: int) -> float:
    cfg = ColorizeConfig(inputs=[str(photos)], output_dir=str(out), engine=col.cfg, batch_size=batch_size, overwrite=True, progress=False)
    t0 = time.perf_counter()
    summary = colorize_files(cfg, col)
    seconds = time.perf_counter() - t0
    if summary.failed:
        raise SystemExit(f"{len(summary.failed)} photos failed: {summary.failed[:2]}")
    return len(summary.done) / seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--backend", default="torch", help="torch (CUDA when present) or tensorrt (with --engines)")
    ap.add_argument("--engines", default=None)
    ap.add_argument("--precision", default="fp16")
    ap.add_argument("--schedule", default="parallel")
    ap.add_argument("--cuda-graphs", action="store_true")
    ap.add_argument("--photos", type=int, default=256)
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--batch-size", default="8,32")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--tag", default=platform.node())
    args = ap.parse_args()

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        photos = Path(tmp) / "in"
        photos.mkdir()
        for i, img in enumerate(synthetic_photos(min(args.photos, 32), args.width, args.height)):
            cv2.imwrite(str(photos / f"s{i:03d}.jpg"), img)
        for i in range(32, args.photos):  # copies: decoding is timed, generating is not
            (photos / f"s{i:03d}.jpg").write_bytes((photos / f"s{i % 32:03d}.jpg").read_bytes())
        for bs in (int(b) for b in args.batch_size.split(",")):
            engine = EngineConfig(model_dir=args.model, backend=args.backend, engines=args.engines, precision=args.precision, schedule=args.schedule, cuda_graphs=args.cuda_graphs, max_batch=bs)
            cols = {"overlap": Colorizer(engine), "no_overlap": NoOverlap(engine)}
            run_job(cols["overlap"], photos, Path(tmp) / "warm", bs)  # warm-up: allocator, kernels, graphs
            run_job(cols["no_overlap"], photos, Path(tmp) / "warm", bs)
            rates = {k: [] for k in cols}
            for _ in range(args.rounds):
                for name, col in cols.items():
                    rates[name].append(run_job(col, photos, Path(tmp) / name, bs))
            row = {
                "batch": bs,
                "describe": cols["overlap"].describe(),
                "in_flight": {k: c.in_flight for k, c in cols.items()},
                "img_s": {k: float(np.median(v)) for k, v in rates.items()},
                "img_s_runs": rates,
            }
            row["gain"] = row["img_s"]["overlap"] / row["img_s"]["no_overlap"]
            print(json.dumps(row), flush=True)
            results.append(row)
            for col in cols.values():
                col.close()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = {"environment": environment(), "photos": args.photos, "photo_size": [args.width, args.height], "backend": args.backend, "precision": args.precision, "schedule": args.schedule, "cuda_graphs": args.cuda_graphs, "results": results}
    path = out / f"{time.strftime('%Y-%m-%d')}-{args.tag}-pipeline-overlap.json"
    path.write_text(json.dumps(data, indent=1, default=str))
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

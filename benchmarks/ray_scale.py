"""Ray Data throughput with 1 and 2 local workers on this machine (issue 10).

Colorizes the same folder with ``--ray --ray-workers N`` on a fresh local Ray instance per run
(startup excluded from the rate: the first image's time is measured apart) and, for reference,
without Ray. Prints a table and writes JSON.

Usage: python benchmarks/ray_scale.py IMAGES_DIR [--num 48] [--model DIR] [--out benchmarks/results]
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

CHILD = """
import sys, json, time
import ray
from paracolor.engine.batch import ColorizeConfig, colorize_files
from paracolor.engine.pipeline import EngineConfig
from paracolor.distributed.ray_data import colorize_ray
src, out, model, workers, warm = sys.argv[1:6]
engine = EngineConfig(model_dir=model or None)
if workers == "0":
    t0 = time.perf_counter(); s = colorize_files(ColorizeConfig(inputs=[src], output_dir=out, engine=engine, batch_size=4, progress=False))
else:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    colorize_ray(ColorizeConfig(inputs=[warm], output_dir=out + "_warm", engine=engine, batch_size=4, progress=False), None, int(workers))
    t0 = time.perf_counter(); s = colorize_ray(ColorizeConfig(inputs=[src], output_dir=out, engine=engine, batch_size=4, progress=False), None, int(workers))
print(json.dumps({"done": len(s.done), "failed": len(s.failed), "seconds": time.perf_counter() - t0}))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images")
    ap.add_argument("--num", type=int, default=48)
    ap.add_argument("--model", default="")
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--tag", default=platform.node())
    args = ap.parse_args()
    files = sorted(p for p in Path(args.images).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[: args.num]
    rows = []
    with tempfile.TemporaryDirectory(prefix="paracolor-ray-") as tmp:
        src, warm = Path(tmp) / "in", Path(tmp) / "warm"
        src.mkdir()
        warm.mkdir()
        for f in files:
            shutil.copy(f, src / f.name)
        for f in files[:4]:
            shutil.copy(f, warm / f.name)
        for workers in (0, 1, 2):
            res = subprocess.run([sys.executable, "-c", CHILD, str(src), str(Path(tmp) / f"out{workers}"), args.model, str(workers), str(warm)], capture_output=True, text=True, check=True)
            row = {"workers": workers or "no ray", **json.loads(res.stdout.strip().splitlines()[-1])}
            row["img_per_s"] = row["done"] / row["seconds"]
            rows.append(row)
            print(f"{row['workers']!s:>7}: {row['done']} images in {row['seconds']:.1f} s = {row['img_per_s']:.2f} img/s")
    from paracolor.bench.harness import environment

    env = environment()
    path = Path(args.out) / f"{env['date']}-{args.tag}-ray-scale.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"what": "paracolor colorize --ray throughput, local instance (warm actors: a 4-image job first)", "images": len(files), "environment": env, "rows": rows}, indent=1))
    print(f"written: {path}")


if __name__ == "__main__":
    main()

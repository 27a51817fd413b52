"""paracolor's CPU configurations against raw OpenVINO and raw onnxruntime on the same graphs,
measured in one run (issue 20), then the fastest configuration end to end.

1. Networks only: fg, then bg, then fusion on one 256x256 L (batch 1), for
   - raw onnxruntime (``InferenceSession(path)`` with default options: what a user would write)
     on the FP32, INT8 CPU-target (U8S8) and INT8 TensorRT-target (S8S8) graphs;
   - raw OpenVINO (``core.compile_model(path, "CPU", {"INFERENCE_PRECISION_HINT": ...})``) on the
     FP32 graphs at f32 and bf16, and on the U8S8 and S8S8 graphs;
   - paracolor (``Colorizer.infer``: the scheduler, casts and copies included) on every backend,
     precision and schedule that applies.
   Every configuration is loaded first; then rounds go over all of them in turn, so drift in the
   machine's load affects all alike. Each row is the median over rounds x reps.
2. End to end, the fastest paracolor configuration: the folder job (``colorize_files``, its
   decode / infer / write threads overlapping) on 256x256 photos, against that configuration's
   networks-only time measured in the same block; and on 3000x2000 grey JPEGs, with a per-stage
   profile (decode, prepare, networks, finish, encode) of the photo-after-photo path.

The S8S8 graphs come from ``paracolor calibrate --target tensorrt`` (made into --s8s8 when missing).
Writes ``<out>/<date>-<tag>-openvino-side-by-side.{json,md}``.

Usage: python benchmarks/cpu_side_by_side.py --images ../shared/data/val/coco [--s8s8 /tmp/s8s8] [--rounds 5]
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
import time
from pathlib import Path

import cv2
import numpy as np

from paracolor.bench.harness import environment
from paracolor.engine.io import decode_image, encode_image, find_images, read_image
from paracolor.engine.modelfolder import ModelFolder
from paracolor.engine.pipeline import Colorizer, EngineConfig, FinishBuffers

ROLES = ("fg", "bg", "fusion")


def load_avg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class RawOrt:
    def __init__(self, folder: Path):
        import onnxruntime as ort

        ort.set_default_logger_severity(3)
        self.s = {r: ort.InferenceSession(str(folder / f"{r}.onnx"), providers=["CPUExecutionProvider"]) for r in ROLES}

    def __call__(self, L):
        a = self.s["fg"].run(None, {"L": L})[0]
        b = self.s["bg"].run(None, {"L": L})[0]
        return self.s["fusion"].run(None, {"L": L, "ab_fg": a, "ab_bg": b})[0]


class RawOv:
    def __init__(self, folder: Path, hint: str):
        import openvino as ov

        core = ov.Core()
        self.r = {r: core.compile_model(str(folder / f"{r}.onnx"), "CPU", {"INFERENCE_PRECISION_HINT": hint}).create_infer_request() for r in ROLES}

    def __call__(self, L):
        a = self.r["fg"].infer({"L": L})[0].copy()
        b = self.r["bg"].infer({"L": L})[0].copy()
        return self.r["fusion"].infer({"L": L, "ab_fg": a, "ab_bg": b})[0].copy()


class Paracolor:
    def __init__(self, model_dir, backend, precision, schedule):
        self.col = Colorizer(EngineConfig(model_dir=model_dir, backend=backend, precision=precision, schedule=schedule))

    def __call__(self, L):
        return self.col.infer(L)["ab"]


def configurations(model: Path, s8s8: Path) -> dict:
    """name -> (callable on L, description)."""
    graphs = {"fp32": model / "fp32", "u8s8": model / "int8", "s8s8": s8s8 / "int8"}
    out = {}
    for g in ("fp32", "u8s8", "s8s8"):
        out[f"raw onnxruntime, {g}"] = lambda g=g: RawOrt(graphs[g])
    out["raw openvino, fp32 f32"] = lambda: RawOv(graphs["fp32"], "f32")
    out["raw openvino, fp32 bf16"] = lambda: RawOv(graphs["fp32"], "bf16")
    out["raw openvino, u8s8"] = lambda: RawOv(graphs["u8s8"], "f32")
    out["raw openvino, s8s8"] = lambda: RawOv(graphs["s8s8"], "f32")
    for backend, precisions in (("onnxruntime", ("fp32", "int8-u8s8")), ("openvino", ("fp32", "bf16", "int8-u8s8", "int8-s8s8"))):
        for p in precisions:
            prec, _, g = p.partition("-")
            folder = str(s8s8 if g == "s8s8" else model)
            for schedule in ("parallel", "sequential", "merged"):
                if backend == "onnxruntime" and schedule != "parallel":
                    continue  # its merged schedule needs a build --merge-fg-bg graph; sequential is slower
                out[f"paracolor {backend}, {p}, {schedule}"] = lambda folder=folder, b=backend, prec=prec, s=schedule: Paracolor(folder, b, prec, s)
    return out


def networks_only(runners: dict, L: np.ndarray, rounds: int, reps: int) -> dict:
    samples = {k: [] for k in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            run(L)  # one untimed call: caches warm after the other configurations ran
            for _ in range(reps):
                t0 = time.perf_counter()
                run(L)
                samples[name].append(1000 * (time.perf_counter() - t0))
    return {k: {"median_ms": float(np.median(v)), "min_ms": float(np.min(v)), "max_ms": float(np.max(v)), "n": len(v)} for k, v in samples.items()}


def folder_job(col: Colorizer, src: Path, batch: int) -> float:
    """ms per photo of colorize_files over the folder ``src`` (fresh output folder)."""
    from paracolor.engine.batch import ColorizeConfig, colorize_files

    out = Path(tempfile.mkdtemp(prefix="paracolor-sbs-out-"))
    try:
        n = len(find_images([str(src)]))
        t0 = time.perf_counter()
        s = colorize_files(ColorizeConfig(inputs=[str(src)], output_dir=str(out), batch_size=batch, progress=False), col)
        dt = time.perf_counter() - t0
        assert len(s.done) == n, s.failed
        return 1000 * dt / n
    finally:
        shutil.rmtree(out, ignore_errors=True)


def profile(col: Colorizer, blobs: list[bytes], rounds: int) -> dict:
    """Median ms per photo of each stage of the photo-after-photo path."""
    buffers = FinishBuffers()
    t = {k: [] for k in ("decode", "prepare", "networks", "finish", "encode")}
    for _ in range(rounds):
        for b in blobs:
            t0 = time.perf_counter()
            img = decode_image(b)
            t1 = time.perf_counter()
            prep = col.prepare(img)
            t2 = time.perf_counter()
            out = col.infer(prep.L_net[None])
            t3 = time.perf_counter()
            bgr = col.finish(prep, out["ab"][0], buffers)
            t4 = time.perf_counter()
            encode_image(bgr, "jpg")
            t5 = time.perf_counter()
            for k, a, z in zip(t, (t0, t1, t2, t3, t4), (t1, t2, t3, t4, t5)):
                t[k].append(1000 * (z - a))
    return {k: float(np.median(v)) for k, v in t.items()}


def end_to_end(name: str, make, images: Path, rounds: int, n: int, batch: int) -> dict:
    root = Path(tempfile.mkdtemp(prefix="paracolor-sbs-"))
    try:
        paths = [p for p, _ in find_images([str(images)])][:n]
        small = root / "256"
        small.mkdir()
        for p in paths:  # the photos as they are (256x256 JPEG); colorize reads their lightness
            shutil.copy(p, small / p.name)
        big = root / "3000x2000"
        big.mkdir()
        base = cv2.cvtColor(cv2.imread(str(paths[0])), cv2.COLOR_BGR2GRAY)
        for i in range(6):
            img = cv2.resize(np.roll(base, 17 * i, axis=1), (3000, 2000), interpolation=cv2.INTER_CUBIC)
            cv2.imwrite(str(big / f"{i}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
        runner = make()
        col = runner.col
        Ls = np.stack([col.prepare(read_image(p)).L_net for p in paths])
        folder_job(col, big, batch)  # first large photos: the Lab tables' kernels load and fill
        res = {"config": name, "batch": batch, "photos_256": len(paths), "rounds": []}
        for _ in range(rounds):
            t0 = time.perf_counter()
            for i in range(len(Ls)):
                col.infer(Ls[i : i + 1])
            nets = 1000 * (time.perf_counter() - t0) / len(Ls)
            res["rounds"].append({"networks_only_ms": nets, "folder_job_256_ms": folder_job(col, small, batch), "folder_job_3000x2000_ms": folder_job(col, big, batch), "load": load_avg()})
        for k in ("networks_only_ms", "folder_job_256_ms", "folder_job_3000x2000_ms"):
            res[k] = float(np.median([r[k] for r in res["rounds"]]))
        res["end_to_end_over_networks_256"] = res["folder_job_256_ms"] / res["networks_only_ms"]
        blobs = [p.read_bytes() for p in sorted(big.glob("*.jpg"))[:3]]
        res["profile_3000x2000_ms"] = profile(col, blobs, max(1, rounds // 2))
        res["profile_256_ms"] = profile(col, [p.read_bytes() for p in paths[:20]], max(1, rounds // 2))
        col.close()
        return res
    finally:
        shutil.rmtree(root, ignore_errors=True)


def ensure_s8s8(s8s8: Path, calib_images: str) -> None:
    if (s8s8 / "int8" / "fg.onnx").is_file():
        return
    cmd = [sys.executable, "-m", "paracolor.cli", "calibrate", "--images", calib_images, "--num", "32", "--target", "tensorrt", "-o", str(s8s8)]
    print("making the S8S8 graphs:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def markdown(result: dict) -> str:
    env = result["environment"]
    rows = sorted(result["networks_only"].items(), key=lambda kv: kv[1]["median_ms"])
    md = [
        f"# paracolor vs raw OpenVINO and raw onnxruntime on the CPU ({env['date']})", "",
        f"{env['cpu']}, {env['cores']} cores; {', '.join(f'{k} {v}' for k, v in env['libraries'].items() if k in ('onnxruntime', 'openvino', 'numpy'))}; "
        f"Python {env['python']}. The machine was shared with other sessions: load averages (1, 5, 15 min) {result['load_before']} before, {result['load_after']} after. "
        f"Written by `{result['command']}`.", "",
        f"## Networks only: fg, bg, fusion, batch 1, 256x256 (median of {result['rounds']} rounds x {result['reps']} in one run, all configurations interleaved)", "",
        "| configuration | median ms | min | max |", "|---|---|---|---|",
    ]
    md += [f"| {k} | {v['median_ms']:.1f} | {v['min_ms']:.1f} | {v['max_ms']:.1f} |" for k, v in rows]
    e = result["end_to_end"]
    md += [
        "", f"## End to end, fastest paracolor configuration: {e['config']} (folder job, batch {e['batch']})", "",
        "| what | ms per photo |", "|---|---|",
        f"| networks only (Colorizer.infer, batch 1, same block) | {e['networks_only_ms']:.1f} |",
        f"| folder job, {e['photos_256']} photos of 256x256 (decode, networks, finish, encode, write) | {e['folder_job_256_ms']:.1f} ({e['end_to_end_over_networks_256']:.2f}x networks) |",
        f"| folder job, 3000x2000 grey JPEGs | {e['folder_job_3000x2000_ms']:.1f} |",
        "", "Photo-after-photo profile (median ms per stage, one thread; the folder job overlaps decode and writing with the networks):", "",
        "| stage | 256x256 | 3000x2000 |", "|---|---|---|",
    ]
    md += [f"| {k} | {e['profile_256_ms'][k]:.1f} | {e['profile_3000x2000_ms'][k]:.1f} |" for k in e["profile_256_ms"]]
    return "\n".join(md) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model folder (default: bundled)")
    ap.add_argument("--s8s8", default=str(Path(tempfile.gettempdir()) / "paracolor-s8s8"), help="model folder with TensorRT-target int8/ graphs (made when missing)")
    ap.add_argument("--calib-images", default="../shared/data/train/extra", help="photos to calibrate the S8S8 graphs on")
    ap.add_argument("--images", required=True, help="256x256 photos for the end-to-end part")
    ap.add_argument("--num", type=int, default=100, help="photos in the end-to-end folder job")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=6)
    ap.add_argument("--batch", type=int, default=1, help="batch of the end-to-end folder job")
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--tag", default=platform.node())
    args = ap.parse_args()

    model = ModelFolder.load(args.model).root
    s8s8 = Path(args.s8s8)
    ensure_s8s8(s8s8, args.calib_images)
    load_before = load_avg()
    makers = configurations(model, s8s8)
    runners = {}
    for name, make in makers.items():
        t0 = time.perf_counter()
        runners[name] = make()
        print(f"loaded {name} in {time.perf_counter() - t0:.2f} s", flush=True)
    L = np.random.default_rng(0).uniform(-1, 1, (1, 1, 256, 256)).astype(np.float32)
    nets = networks_only(runners, L, args.rounds, args.reps)
    for name, r in runners.items():
        if isinstance(r, Paracolor):
            r.col.close()
    del runners
    fastest = min((k for k in nets if k.startswith("paracolor")), key=lambda k: nets[k]["median_ms"])
    e2e = end_to_end(fastest, makers[fastest], Path(args.images), args.rounds, args.num, args.batch)
    result = {
        "what": "issue 20: paracolor's CPU configurations side by side with raw OpenVINO and raw onnxruntime, one run",
        "command": "python " + " ".join([sys.argv[0], *sys.argv[1:]]),
        "environment": {**environment(), "libraries": {**environment()["libraries"], "openvino": __import__("openvino").__version__.split("-")[0]}},
        "load_before": load_before, "load_after": load_avg(), "rounds": args.rounds, "reps": args.reps,
        "networks_only": nets, "fastest_paracolor": fastest, "end_to_end": e2e,
        "s8s8_graphs": str(s8s8),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{result['environment']['date']}-{args.tag}-openvino-side-by-side"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1))
    stem.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    print(f"written: {stem}.json, {stem}.md")


if __name__ == "__main__":
    main()

"""The benchmark matrix: backend x precision x batch size x schedule x CUDA graphs.

Each configuration runs the real pipeline on real (or synthetic) photos: decode/preprocess,
the parallel colorization stage (fg || bg), fusion, postprocess (upsample, Lab->RGB, encode).
Every stage is timed separately per batch after a warm-up; configurations the machine cannot
run are listed as skipped with the reason. Runners return host arrays, so every stage time
includes the device synchronisation.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from .. import __version__, progress
from ..choices import COMPUTE_PRECISIONS, ROLES, graph_precision
from ..engine.io import encode_image, find_images, read_image
from ..engine.modelfolder import ModelFolder, make_graphs_hint
from ..engine.pipeline import Colorizer, EngineConfig
from ..errors import ConfigError, MissingDependency
from ..extras import require
from . import plan as bench_plan

STAGES = ("decode_preprocess", "parallel_colorization", "fusion", "postprocess", "end_to_end")
PAPER = {"device": "GTX 1080", "batch": 1, "parallel_colorization": 15.0, "fusion": 9.0, "networks_total": 24.0, "images": 1000}


@dataclass
class BenchConfig:
    """What to measure and where to write it."""

    out_dir: str
    model_dir: str | None = None
    images: str | None = None  # None: synthetic photos
    num: int = 1000  # images per configuration (cycling over the folder)
    warmup: int = 3  # warm-up batches
    backends: list[str] = field(default_factory=lambda: ["onnxruntime", "openvino", "torch", "tensorrt"])
    precisions: list[str] = field(default_factory=lambda: ["fp32", "fp16", "int8", "bf16"])
    batch_sizes: list[int] = field(default_factory=lambda: [1, 8, 32])
    schedules: list[str] = field(default_factory=lambda: ["sequential", "parallel", "merged"])
    cuda_graphs: list[bool] = field(default_factory=lambda: [False, True])
    size: int | None = None
    threads: int | None = None
    engines: str | None = None  # TensorRT engines (default: the model folder's engines/)
    image_size: tuple[int, int] = (256, 256)  # synthetic photos (width, height)
    tag: str = ""  # machine label for file names
    plot: bool = True
    video_heights: list[int] = field(default_factory=list)  # video rows at these heights (16:9), e.g. [480, 1080]
    video_frames: int = 48
    video_batch: int | None = None  # None: the backend's preferred batch (colorize's default)
    progress: bool = True  # the time estimate and a progress bar on stderr


def _has(mod: str) -> bool:
    return importlib.util.find_spec(mod) is not None


def _cuda_available() -> bool:
    if _has("torch"):
        import torch

        return torch.cuda.is_available()
    return False


def skip_reason(folder: ModelFolder, backend: str, precision: str, schedule: str, graphs: bool, engines: Path | None = None) -> str | None:
    """Why this machine cannot run a configuration (None: it can)."""
    if precision in COMPUTE_PRECISIONS and backend not in COMPUTE_PRECISIONS[precision][1]:
        return f"{precision} is computed by {' and '.join(COMPUTE_PRECISIONS[precision][1])} only (the {graph_precision(precision)} graphs in {precision})"
    if backend == "openvino":
        if not _has("openvino"):
            return "openvino is not installed (pip install 'paracolor[openvino]')"
        if graphs:
            return "CUDA graphs need a CUDA backend (torch on a GPU, or TensorRT)"
        if precision == "bf16":
            from ..engine.backends.openvino import has_bf16

            return None if has_bf16() else "this CPU has no bf16 that OpenVINO can use (AVX-512 BF16 or AMX)"
        if precision != "fp32" and not (folder.root / precision / "fg.onnx").is_file():
            how = "paracolor calibrate" if precision == "int8" else f"paracolor build --precision {precision}"
            return f"no {precision} graphs in the model folder (make them with '{how}')"
        return None  # its merged schedule joins fg and bg itself: no merged graph needed
    if backend == "tensorrt":
        if not _has("tensorrt"):
            return "TensorRT is not importable on this machine"
        if engines is None or not engines.is_dir():
            return f"no TensorRT engines in {engines} (build them with 'paracolor build --precision {precision}', or give --engines)"
        return None
    if graphs and (backend == "onnxruntime" or not _cuda_available()):
        return "CUDA graphs need a CUDA backend (torch on a GPU, or TensorRT)"
    if backend == "torch":
        if not _has("torch"):
            return "torch is not installed (pip install 'paracolor[train]')"
        if precision == "int8":
            return "the torch backend has no int8 path (int8 is a Q/DQ ONNX graph)"
        if precision == "fp16" and not _cuda_available():
            return "fp16 with the torch backend needs CUDA"
        if schedule == "merged":
            return "the merged fg+bg graph is an ONNX/TensorRT artifact"
        if not (folder.root / "checkpoints").is_dir():
            return "the model folder has no PyTorch checkpoints"
        return None
    if backend == "onnxruntime":
        if precision != "fp32" and not (folder.root / precision / "fg.onnx").is_file():
            return f"no {precision} graphs in the model folder: {make_graphs_hint(precision)}"
        if schedule == "merged" and not (folder.root / precision / "fg_bg.onnx").is_file():
            return f"no merged {precision} graph: {make_graphs_hint(precision, merged=True)}"
        return None
    return f"unknown backend {backend}"


def synthetic_photos(n: int, width: int, height: int, seed: int = 0) -> list[np.ndarray]:
    """Smooth random colour images (JPEG-encoded bytes decode like photos)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        small = rng.uniform(0, 255, (8, 8, 3)).astype(np.float32)
        img = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
        out.append(np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8))
    return out


class _Source:
    """Image source cycling over files (decoded each time: decode is a timed stage) or memory."""

    def __init__(self, cfg: BenchConfig, tmp: Path):
        if cfg.images:
            self.paths = [p for p, _ in find_images([cfg.images])]
            if not self.paths:
                raise ConfigError(f"{cfg.images}: no images to benchmark")
        else:
            tmp.mkdir(parents=True, exist_ok=True)
            self.paths = []
            for i, img in enumerate(synthetic_photos(16, *cfg.image_size)):
                p = tmp / f"synthetic_{i}.jpg"
                cv2.imwrite(str(p), img)
                self.paths.append(p)

    def batches(self, num: int, bs: int):
        cyc = itertools.cycle(self.paths)
        left = num
        while left > 0:
            take = min(bs, left)
            yield [next(cyc) for _ in range(take)]
            left -= take


def _reset_peak_rss() -> None:
    try:  # Linux: "5" resets the peak resident set size (VmHWM) of this process
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _peak_rss_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _stats(values_ms: list[float]) -> dict:
    a = np.asarray(values_ms)
    return {"mean": float(a.mean()), "median": float(np.median(a)), "p90": float(np.percentile(a, 90)), "p99": float(np.percentile(a, 99))}


def model_flops(folder: ModelFolder, precision: str, size: int) -> dict:
    """FLOPs per image of fg, bg and fusion (from the ONNX graphs used)."""
    onnx = require("onnx", "counting FLOPs", "build")
    from .flops import count_flops

    graphs = graph_precision(precision)
    prec = graphs if (folder.root / graphs / "fg.onnx").is_file() else "fp32"
    per = {r: count_flops(onnx.load(str(folder.root / prec / f"{r}.onnx")), size)["total"] for r in ROLES}
    per["total"] = sum(per.values())
    return per


def _torch_cuda_reset_peak() -> bool:
    """Reset torch's peak device-memory counter; False when torch has no CUDA device."""
    if not _cuda_available():
        return False
    import torch

    torch.cuda.reset_peak_memory_stats()
    return True


def _torch_cuda_peak_mb() -> float:
    import torch

    return torch.cuda.max_memory_allocated() / 2**20


def measured_gpu_peak_tflops(dtype: str = "fp16", seconds: float = 1.0) -> float | None:
    """Dense GEMM throughput of the CUDA device through torch (the GPU's 'measured peak')."""
    if not _cuda_available():
        return None
    import torch

    n = 8192
    dt = torch.float16 if dtype == "fp16" else torch.float32
    a = torch.randn(n, n, device="cuda", dtype=dt)
    b = torch.randn(n, n, device="cuda", dtype=dt)
    a @ b
    torch.cuda.synchronize()
    t0, reps = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        a @ b
        reps += 1
        torch.cuda.synchronize()
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e12


def run_config(cfg: BenchConfig, source: _Source, backend: str, precision: str, bs: int, schedule: str, graphs: bool = False, on_batch=None) -> dict:
    """Time one configuration; returns per-stage statistics in ms per image. ``on_batch(n)`` is
    called after each batch of n images, warm-up included (the progress bar)."""
    engines = str(_engines(cfg)) if backend == "tensorrt" else None
    engine = EngineConfig(model_dir=cfg.model_dir, backend=backend, precision=precision, size=cfg.size, schedule=schedule, threads=cfg.threads, cuda_graphs=graphs, max_batch=bs, engines=engines)
    _reset_peak_rss()
    on_gpu = _torch_cuda_reset_peak() if backend == "torch" else False
    col = Colorizer(engine)
    device = col.describe().get("device", "cpu")
    per: dict[str, list[float]] = {s: [] for s in STAGES}
    try:
        batches = source.batches(cfg.num + cfg.warmup * bs, bs)
        for k, paths in enumerate(batches):
            t0 = time.perf_counter()
            preps = [col.prepare(read_image(p)) for p in paths]
            t1 = time.perf_counter()
            out = col.infer(np.stack([p.L_net for p in preps]))
            gen, fus = col.timings["generators"], col.timings["fusion"]
            t2 = time.perf_counter()
            for i, prep in enumerate(preps):
                encode_image(col.finish(prep, out["ab"][i]), "jpg")
            t3 = time.perf_counter()
            if on_batch is not None:
                on_batch(len(paths))
            if k < cfg.warmup:
                continue
            n = len(paths)
            for name, value in zip(STAGES, (t1 - t0, gen, fus, t3 - t2, t3 - t0)):
                per[name].append(1000.0 * value / n)
    finally:
        col.close()
    stats = {s: _stats(v) for s, v in per.items()}
    return {
        "stages_ms_per_image": stats,
        "throughput_img_s": 1000.0 / stats["end_to_end"]["mean"],
        "networks_ms_per_image": stats["parallel_colorization"]["mean"] + stats["fusion"]["mean"],
        "batches_timed": len(per["end_to_end"]),
        "peak_rss_mb": _peak_rss_mb(),
        "device_memory_mb": _torch_cuda_peak_mb() if on_gpu else None,
        "device": "cpu" if device == "cpu" else "cuda",
        "device_name": device,
    }


def _engines(cfg: BenchConfig) -> Path:
    return Path(cfg.engines) if cfg.engines else ModelFolder.load(cfg.model_dir).root


def environment() -> dict:
    """CPU, GPU, driver and library versions of this machine."""
    from ..info import _version, nvidia_smi_gpu

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    libs = {d: _version(d) for d in ("onnxruntime", "onnxruntime-gpu", "numpy", "opencv-python", "torch", "tensorrt")}
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "gpu": nvidia_smi_gpu(),
        "python": platform.python_version(),
        "paracolor": __version__,
        "libraries": {k: v for k, v in libs.items() if v},
        "date": time.strftime("%Y-%m-%d"),
    }


def _video_rows(cfg: BenchConfig, folder: ModelFolder) -> list[dict]:
    """The video job at each of ``cfg.video_heights`` per runnable backend and precision
    (parallel schedule where asked for, no CUDA graphs)."""
    from .video import run_video

    schedule = "parallel" if "parallel" in cfg.schedules else cfg.schedules[0]
    rows = []
    for backend, precision in itertools.product(cfg.backends, cfg.precisions):
        if skip_reason(folder, backend, precision, schedule, False, _engines(cfg) / ("" if cfg.engines else "engines")):
            continue
        engines = str(_engines(cfg)) if backend == "tensorrt" else None
        engine = EngineConfig(model_dir=cfg.model_dir, backend=backend, precision=precision, size=cfg.size, schedule=schedule, threads=cfg.threads, max_batch=cfg.video_batch or 8, engines=engines)
        rows += run_video(engine, cfg.video_heights, cfg.video_frames, cfg.video_batch)
    return rows


def _probe(cfg: BenchConfig, source: _Source, key: dict) -> tuple[float, float]:
    """Seconds to load one configuration and seconds per image (batch 1): the estimate's base."""
    t0 = time.perf_counter()
    res = run_config(replace(cfg, num=2, warmup=1), source, key["backend"], key["precision"], 1, key["schedule"], key["cuda_graphs"])
    per_image = res["stages_ms_per_image"]["end_to_end"]["mean"] / 1000.0
    return max(time.perf_counter() - t0 - 3 * per_image, 0.0), per_image


def _say(cfg: BenchConfig, text: str) -> None:
    if cfg.progress:
        print(text, file=sys.stderr, flush=True)


def run_bench(cfg: BenchConfig) -> dict:
    """Run the whole matrix; writes JSON, Markdown and PNG into ``cfg.out_dir``; returns the result.

    Before it starts it says how many configurations run, which are skipped (one line per
    reason) and about how long the run takes; a progress bar (images) follows the run."""
    from .report import write_outputs

    folder = ModelFolder.load(cfg.model_dir)
    size = cfg.size or folder.network_size("fp32")
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    source = _Source(cfg, out / ".bench_synthetic")
    env = environment()
    runnable, skipped = [], []
    for backend, precision, bs, schedule, graphs in itertools.product(cfg.backends, cfg.precisions, cfg.batch_sizes, cfg.schedules, cfg.cuda_graphs):
        key = {"backend": backend, "precision": precision, "batch": bs, "schedule": schedule, "cuda_graphs": graphs}
        reason = skip_reason(folder, backend, precision, schedule, graphs, _engines(cfg) / ("" if cfg.engines else "engines"))
        if reason:
            skipped.append({**key, "reason": reason})
        else:
            runnable.append(key)
    if skipped:
        _say(cfg, f"{bench_plan.configurations(len(skipped))} skipped on this machine:\n" + "\n".join(f"  {line}" for line in bench_plan.skip_summary(skipped)))
    if runnable and cfg.progress:
        load_s, per_image = _probe(cfg, source, runnable[0])
        total = bench_plan.estimate_seconds([k["batch"] for k in runnable], cfg.num, cfg.warmup, load_s, per_image)
        _say(cfg, f"{bench_plan.configurations(len(runnable))} x {cfg.num} images (+ {cfg.warmup} warm-up batches each): about {bench_plan.duration(total)} "
                  f"(probe: {1000 * per_image:.0f} ms per image at batch 1, {load_s:.1f} s to load)")
    cpu_peaks: dict[tuple[str, str], dict] = {}  # (backend, precision) -> paracolor.bench.peak.cpu_peak
    gpu_peak = {p: measured_gpu_peak_tflops(p) for p in ("fp32", "fp16")} if _cuda_available() and {"torch", "tensorrt"} & set(cfg.backends) else {}
    results, notes = [], []
    bar = progress.bar(total=sum(bench_plan.images_timed(k["batch"], cfg.num, cfg.warmup) for k in runnable), desc="bench", unit="img", disable=not cfg.progress)
    for key in runnable:
        backend, precision, bs, schedule, graphs = (key[k] for k in bench_plan.KEYS)
        bar.set_postfix_str(f"{backend} {precision} bs{bs} {schedule}" + (" graphs" if graphs else ""))
        res = run_config(cfg, source, backend, precision, bs, schedule, graphs, on_batch=bar.update)
        try:
            flops = model_flops(folder, precision, size)
        except MissingDependency as exc:  # the light install has no onnx: time, but count nothing
            flops = None
            if str(exc) not in notes:
                notes.append(f"FLOPs not counted: {exc}")
        res["gflops_per_image"] = flops["total"] / 1e9 if flops else None
        res["achieved_gflops_s"] = flops["total"] / (res["networks_ms_per_image"] / 1000.0) / 1e9 if flops else None
        if res["device"] == "cuda":  # tensor-core GEMM of the stage's precision (TF32 off: plain FP32)
            gemm = gpu_peak.get("fp16" if precision == "fp16" else "fp32")
            res["peak_gflops_s"] = 1000.0 * gemm if gemm else None
            res["peak_kind"] = f"measured {precision.upper()} 8192^3 GEMM (torch) on the GPU" if gemm else "not measured (needs torch with CUDA)"
        else:  # the CPU: the ISA bound or the runtime's own MatMul at this precision, the larger
            from .peak import cpu_peak

            if (backend, precision) not in cpu_peaks:
                cpu_peaks[(backend, precision)] = cpu_peak(backend, precision)
            p = cpu_peaks[(backend, precision)]
            res["peak_gflops_s"] = p["peak_gflops_s"]
            res["peak_kind"] = f"CPU {precision}: the larger of {p['isa_how']} and {p['runtime_gemm_how']} ({p['runtime_gemm_gflops_s'] or 0:.0f} GFLOP/s)"
            res["peak_detail"] = p
        res["fraction_of_peak"] = res["achieved_gflops_s"] / res["peak_gflops_s"] if res["peak_gflops_s"] and res["achieved_gflops_s"] else None
        results.append({**key, **res})
    bar.close()
    video = _video_rows(cfg, folder) if cfg.video_heights else []
    data = {
        "config": {k: v for k, v in asdict(cfg).items()},
        "network_size": size,
        "environment": env,
        "paper": PAPER,
        "flops_note": "Conv, MatMul, Gemm and Attention counted (2 FLOPs per multiply-add); element-wise ops omitted",
        "results": results,
        "skipped": skipped,
        "video": video,
        "notes": notes,
    }
    data["files"] = write_outputs(data, out, cfg.tag or platform.node(), cfg.plot)
    return data

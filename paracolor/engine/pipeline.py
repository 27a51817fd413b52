"""The colorization pipeline on decoded images (no torch).

decode -> L at full resolution + L resized to the network size -> fg || bg -> fusion ->
ab upsampled to full size -> + original L -> BGR. The networks only decide colour: the output's
lightness is the input's.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .. import colorspace
from .io import DecodedImage
from .modelfolder import ROLES, ModelError, ModelFolder
from .runners.base import Runner
from .scheduler import SCHEDULES, StageScheduler

BACKENDS = ("auto", "onnxruntime", "torch", "tensorrt")


@dataclass
class EngineConfig:
    """How to run the model: which folder, backend, precision, network size and schedule."""

    model_dir: str | None = None  # None: the bundled default model
    backend: str = "auto"
    precision: str = "fp32"
    size: int | None = None  # network input size; None: the model's own (256)
    schedule: str = "parallel"
    threads: int | None = None  # CPU threads in total; None: all cores
    device: str = "auto"
    engines: str | None = None  # TensorRT: an engine folder, or a bundle/model folder holding engines/
    cuda_binding: str = "auto"  # cuda-python or pycuda (TensorRT backend)
    memory_mode: str = "auto"  # device | zero-copy | auto (zero-copy on integrated GPUs)
    cuda_graphs: bool = False
    max_batch: int = 8  # GPU buffers (torch on CUDA); TensorRT takes its engines' profile

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; choose from {BACKENDS}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; choose from {SCHEDULES}")
        if self.size is not None and (self.size < 32 or self.size % 32):
            raise ValueError(f"size must be a positive multiple of 32, got {self.size}")
        if self.backend == "auto" and self.engines:
            self.backend = "tensorrt"
        if self.backend == "tensorrt" and not self.engines:
            raise ValueError("the tensorrt backend needs --engines DIR (built with 'paracolor build')")


@dataclass
class Prepared:
    """One image ready for the networks: L at network size and at full resolution."""

    image: DecodedImage
    L_net: np.ndarray  # (1, S, S) float32
    L_full: np.ndarray  # (H, W): uint8 OpenCV L for 8-bit images, float [0, 100] for 16-bit


@dataclass
class Colorized:
    """A colorized image in OpenCV's BGR order, at the input's size and bit depth."""

    path: str
    bgr: np.ndarray
    alpha: np.ndarray | None = None
    stages: dict[str, np.ndarray] = field(default_factory=dict)  # "fg"/"bg" -> BGR

    @property
    def rgb(self) -> np.ndarray:
        return self.bgr[..., ::-1]


class FinishBuffers:
    """Full-resolution buffers that one finishing thread reuses from photo to photo.

    A fresh buffer per photo costs page faults and the kernel's zeroing of new pages on every
    photo (with the allocator's trimming, several milliseconds of CPU per 3000x2000 photo here,
    beside an inference that keeps every core busy). An array handed out is overwritten by the
    next request under the same name: for a loop that is done with each result before the next.
    """

    def __init__(self):
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype=np.uint8) -> np.ndarray:
        a = self._arrays.get(name)
        if a is None or a.shape != shape or a.dtype != dtype:
            a = self._arrays[name] = np.empty(shape, dtype)
        return a


def area_downscale(plane: np.ndarray, size: int) -> np.ndarray:
    """Area-filtered ``size`` x ``size`` copy of a large plane, by exact 2x2 halvings first.

    OpenCV's area filter at a non-integer ratio runs on one core (5.4 ms for 3000x2000 here);
    halving is its fast integer path. Halving stops while both sides are still at least twice
    ``size``, so the last step still averages two or more pixels per output in each direction;
    the result differs from one direct area resize by at most one 8-bit level.
    """
    x = plane
    while x.shape[0] >= 4 * size and x.shape[1] >= 4 * size:
        h, w = x.shape[0] & ~1, x.shape[1] & ~1  # an odd last row/column is dropped (< 1/2000 of the photo)
        x = cv2.resize(x[:h, :w], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    return cv2.resize(x, (size, size), interpolation=cv2.INTER_AREA)


def network_L(image: DecodedImage, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(L at network size (1, S, S) in network scale, L at full resolution), as inference uses them.

    8-bit photos keep OpenCV's 8-bit L at full resolution (merged back byte for byte); 16-bit
    photos use float L in [0, 100]. The network input is the area-filtered downscale
    (:func:`area_downscale`).
    """
    if image.bit_depth == 8:
        L_full = image.lab_L8()
        L_net = colorspace.L8_to_net(area_downscale(L_full, size))
    else:
        L_full = image.lab_L()
        L_net = colorspace.L_to_net(area_downscale(L_full, size))
    return L_net[None], L_full


def make_gpu_scheduler(folder: ModelFolder, cfg: EngineConfig, size: int):
    """The two-stream scheduler for the TensorRT backend, or for torch on a CUDA device (None otherwise)."""
    from .gpu_scheduler import StreamScheduler
    from .memory import select_memory_mode

    if cfg.backend == "tensorrt":
        import importlib.util

        if importlib.util.find_spec("tensorrt") is None:
            raise ModelError("the tensorrt backend needs TensorRT's Python bindings (JetPack, or NVIDIA's tensorrt wheels); use --backend onnxruntime here")
        from .cuda import get_cuda
        from .runners.tensorrt import load_trt_stages

        api = get_cuda(cfg.cuda_binding)
        precision = cfg.precision
        manifest = Path(cfg.engines) / "bundle.json"
        if manifest.is_file():  # a deploy bundle's engines have the bundle's precision
            precision = json.loads(manifest.read_text())["precision"]
        stages = load_trt_stages(cfg.engines, precision, api, cfg.schedule, cfg.cuda_graphs)
        mode, _ = select_memory_mode(api.properties()["integrated"], None if cfg.memory_mode == "auto" else cfg.memory_mode)
        max_batch = min(getattr(s, "max_batch", cfg.max_batch) for s in stages.values())
        if cfg.schedule == "merged":
            return StreamScheduler(api, stages["fg_bg"], None, stages["fusion"], max_batch, "merged", memory_mode=mode)
        return StreamScheduler(api, stages["fg"], stages["bg"], stages["fusion"], max_batch, cfg.schedule, memory_mode=mode)
    if cfg.backend == "torch" and cfg.device != "cpu":
        # the torch backend was asked for: the models package decides whether CUDA is there
        from ..models.cuda_runner import torch_cuda_scheduler_if_available

        return torch_cuda_scheduler_if_available(folder, size, cfg.max_batch, cfg.precision, cfg.schedule, cfg.cuda_graphs)
    return None


def make_runners(folder: ModelFolder, cfg: EngineConfig) -> dict[str, Runner]:
    """One runner per role on the configured backend."""
    backend = "onnxruntime" if cfg.backend == "auto" else cfg.backend
    if backend == "torch":
        from ..models.runner import TorchRunner  # torch only when asked for

        return {role: TorchRunner.from_folder(folder, role, cfg.precision, cfg.device) for role in ROLES}
    from .runners.onnxruntime import OrtRunner, pick_providers

    providers = pick_providers(cfg.device)
    cores = cfg.threads or os.cpu_count() or 1
    if cfg.schedule == "merged":
        merged = folder.root / cfg.precision / "fg_bg.onnx"
        if not merged.is_file():
            raise ModelError(f"{merged}: no merged fg+bg graph; run 'paracolor build --merge-fg-bg --precision {cfg.precision}'")
        return {"fg_bg": OrtRunner(merged, "fg+bg", providers, cores), "fusion": OrtRunner(folder.onnx_path("fusion", cfg.precision), "fusion", providers, cores)}
    # Two generators at once share the cores; run alone, each stage may use all of them.
    gen_threads = max(1, cores // 2) if cfg.schedule == "parallel" else cores
    threads = {"fg": gen_threads, "bg": gen_threads, "fusion": cores}
    return {role: OrtRunner(folder.onnx_path(role, cfg.precision), role, providers, threads[role]) for role in ROLES}


class Colorizer:
    """Loads a model folder and colorizes batches of decoded images."""

    def __init__(self, cfg: EngineConfig | None = None, runners: dict[str, Runner] | None = None):
        self.cfg = cfg = cfg or EngineConfig()
        self.folder = ModelFolder.load(cfg.model_dir)
        self.size = cfg.size or self.folder.network_size(cfg.precision)
        if cfg.precision != "fp32" and self.size != self.folder.network_size(cfg.precision):
            raise ValueError(
                f"the {cfg.precision} graphs in {self.folder.root} were built for {self.folder.network_size(cfg.precision)} px, not {self.size}"
            )
        gpu = None if runners else make_gpu_scheduler(self.folder, cfg, self.size)
        if gpu is not None:
            self.runners, self.scheduler = {}, gpu
            return
        self.runners = runners or make_runners(self.folder, cfg)
        if cfg.schedule == "merged":
            self.scheduler = StageScheduler(self.runners["fg_bg"], None, self.runners["fusion"], "merged")
        else:
            self.scheduler = StageScheduler(self.runners["fg"], self.runners["bg"], self.runners["fusion"], cfg.schedule)

    def close(self):
        self.scheduler.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- stages ---------------------------------------------------------------------------
    def prepare(self, image: DecodedImage) -> Prepared:
        """Full-resolution L, and L resized (area filter) to the network size."""
        return Prepared(image, *network_L(image, self.size))

    def infer(self, L_batch: np.ndarray) -> dict[str, np.ndarray]:
        """fg || bg -> fusion on a (N,1,S,S) batch; returns ab_fg, ab_bg and ab (network scale)."""
        L_batch = np.ascontiguousarray(L_batch, dtype=np.float32)
        limit = getattr(self.scheduler, "max_batch", None)  # GPU buffers are sized once
        if limit is None or len(L_batch) <= limit:
            return self.scheduler.run(L_batch)
        parts = [self.scheduler.run(L_batch[i : i + limit]) for i in range(0, len(L_batch), limit)]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    @staticmethod
    def finish(prep: Prepared, ab_net: np.ndarray, buffers: FinishBuffers | None = None, name: str = "ab") -> np.ndarray:
        """Upsample network ab (2,S,S) to the image size and merge with the original L (BGR).

        With ``buffers``, 8-bit results are written into its arrays (``name`` keeps apart the
        results one photo needs at once) instead of new ones.
        """
        w, h = prep.image.size
        S = ab_net.shape[-1]
        interp = cv2.INTER_LINEAR if (w >= S or h >= S) else cv2.INTER_AREA
        if prep.image.bit_depth == 8:
            up = buffers.get("ab8", (h, w, 2)) if buffers else None
            ab8 = cv2.resize(colorspace.ab_net_to_ab8(ab_net), (w, h), dst=up, interpolation=interp).reshape(h, w, 2)
            return colorspace.lab8_to_bgr(prep.L_full, ab8, buffers.get(f"bgr-{name}", (h, w, 3)) if buffers else None)
        ab = cv2.resize(np.ascontiguousarray(colorspace.net_to_ab(ab_net).transpose(1, 2, 0)), (w, h), interpolation=interp)
        return colorspace.lab_to_bgr16(prep.L_full, ab.reshape(h, w, 2))

    def run(self, prepared: list[Prepared], stages: bool = False) -> list[Colorized]:
        """Colorize prepared images as one batch."""
        if not prepared:
            return []
        out = self.infer(np.stack([p.L_net for p in prepared]))
        return [self.colorized(prep, {k: v[i] for k, v in out.items()}, stages) for i, prep in enumerate(prepared)]

    def colorized(self, prep: Prepared, ab: dict[str, np.ndarray], stages: bool = False, buffers: FinishBuffers | None = None) -> Colorized:
        """One image's network outputs (``ab``, and ``ab_fg``/``ab_bg`` for ``stages``) -> result.

        Thread-safe (it touches no runner), so a batch job can finish one image while the
        networks run on the next. With ``buffers`` (one per thread), the result's arrays are
        that object's and the next call overwrites them.
        """
        extra = {role: self.finish(prep, ab[f"ab_{role}"], buffers, f"ab_{role}") for role in ("fg", "bg")} if stages else {}
        return Colorized(prep.image.path, self.finish(prep, ab["ab"], buffers), prep.image.alpha, extra)

    def colorize(self, images: list[DecodedImage], stages: bool = False) -> list[Colorized]:
        """Decoded images -> colorized images (one batch)."""
        return self.run([self.prepare(im) for im in images], stages)

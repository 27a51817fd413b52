"""PyTorch checkpoints -> verified FP32 ONNX model folder (torch is needed here only).

A model folder is what the engine loads::

    model.json          config, colour constants, input size, hashes, verification figures
    checkpoints/        the source PyTorch weights (safetensors), for the torch backend
    fp32/fg.onnx        L (N,1,H,W) -> ab (N,2,H,W)
    fp32/bg.onnx        L (N,1,H,W) -> ab (N,2,H,W)
    fp32/fusion.onnx    L, ab_fg, ab_bg -> ab

Batch, height and width are dynamic axes (H and W multiples of 32); TensorRT builds fix them
with an optimisation profile. Every graph is checked against PyTorch with onnxruntime on random
and real inputs before the folder is written; the check fails the export above ``tolerance``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .. import __version__, colorspace
from ..engine.io import find_images, read_image
from ..engine.modelfolder import IO_NAMES, META_PREFIX, MODEL_FORMAT, ROLES
from ..errors import ConfigError, ParacolorError
from ..hashing import file_sha256
from ..logs import library_warnings, quiet_onnxruntime
from ..models.checkpoint import load_model
from ..models.config import config_to_json
from ..models.fusion import FusionHead

log = logging.getLogger("paracolor.export")

OPSET = 17


class ExportError(ParacolorError, RuntimeError):
    """An exported graph that does not match its PyTorch model within the tolerance."""


@dataclass
class ExportConfig:
    """Inputs of :func:`export_model_folder`."""

    fg: str
    bg: str
    fusion: str
    out_dir: str
    size: int = 256
    opset: int = OPSET
    check: bool = True
    tolerance: float = 1e-4
    check_images: list[str] = field(default_factory=list)
    check_count: int = 4
    extra_meta: dict = field(default_factory=dict)


def _dynamic_axes(names):
    return {n: {0: "batch", 2: "height", 3: "width"} for n in names}


def export_onnx(module: torch.nn.Module, role: str, path: Path, size: int, opset: int, meta: dict) -> Path:
    """Export one network (FP32) with dynamic batch/height/width and paracolor metadata."""
    import onnx

    inputs, outputs = (list(names) for names in IO_NAMES[role])
    args = tuple(torch.zeros(1, 1 if n == "L" else 2, size, size) for n in inputs)
    module = module.eval().float()
    # the TorchScript exporter is deprecated upstream but is the one that folds batch norm and
    # keeps attention as MatMul -> Softmax -> MatMul for the builder's graph pass; its
    # deprecation and constant-folding warnings are shown with -v
    with torch.no_grad(), library_warnings("torch.onnx"):
        torch.onnx.export(
            module,
            args,
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=_dynamic_axes(inputs + outputs),
            do_constant_folding=True,
        )
    model = onnx.load(str(path))
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = f"{META_PREFIX}{key}", value if isinstance(value, str) else json.dumps(value)
    model.producer_name, model.producer_version = "paracolor", __version__
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _real_batch(images: list[str], count: int, size: int) -> np.ndarray | None:
    """L of up to ``count`` real photos at ``size`` (network scale), or None if none given."""
    from ..engine.pipeline import network_L

    paths = [p for p, _ in find_images(images)][:count] if images else []
    if not paths:
        return None
    return np.stack([network_L(read_image(p), size)[0] for p in paths]).astype(np.float32)


def verify_onnx(module: torch.nn.Module, path: Path, feeds_list: list[dict[str, np.ndarray]]) -> dict:
    """Max and mean absolute difference between onnxruntime and PyTorch over the given feeds."""
    ort = quiet_onnxruntime()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst, means = 0.0, []
    module = module.eval()
    for feeds in feeds_list:
        with torch.no_grad():
            ref = module(*(torch.from_numpy(feeds[i.name]) for i in sess.get_inputs())).numpy()
        got = sess.run(None, feeds)[0]
        diff = np.abs(ref - got)
        worst = max(worst, float(diff.max()))
        means.append(float(diff.mean()))
    return {"max_abs": worst, "mean_abs": float(np.mean(means)), "cases": len(feeds_list)}


def _feeds(role: str, L: np.ndarray, rng: np.random.Generator) -> dict:
    if role != "fusion":
        return {"L": L}
    n, _, h, w = L.shape
    return {
        "L": L,
        "ab_fg": rng.uniform(-0.6, 0.6, (n, 2, h, w)).astype(np.float32),
        "ab_bg": rng.uniform(-0.6, 0.6, (n, 2, h, w)).astype(np.float32),
    }


def _install(staging: Path, out: Path) -> None:
    """Move the verified ``fp32/``, ``checkpoints/`` and ``model.json`` into ``out``; other files stay."""
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("fp32", "checkpoints"):
        old = out / f".{sub}.replaced"
        if old.exists():
            shutil.rmtree(old)
        if (out / sub).exists():
            os.replace(out / sub, old)
        os.replace(staging / sub, out / sub)
        shutil.rmtree(old, ignore_errors=True)
    os.replace(staging / "model.json", out / "model.json")


def export_model_folder(cfg: ExportConfig) -> dict:
    """Export fg, bg and fusion checkpoints into a verified model folder; returns model.json.

    The folder is assembled in a temporary directory and moved into place only when every
    check passed, so a failed export never leaves a half-written model behind.
    """
    if cfg.size % 32:
        raise ConfigError(f"size must be a multiple of 32, got {cfg.size}")
    out = Path(cfg.out_dir)
    sources = {"fg": cfg.fg, "bg": cfg.bg, "fusion": cfg.fusion}
    modules = {
        "fg": load_model(cfg.fg, expect_kind="generator"),
        "bg": load_model(cfg.bg, expect_kind="generator"),
        "fusion": load_model(cfg.fusion, expect_kind="fusion"),
    }
    rng = np.random.default_rng(0)
    real = _real_batch(cfg.check_images, cfg.check_count, cfg.size) if cfg.check else None
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (staging / "fp32").mkdir()
        (staging / "checkpoints").mkdir()
        for role, src in sources.items():  # the torch backend and the builder start from these
            shutil.copyfile(src, staging / "checkpoints" / f"{role}.safetensors")
        card = {
            "format": MODEL_FORMAT,
            "paracolor_version": __version__,
            "input_size": cfg.size,
            "opset": cfg.opset,
            "colorspace": colorspace.constants(),
            "models": {},
            **cfg.extra_meta,
        }
        for role in ROLES:
            module = modules[role]
            kind = "fusion" if role == "fusion" else "generator"
            sha = file_sha256(sources[role])
            meta = {
                "role": role,
                "config": config_to_json(kind, module.config),
                "colorspace": colorspace.constants(),
                "input_size": str(cfg.size),
                "source_checkpoint": Path(sources[role]).name,
                "source_sha256": sha,
            }
            net = FusionHead(module) if role == "fusion" else module
            path = export_onnx(net, role, staging / "fp32" / f"{role}.onnx", cfg.size, cfg.opset, meta)
            entry = {
                "file": f"fp32/{role}.onnx",
                "sha256": file_sha256(path),
                "kind": kind,
                "config": json.loads(meta["config"])["config"],
                "source_checkpoint": meta["source_checkpoint"],
                "source_sha256": sha,
            }
            if cfg.check:
                cases = [_feeds(role, rng.uniform(-1, 1, (2, 1, cfg.size, cfg.size)).astype(np.float32), rng)]
                if real is not None:
                    cases.append(_feeds(role, real, rng))
                report = verify_onnx(net, path, cases)
                report["real_images"] = 0 if real is None else int(real.shape[0])
                entry["verification"] = report
                if report["max_abs"] > cfg.tolerance:
                    raise ExportError(
                        f"{role}.onnx differs from PyTorch by {report['max_abs']:.3g} (> {cfg.tolerance:g}); export rejected"
                    )
                log.info("%s.onnx verified: max abs %.2e over %d cases", role, report["max_abs"], report["cases"])
            card["models"][role] = entry
        (staging / "model.json").write_text(json.dumps(card, indent=1))
        _install(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return card

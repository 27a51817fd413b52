"""``paracolor calibrate``: Q/DQ graphs for fg, bg and fusion, with a range cache and a report.

The graphs are calibrated after the builder's graph passes (static size, cleanup, fused
attention, batched fusion encoders), so ``paracolor build --precision int8`` takes them as
they are: folding them again would turn the weight DequantizeLinear nodes back into floats.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import onnx

from ... import progress
from ...choices import ROLES
from ...engine.backends.onnxruntime import OrtRunner
from ...engine.modelfolder import ModelFolder
from ...logs import onnxruntime_severity, quiet_onnxruntime
from ..report import compare, reference_runners
from ..transform import transform
from .qdq import (
    CalibConfig,
    cache_key,
    float_nodes,
    load_calibration_L,
    matching,
    quantize,
    sensitive_nodes,
)

log = logging.getLogger("paracolor.calib")


def _ort(model: onnx.ModelProto):
    ort = quiet_onnxruntime()
    opts = ort.SessionOptions()
    opts.log_severity_level = onnxruntime_severity()
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def _run(model, feeds: dict[str, np.ndarray], batch: int = 8) -> np.ndarray:
    sess = _ort(model)
    n = len(next(iter(feeds.values())))
    return np.concatenate([sess.run(None, {k: v[i : i + batch] for k, v in feeds.items()})[0] for i in range(0, n, batch)])


def auto_sensitive(model, feeds, method, exclude, cache: Path, k: int, target: str = "tensorrt", probe: int = 8) -> list[dict]:
    """Quantize one layer at a time and rank layers by the output error they cause alone.

    Returns the ``k`` most harmful layers with their error (mean |ab| in network units).
    The range cache makes each probe a pure re-quantization, without re-calibration.
    """
    small = {name: v[:probe] for name, v in feeds.items()}
    ref = _run(model, small)
    candidates = [n.name for n in model.graph.node if n.op_type in ("Conv", "MatMul", "Gemm") and n.name not in exclude]
    scores = []
    for name in candidates:
        others = [c for c in candidates if c != name]
        q = quantize(model, feeds, method, exclude + others, cache, target)
        scores.append({"node": name, "error": float(np.abs(_run(q, small) - ref).mean())})
    scores.sort(key=lambda s: -s["error"])
    return scores[:k]


def calibrate(cfg: CalibConfig) -> dict:
    """Write ``<out>/int8/{fg,bg,fusion}.onnx`` and ``calibration.json``; returns the report."""
    src = ModelFolder.load(cfg.model_dir)
    size = cfg.size or src.input_size
    built = src.copy_to(cfg.out_dir)
    out = built.root
    (out / "int8").mkdir(exist_ok=True)
    cache_dir = out / "calib_cache"
    cache_dir.mkdir(exist_ok=True)
    # steps: photos, passes, generator outputs, one per role, the accuracy report
    bar = progress.bar(total=3 + len(ROLES) + bool(cfg.eval_images), desc="calibrate", unit="step")
    bar.set_postfix_str("reading photos")
    L, images_hash, skipped = load_calibration_L(cfg.images, cfg.num, size)
    bar.update()
    bar.set_postfix_str("graph passes")
    # unsplit Concat->Conv: split, the partial sums would be quantized one by one; the CPU
    # target keeps the fusion encoders as two passes (faster there; see transform)
    graphs = {
        r: transform(onnx.load(str(src.onnx_path(r))), r, size, "fp32", cfg.attention, "fp32", split_concats=False, batch_fusion=cfg.target == "tensorrt")[0]
        for r in ROLES
    }
    bar.update()
    bar.set_postfix_str("generator outputs")
    ab_fg, ab_bg = _run(graphs["fg"], {"L": L}), _run(graphs["bg"], {"L": L})
    bar.update()
    feeds = {"fg": {"L": L}, "bg": {"L": L}, "fusion": {"L": L, "ab_fg": ab_fg, "ab_bg": ab_bg}}
    report: dict = {"method": cfg.method, "target": cfg.target, "images": len(L), "images_skipped": skipped, "size": size, "roles": {}}
    for role in ROLES:
        bar.set_postfix_str(f"calibrating {role}")
        model = graphs[role]
        exclude = (sensitive_nodes(model, role, cfg.target) if cfg.default_sensitive else []) + matching(model, cfg.keep_float)
        cache = cache_dir / f"{role}-{cache_key(model, cfg.method, images_hash, cfg.target)}.json"
        if cfg.force and cache.exists():
            cache.unlink()
        hit = cache.exists()
        auto = []
        if cfg.auto_sensitivity > 0:
            if not hit:  # one full calibration fills the cache the probes reuse
                quantize(model, feeds[role], cfg.method, sorted(set(exclude)), cache, cfg.target)
            auto = auto_sensitive(model, feeds[role], cfg.method, sorted(set(exclude)), cache, cfg.auto_sensitivity, cfg.target)
            exclude += [a["node"] for a in auto]
        exclude = sorted(set(exclude))
        q = quantize(model, feeds[role], cfg.method, exclude, cache, cfg.target)
        onnx.save(q, str(out / "int8" / f"{role}.onnx"))
        report["roles"][role] = {
            "cache": "hit" if hit else "miss",
            "cache_file": cache.name,
            "kept_float": exclude,
            "auto_sensitivity": auto,
            "float_compute_nodes": float_nodes(q),
            "qdq_pairs": sum(1 for n in q.graph.node if n.op_type == "QuantizeLinear"),
        }
        log.info("%s: %s, %d Q/DQ pairs, %d nodes kept float", role, report["roles"][role]["cache"], report["roles"][role]["qdq_pairs"], len(exclude))
        bar.update()
    if cfg.eval_images:
        bar.set_postfix_str("accuracy report")
        report["accuracy"] = accuracy(out, cfg.eval_images, size, cfg.eval_limit)
        bar.update()
    bar.close()
    built.record_build("int8", {"size": size, "attention": cfg.attention, "io": "fp32", "method": cfg.method, "target": cfg.target, "accuracy": report.get("accuracy")})
    (out / "int8" / "calibration.json").write_text(json.dumps(report, indent=1, default=str))
    return report


def accuracy(folder: Path, images: str, size: int, limit: int) -> dict:
    """INT8 against the FP32 PyTorch model (or FP32 ONNX without torch) on held-out photos."""
    candidate = {r: OrtRunner(folder / "int8" / f"{r}.onnx", r) for r in ROLES}
    reference, name = reference_runners(folder)
    return {"reference": name, "images_dir": str(images), **compare(folder, candidate, reference, [images], size, limit)}

"""The TensorRT engine cache, shared by ``paracolor build`` (writes) and the runtime (reads).

Engines are specific to the GPU, its compute capability, the TensorRT version and the
precision, so they live in ``engines/<gpu>-sm<cc>-trt<version>-<precision>/`` with a JSON
sidecar beside each ``<role>.plan``. The GPU is named by one identity, taken from the CUDA
device properties by both sides (a build without nvidia-smi names its folder as the runtime
looks for it). No TensorRT or CUDA import here: callers pass versions and properties in.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..hashing import file_sha256
from .io import atomic_write
from .modelfolder import ModelError

SIDECAR_FORMAT = "paracolor-engine-v1"
#: what a sidecar must match for its engine to be reused, with the words a rebuild gives as reason
_REUSE_KEYS = {
    "tensorrt_version": "TensorRT version",
    "gpu": "GPU",
    "compute_capability": "compute capability",
    "onnx_sha256": "source ONNX",
    "precision": "precision",
    "profile": "batch profile",
    "options": "build options",
}


def gpu_identity(properties: dict) -> dict:
    """The GPU as engines know it: name and compute capability "X.Y" (from ``CudaApi.properties``)."""
    return {"name": properties["name"], "compute_capability": properties["compute_capability"]}


def engine_dir_name(gpu: dict, trt_version: str, precision: str) -> str:
    """``<gpu>-sm<cc>-trt<version>-<precision>``: engines are specific to all four."""
    slug = re.sub(r"[^a-z0-9]+", "-", gpu["name"].lower()).strip("-")
    return f"{slug}-sm{gpu['compute_capability'].replace('.', '')}-trt{trt_version}-{precision}"


def engine_dir(root, gpu: dict, trt_version: str, precision: str) -> Path:
    """Where a model folder or bundle at ``root`` keeps the engines for this GPU and TensorRT."""
    return Path(root) / "engines" / engine_dir_name(gpu, trt_version, precision)


def find_engine_dir(root, gpu: dict, trt_version: str, precision: str) -> Path:
    """The engine folder to load: ``root`` itself when it holds plans, else its cache entry."""
    root = Path(root)
    if (root / "fg.plan").is_file() or (root / "fg_bg.plan").is_file():
        return root
    path = engine_dir(root, gpu, trt_version, precision)
    if not path.is_dir():
        have = sorted(p.name for p in (root / "engines").glob("*")) if (root / "engines").is_dir() else []
        raise ModelError(f"{path}: no engines for this GPU/TensorRT/precision (found: {have or 'none'}); run 'paracolor build --bundle {root}' here")
    return path


def bundle_precision(root) -> str | None:
    """The precision of a deploy bundle at ``root`` (its engines have it); None: not a bundle."""
    manifest = Path(root) / "bundle.json"
    return json.loads(manifest.read_text())["precision"] if manifest.is_file() else None


def expected_sidecar(onnx_path: Path, precision: str, profile: list[int], options: dict, gpu: dict, trt_version: str) -> dict:
    """What the sidecar of an engine built now from ``onnx_path`` says (and a reused one must)."""
    return {
        "format": SIDECAR_FORMAT,
        "tensorrt_version": trt_version,
        "gpu": gpu["name"],
        "compute_capability": gpu["compute_capability"],
        "precision": precision,
        "onnx_sha256": file_sha256(onnx_path),
        "profile": list(profile),
        "options": options,
    }


def write_sidecar(plan: Path, sidecar: dict) -> None:
    atomic_write(Path(plan).with_suffix(".json"), json.dumps(sidecar, indent=1).encode(), overwrite=True)


def rebuild_reason(sidecar_path: Path, expected: dict) -> str | None:
    """Why an existing engine cannot be reused (None: it can)."""
    plan = sidecar_path.with_suffix(".plan")
    if not plan.is_file() or not sidecar_path.is_file():
        return "no engine built yet"
    try:
        have = json.loads(sidecar_path.read_text())
    except (OSError, json.JSONDecodeError):
        return f"unreadable sidecar {sidecar_path.name}"
    for key, label in _REUSE_KEYS.items():
        if have.get(key) != expected[key]:
            return f"{label} changed ({have.get(key)!r} -> {expected[key]!r})"
    return None


def check_sidecar(plan: Path, trt_version: str, gpu: dict) -> dict:
    """The sidecar of ``plan`` if it was built for this TensorRT and GPU, else ModelError."""
    side = plan.with_suffix(".json")
    if not side.is_file():
        raise ModelError(f"{side}: missing sidecar; rebuild the engine with 'paracolor build'")
    meta = json.loads(side.read_text())
    if meta.get("tensorrt_version") != trt_version:
        raise ModelError(f"{plan}: built with TensorRT {meta.get('tensorrt_version')}, this is {trt_version}; rebuild it with 'paracolor build'")
    if meta.get("gpu") != gpu["name"] or meta.get("compute_capability") != gpu["compute_capability"]:
        raise ModelError(
            f"{plan}: built for {meta.get('gpu')} (sm {meta.get('compute_capability')}), this is {gpu['name']} "
            f"(sm {gpu['compute_capability']}); engines are not portable: rebuild on this GPU"
        )
    return meta

"""Checkpoints that load without executing pickled code.

- Model weights: safetensors, with the config (kind + dataclass) in the file's metadata, so a
  file alone rebuilds its network. Optionally stored in FP16 (the shipped weights are).
- Training state (optimisers, step, RNG): ``torch.save`` of tensors and plain containers only,
  read back with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from safetensors import safe_open

from ..errors import ParacolorError
from .config import config_from_json, config_to_json
from .discriminator import PatchGAN
from .fusion import DenseFuse
from .generator import ResUNet

BUILDERS = {"generator": ResUNet, "discriminator": PatchGAN, "fusion": DenseFuse}
KIND_OF = {ResUNet: "generator", PatchGAN: "discriminator", DenseFuse: "fusion"}
FORMAT = "paracolor-weights-v1"


class CheckpointError(ParacolorError, ValueError):
    """A checkpoint that cannot be read or does not match what was asked for."""


def kind_of(model: torch.nn.Module) -> str:
    for cls, kind in KIND_OF.items():
        if isinstance(model, cls):
            return kind
    raise TypeError(f"no checkpoint kind for {type(model).__name__}")


def _atomic_save(path: Path, write) -> Path:
    """``write(tmp_path)`` then rename into place: readers never see a partial checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def save_model(path, model: torch.nn.Module, *, fp16: bool = False, meta: dict | None = None) -> Path:
    """Write ``model`` weights and config to a safetensors file (atomically)."""
    path = Path(path)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    if fp16:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    metadata = {"format": FORMAT, "config": config_to_json(kind_of(model), model.config)}
    metadata.update({k: str(v) for k, v in (meta or {}).items()})
    return _atomic_save(path, lambda tmp: save_file(state, tmp, metadata=metadata))


def read_metadata(path) -> dict:
    """The metadata dict of a paracolor safetensors file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from exc
    if meta.get("format") != FORMAT or "config" not in meta:
        raise CheckpointError(f"{path}: not a paracolor weights file (no '{FORMAT}' metadata)")
    return meta


def load_model(path, expect_kind: str | None = None, device: str = "cpu") -> torch.nn.Module:
    """Rebuild a network from a safetensors file written by :func:`save_model` (eval mode, FP32)."""
    path = Path(path)
    meta = read_metadata(path)
    kind, cfg = config_from_json(meta["config"])
    if expect_kind and kind != expect_kind:
        raise CheckpointError(f"{path}: holds a {kind}, expected a {expect_kind}")
    model = BUILDERS[kind](cfg)
    state = load_file(str(path), device="cpu")
    own = model.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    bad = [k for k in own if k in state and own[k].shape != state[k].shape]
    if missing or unexpected or bad:
        raise CheckpointError(
            f"{path}: weights do not match the stored {kind} config "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]}, shape mismatch {bad[:3]})"
        )
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
    return model.to(device).eval()


def save_state(path, state: dict) -> Path:
    """Write a training state (tensors, numbers, strings, containers) atomically."""
    return _atomic_save(Path(path), lambda tmp: torch.save(state, tmp))


def load_state(path) -> dict:
    """Read a training state without executing pickled code (``weights_only=True``)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or unsafe files
        raise CheckpointError(f"{path}: unreadable training state ({type(exc).__name__}: {exc})") from exc

"""``paracolor triton-repo``: a Triton model repository for NVIDIA's ``tritonserver`` containers.

Four models: ``fg``, ``bg`` and ``fusion`` (each with dynamic batching and an instance group) and
the ensemble ``paracolor_ab`` (L -> ab). The ensemble's fg and bg steps read only the ensemble's
input, so Triton runs them concurrently; the fusion step reads both of their outputs. The
platform decides what a component model is:

- ``tensorrt``: ``tensorrt_plan`` models from the engines ``paracolor build`` made (engines are
  specific to a GPU and a TensorRT version: build them on, or for, the serving GPU).
- ``onnx``: ``onnxruntime_onnx`` models over the model folder's graphs (machines without TensorRT).
- ``python``: Python-backend models (``model.py``) that run the graphs with onnxruntime; Triton's
  CPU-only builds (and PyTriton's bundled tritonserver, which has only the Python backend) serve it.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..choices import PRECISIONS, TRITON_PLATFORMS, check
from ..engine.modelfolder import IO_NAMES, ModelError, ModelFolder
from ..errors import ConfigError
from .config_pbtxt import Enum, batching, instance_group, tensor, to_pbtxt

ENSEMBLE = "paracolor_ab"
COMPONENTS = ("fg", "bg", "fusion")
_PLATFORM = {"tensorrt": ("tensorrt_plan", "model.plan"), "onnx": ("onnxruntime_onnx", "model.onnx"), "python": (None, "model.onnx")}
#: channels of each tensor the models exchange (all N x C x S x S)
_CHANNELS = {"L": 1, "ab": 2, "ab_fg": 2, "ab_bg": 2}


@dataclass
class RepoConfig:
    out_dir: str
    model_dir: str | None = None
    platform: str = "tensorrt"
    precision: str = "fp16"
    engines: str | None = None  # tensorrt: a folder of plans, or a model/bundle folder with engines/
    max_batch: int = 8
    max_queue_delay_us: int = 2000
    instances: int = 1
    kind: str = "auto"  # instance group: gpu | cpu | auto (gpu for tensorrt and onnx, cpu for python)
    overwrite: bool = False

    def __post_init__(self):
        check("platform", self.platform, TRITON_PLATFORMS)
        check("precision", self.precision, PRECISIONS)
        check("instance kind", self.kind, ("auto", "gpu", "cpu"))
        if self.max_batch < 1 or self.instances < 1 or self.max_queue_delay_us < 0:
            raise ConfigError("max batch and instances must be at least 1, the queue delay at least 0")
        if self.platform == "tensorrt" and self.kind == "cpu":
            raise ConfigError("TensorRT plans run on a GPU: --kind cpu needs --platform onnx or python")

    @property
    def instance_kind(self) -> str:
        return self.kind if self.kind != "auto" else ("cpu" if self.platform == "python" else "gpu")


def _io_type(folder: ModelFolder, precision: str) -> str:
    """The graphs' input/output type: fp16 only for fp16 builds made with ``--io fp16``."""
    return folder.card.get("builds", {}).get(precision, {}).get("io", "fp32") if precision == "fp16" else "fp32"


def find_plans(cfg: RepoConfig, folder: ModelFolder) -> Path:
    """The folder of fg/bg/fusion plans: ``--engines`` itself, or the one engines/*-<precision> folder."""
    root = Path(cfg.engines) if cfg.engines else folder.root
    if (root / "fg.plan").is_file():
        return root
    found = sorted(p for p in (root / "engines").glob(f"*-{cfg.precision}") if (p / "fg.plan").is_file())
    if len(found) != 1:
        names = [p.name for p in found] or "none"
        raise ModelError(f"{root}: need exactly one engine folder for {cfg.precision} (found: {names}); build them with 'paracolor build' on the serving GPU, or pass --engines ENGINE_DIR")
    return found[0]


def _check_profile(plan: Path, max_batch: int) -> None:
    sidecar = plan.with_suffix(".json")
    if sidecar.is_file():
        profile = json.loads(sidecar.read_text()).get("profile")
        if profile and max_batch > profile[-1]:
            raise ConfigError(f"{plan}: the engine's batch profile ends at {profile[-1]}, below --max-batch {max_batch}; rebuild with 'paracolor build --max-batch {max_batch}'")


def component_config(role: str, cfg: RepoConfig, size: int, io: str) -> dict:
    inputs, outputs = IO_NAMES[role]
    platform, filename = _PLATFORM[cfg.platform]
    head = {"name": role, **({"platform": platform} if platform else {"backend": "python"})}
    if platform:
        head["default_model_filename"] = filename
    config = {
        **head,
        **batching(cfg.max_batch, cfg.max_queue_delay_us),
        "input": [tensor(n, io, [_CHANNELS[n], size, size]) for n in inputs],
        "output": [tensor(n, io, [_CHANNELS[n], size, size]) for n in outputs],
        **instance_group(cfg.instances, cfg.instance_kind),
    }
    if cfg.platform == "python":
        config["parameters"] = [{"key": "graph", "value": {"string_value": filename}}]
    return config


def ensemble_config(cfg: RepoConfig, size: int, io: str) -> dict:
    """L -> (fg || bg) -> fusion -> ab; tensor names inside the ensemble are its own."""
    def step(model, inputs: dict, outputs: dict) -> dict:
        return {"model_name": model, "model_version": -1, "input_map": [{"key": k, "value": v} for k, v in inputs.items()], "output_map": [{"key": k, "value": v} for k, v in outputs.items()]}

    return {
        "name": ENSEMBLE,
        "platform": "ensemble",
        "max_batch_size": cfg.max_batch,
        "input": [tensor("L", io, [1, size, size])],
        "output": [tensor("ab", io, [2, size, size])],
        "ensemble_scheduling": {"step": [
            step("fg", {"L": "L"}, {"ab": "ab_fg"}),
            step("bg", {"L": "L"}, {"ab": "ab_bg"}),
            step("fusion", {"L": "L", "ab_fg": "ab_fg", "ab_bg": "ab_bg"}, {"ab": "ab"}),
        ]},
    }


def ensemble_order(steps: list[tuple[str, set[str], set[str]]], inputs: set[str]) -> dict[str, set[str]]:
    """Each step's model -> the models whose outputs it consumes (an empty set: it reads only the
    ensemble's inputs). ``steps``: (model, tensors read, tensors written). Refuses a tensor that
    nothing produces and a tensor produced twice."""
    producer: dict[str, str] = {}
    for model, _, writes in steps:
        for t in writes:
            if t in producer or t in inputs:
                raise ConfigError(f"ensemble tensor {t!r} is produced twice ({producer.get(t, 'input')} and {model})")
            producer[t] = model
    deps = {}
    for model, reads, _ in steps:
        missing = [t for t in reads if t not in producer and t not in inputs]
        if missing:
            raise ConfigError(f"ensemble step {model} reads {missing}, which no step produces")
        deps[model] = {producer[t] for t in reads if t in producer}
    return deps


def _steps(config: dict) -> list[tuple[str, set[str], set[str]]]:
    return [(s["model_name"], {m["value"] for m in s["input_map"]}, {m["value"] for m in s["output_map"]}) for s in config["ensemble_scheduling"]["step"]]


def write_repository(cfg: RepoConfig) -> list[Path]:
    """Write the repository; returns the config.pbtxt files written."""
    folder = ModelFolder.load(cfg.model_dir)
    size, io = folder.network_size(cfg.precision), _io_type(folder, cfg.precision)
    out = Path(cfg.out_dir)
    if out.exists() and any(out.iterdir()):
        if not cfg.overwrite:
            raise ConfigError(f"{out} exists and is not empty (pass --overwrite to replace it)")
        shutil.rmtree(out)
    plans = find_plans(cfg, folder) if cfg.platform == "tensorrt" else None
    written = []
    for role in COMPONENTS:
        version = out / role / "1"
        version.mkdir(parents=True)
        if plans is not None:
            _check_profile(plans / f"{role}.plan", cfg.max_batch)
            shutil.copy2(plans / f"{role}.plan", version / "model.plan")
        else:
            shutil.copy2(folder.onnx_path(role, cfg.precision), version / "model.onnx")
        if cfg.platform == "python":
            shutil.copy2(Path(__file__).with_name("python_model.py"), version / "model.py")
        written.append(_write(out / role, component_config(role, cfg, size, io)))
    ens = ensemble_config(cfg, size, io)
    deps = ensemble_order(_steps(ens), {"L"})
    assert deps == {"fg": set(), "bg": set(), "fusion": {"fg", "bg"}}, deps
    (out / ENSEMBLE / "1").mkdir(parents=True)  # Triton wants a version folder, empty for ensembles
    written.append(_write(out / ENSEMBLE, ens))
    (out / "README.md").write_text(_readme(cfg, folder, size, io))
    return written


def _write(model_dir: Path, config: dict) -> Path:
    path = model_dir / "config.pbtxt"
    path.write_text(to_pbtxt(config))
    return path


def _readme(cfg: RepoConfig, folder: ModelFolder, size: int, io: str) -> str:
    what = {"tensorrt": "TensorRT plans: this repository serves only on the GPU and TensorRT version the engines were built for",
            "onnx": "ONNX Runtime graphs", "python": "Python-backend models running the graphs with onnxruntime (the image needs `pip install onnxruntime`)"}[cfg.platform]
    return (
        f"# paracolor Triton model repository\n\nFrom `{folder.root}` ({cfg.precision}, {size} px, {io} I/O): {what}.\n\n"
        f"Serve: `tritonserver --model-repository $PWD` (e.g. in `nvcr.io/nvidia/tritonserver:<version>-py3`).\n"
        f"Query `{ENSEMBLE}`: input `L` ({Enum('TYPE_' + io.upper())}, N x 1 x {size} x {size}, network scale: L / 50 - 1), output `ab` (N x 2 x {size} x {size}, ab / 110).\n"
        f"fg and bg run concurrently (both read only `L`); fusion reads both.\n"
    )

"""``paracolor build``: FP32 model folder -> graph passes -> precision -> verified graphs -> engines.

Output is a model folder (a copy of the source's model.json, fp32/ and checkpoints/) with a
``<precision>/`` folder of deployable graphs and ``build_report.json``. When TensorRT is
importable the engines go under ``engines/<gpu>-sm<cc>-trt<version>-<precision>/``; without
it the build stops after the verified ONNX graphs and says so.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import onnx

from ..engine.modelfolder import ROLES, ModelFolder
from .passes import FINE_DECODER, batch_fusion_encoders, cleanup, fix_input_shapes, fuse_attention, merge_generators, split_concat_convs
from .passes.cleanup import op_counts
from .precision import convert_fp16
from .trt import TrtBuildOptions

log = logging.getLogger("paracolor.build")
PRECISIONS = ("fp32", "fp16", "int8")


@dataclass
class BuildConfig:
    """Options of ``paracolor build``."""

    out_dir: str
    model_dir: str | None = None  # source model folder (default: the bundled model)
    precision: str = "fp16"
    size: int | None = None  # static network size (default: the model's)
    attention: str = "fused"  # "fused" (ONNX Attention, TensorRT >= 10.14) or "matmul"
    io: str = "fp32"  # graph I/O type for reduced precision
    merge_fg_bg: bool = False
    report_images: list[str] = field(default_factory=list)
    report_limit: int = 100
    int8_dir: str | None = None  # Q/DQ graphs from ``paracolor calibrate``
    trt: TrtBuildOptions = field(default_factory=TrtBuildOptions)
    build_engines: bool = True  # False: stop after the ONNX graphs even where TensorRT exists

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; choose from {PRECISIONS}")
        if self.attention not in ("fused", "matmul"):
            raise ValueError("attention must be 'fused' or 'matmul'")


def transform(model: onnx.ModelProto, role: str, size: int, precision: str, attention: str, io: str, split_concats: bool | None = None, batch_fusion: bool = True) -> tuple[onnx.ModelProto, dict]:
    """All graph passes for one role; returns the model and what each pass did.

    ``split_concats`` (default: for FP32 graphs) splits the generators' full-resolution
    Concat->Conv into per-input convolutions: 2-3 ms faster per generator in onnxruntime on the
    CPU, bit-for-bit the same maths. Not for INT8: each partial sum would get its own int8
    scale, and their cancellation loses precision (measured: 39 -> 32 dB against FP32). Not for
    FP16 either: those graphs are for TensorRT, where the benefit is unmeasured.
    ``batch_fusion``: run the fusion network's two encoder passes as one 2N batch (fewer, larger
    kernels for TensorRT; on the CPU it is slower: measured 23.4 -> 20.2 ms for the INT8 fusion
    network without it).
    """
    split_concats = precision == "fp32" if split_concats is None else split_concats
    report: dict = {"nodes_exported": len(model.graph.node)}
    model = cleanup(fix_input_shapes(model, size, size))
    report["nodes_after_cleanup"] = len(model.graph.node)
    if role == "fg":
        model, blocks = fuse_attention(model, attention, softmax_fp32=precision != "fp32")
        report["attention"] = {"mode": attention, "blocks": blocks}
    if role == "fusion":
        if batch_fusion:
            model, info = batch_fusion_encoders(model)
            report["fusion_batch"] = info
    elif split_concats:
        model, info = split_concat_convs(model, FINE_DECODER)
        report["concat_conv_split"] = info
    model = cleanup(model, fold=False)
    if precision == "fp16":
        model, info = convert_fp16(model, io=io)
        report["fp16"] = info
        model = cleanup(model, fold=False)
    report["nodes_final"] = len(model.graph.node)
    report["ops"] = op_counts(model)
    return model, report


def _prepare_out(src: ModelFolder, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if out.resolve() == src.root.resolve():
        return
    for name in ("fp32", "checkpoints"):
        if (src.root / name).is_dir():
            shutil.copytree(src.root / name, out / name, dirs_exist_ok=True)
    for f in ("model.json", "MODEL_CARD.md"):
        if (src.root / f).is_file():
            shutil.copy2(src.root / f, out / f)


def build(cfg: BuildConfig) -> dict:
    """Run the build; returns the report (also written to ``<out>/<precision>/build_report.json``)."""
    from ..engine.runners.onnxruntime import OrtRunner
    from .report import compare, reference_runners
    from .trt import tensorrt_available

    src = ModelFolder.load(cfg.model_dir)
    size = cfg.size or src.input_size
    out = Path(cfg.out_dir)
    _prepare_out(src, out)
    pdir = out / cfg.precision
    pdir.mkdir(exist_ok=True)
    report: dict = {"precision": cfg.precision, "size": size, "config": {k: v for k, v in asdict(cfg).items() if k != "trt"}, "graphs": {}}
    graphs = {}
    for role in ROLES:
        if cfg.precision == "int8":
            from ..calib.qdq import int8_graph_path

            # calibrated after the passes already; only check it (folding would undo the Q/DQ)
            target = src.card.get("builds", {}).get("int8", {}).get("target", "tensorrt")
            if target != "tensorrt" and cfg.build_engines:
                raise ValueError(f"{src.root}: its INT8 graphs were calibrated for the CPU (uint8 activations), which TensorRT does not take; calibrate with --target tensorrt")
            model = onnx.load(str(int8_graph_path(cfg.int8_dir or src.root, role)))
            onnx.checker.check_model(model)
            info = {"nodes_exported": len(model.graph.node), "nodes_final": len(model.graph.node), "ops": op_counts(model)}
        else:
            model, info = transform(onnx.load(str(src.onnx_path(role, "fp32"))), role, size, cfg.precision, cfg.attention, cfg.io)
        path = pdir / f"{role}.onnx"
        onnx.save(model, str(path))
        graphs[role] = model
        report["graphs"][role] = info
    if cfg.merge_fg_bg:
        onnx.save(merge_generators(graphs["fg"], graphs["bg"]), str(pdir / "fg_bg.onnx"))
        report["graphs"]["fg_bg"] = {"nodes_final": len(onnx.load(str(pdir / "fg_bg.onnx")).graph.node)}
    # verification: the whole pipeline against the FP32 PyTorch model on real photos
    images = cfg.report_images or [str(_examples())]
    candidate = {role: OrtRunner(pdir / f"{role}.onnx", role, threads=0) for role in ROLES}
    reference, ref_name = reference_runners(out)
    report["accuracy"] = {"reference": ref_name, **compare(out, candidate, reference, images, size, cfg.report_limit)}
    card = json.loads((out / "model.json").read_text())
    card.setdefault("builds", {})[cfg.precision] = {"size": size, "attention": cfg.attention, "io": cfg.io, "accuracy": report["accuracy"]}
    (out / "model.json").write_text(json.dumps(card, indent=1))
    if cfg.build_engines and tensorrt_available():
        report["engines"] = _build_engines(pdir, cfg)
    else:
        why = "TensorRT is not importable here" if cfg.build_engines else "engine build not requested"
        report["engines"] = {"skipped": f"{why}: stopped after writing the verified ONNX graphs in {pdir}"}
    (pdir / "build_report.json").write_text(json.dumps(report, indent=1, default=str))
    return report


def _build_engines(pdir: Path, cfg: BuildConfig) -> dict:
    import tensorrt as trt

    from .trt import cached_build, engine_dir_name, gpu_identity

    edir = pdir.parent / "engines" / engine_dir_name(gpu_identity(), trt.__version__, cfg.precision)
    roles = list(ROLES) + (["fg_bg"] if cfg.merge_fg_bg else [])
    done = {}
    for role in roles:
        plan, what = cached_build(pdir / f"{role}.onnx", edir, role, cfg.precision, cfg.trt)
        done[role] = {"plan": str(plan), "status": what}
    return done


def _examples():
    from ..examples import examples_dir

    return examples_dir()


def build_bundle_engines(bundle_dir, opts: TrtBuildOptions, dla_roles: tuple[str, ...] = ()) -> dict:
    """On the device: TensorRT engines from a bundle's verified graphs (engine cache applies).

    ``dla_roles`` places those stages on DLA core ``opts.dla_core`` (GPU fallback on); the
    others are built for the GPU.
    """
    from dataclasses import replace

    from .bundle import load_bundle
    from .trt import TrtBuildError, cached_build, engine_dir_name, gpu_identity, tensorrt_available

    manifest = load_bundle(bundle_dir)
    if not tensorrt_available():
        raise TrtBuildError("TensorRT is not importable on this machine: build the engines on the target device (JetPack ships it)")
    import tensorrt as trt

    precision = manifest["precision"]
    pdir = Path(bundle_dir) / precision
    edir = Path(bundle_dir) / "engines" / engine_dir_name(gpu_identity(), trt.__version__, precision)
    done = {}
    for role in manifest["roles"]:
        role_opts = opts if role in dla_roles else replace(opts, dla_core=None)
        plan, status = cached_build(pdir / f"{role}.onnx", edir, role, precision, role_opts)
        done[role] = {"plan": str(plan), "status": status, "device": "DLA" if role_opts.dla_core is not None else "GPU"}
    return done

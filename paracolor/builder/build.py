"""``paracolor build``: FP32 model folder -> graph passes -> precision -> verified graphs -> engines.

Output is a model folder (a copy of the source's model.json, fp32/ and checkpoints/) with a
``<precision>/`` folder of deployable graphs and ``build_report.json``. When TensorRT is
importable the engines go under ``engines/<gpu>-sm<cc>-trt<version>-<precision>/``; without
it the build stops after the verified ONNX graphs and says so.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field

import onnx

from .. import progress
from ..choices import ATTENTION, GRAPH_IO, PRECISIONS, ROLES, check
from ..engine.modelfolder import ModelFolder
from ..errors import ConfigError
from .calib.qdq import int8_graph_path
from .passes import merge_generators
from .passes.cleanup import op_counts
from .transform import transform
from .trt import TrtBuildOptions, build_engines

log = logging.getLogger("paracolor.build")


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
        check("precision", self.precision, PRECISIONS)
        check("attention", self.attention, ATTENTION)
        check("graph I/O type", self.io, GRAPH_IO)


def build(cfg: BuildConfig) -> dict:
    """Run the build; returns the report (also written to ``<out>/<precision>/build_report.json``)."""
    from ..engine.backends.onnxruntime import OrtRunner
    from .report import compare, reference_runners
    from .trt import tensorrt_available

    src = ModelFolder.load(cfg.model_dir)
    size = cfg.size or src.input_size
    built = src.copy_to(cfg.out_dir)
    out = built.root
    pdir = out / cfg.precision
    pdir.mkdir(exist_ok=True)
    report: dict = {"precision": cfg.precision, "size": size, "config": {k: v for k, v in asdict(cfg).items() if k != "trt"}, "graphs": {}}
    graphs = {}
    engines_wanted = cfg.build_engines and tensorrt_available()
    # steps: each role's graph, the merged graph, the verification, the engines
    bar = progress.bar(total=len(ROLES) + cfg.merge_fg_bg + 1 + engines_wanted, desc=f"build {cfg.precision}", unit="step")
    for role in ROLES:
        bar.set_postfix_str(f"{role} graph")
        if cfg.precision == "int8":
            # calibrated after the passes already; only check it (folding would undo the Q/DQ)
            target = src.card.get("builds", {}).get("int8", {}).get("target", "tensorrt")
            if target != "tensorrt" and cfg.build_engines:
                raise ConfigError(f"{src.root}: its INT8 graphs were calibrated for the CPU (uint8 activations), which TensorRT does not take; calibrate with --target tensorrt")
            model = onnx.load(str(int8_graph_path(cfg.int8_dir or src.root, role)))
            onnx.checker.check_model(model)
            info = {"nodes_exported": len(model.graph.node), "nodes_final": len(model.graph.node), "ops": op_counts(model)}
        else:
            model, info = transform(onnx.load(str(src.onnx_path(role, "fp32"))), role, size, cfg.precision, cfg.attention, cfg.io)
        path = pdir / f"{role}.onnx"
        onnx.save(model, str(path))
        graphs[role] = model
        report["graphs"][role] = info
        bar.update()
    if cfg.merge_fg_bg:
        bar.set_postfix_str("merged fg+bg graph")
        onnx.save(merge_generators(graphs["fg"], graphs["bg"]), str(pdir / "fg_bg.onnx"))
        report["graphs"]["fg_bg"] = {"nodes_final": len(onnx.load(str(pdir / "fg_bg.onnx")).graph.node)}
        bar.update()
    bar.set_postfix_str("verifying against FP32")
    # verification: the whole pipeline against the FP32 PyTorch model on real photos
    images = cfg.report_images or [str(_examples())]
    candidate = {role: OrtRunner(pdir / f"{role}.onnx", role, threads=0) for role in ROLES}
    reference, ref_name = reference_runners(out)
    report["accuracy"] = {"reference": ref_name, **compare(out, candidate, reference, images, size, cfg.report_limit)}
    built.record_build(cfg.precision, {"size": size, "attention": cfg.attention, "io": cfg.io, "accuracy": report["accuracy"]})
    bar.update()
    if engines_wanted:
        bar.set_postfix_str("TensorRT engines")
        roles = list(ROLES) + (["fg_bg"] if cfg.merge_fg_bg else [])
        # a plain build places every stage as --dla-core says (a bundle build picks stages)
        report["engines"] = build_engines(pdir, out, roles, cfg.precision, cfg.trt, dla_roles=tuple(roles))
        bar.update()
    else:
        why = "TensorRT is not importable here" if cfg.build_engines else "engine build not requested"
        report["engines"] = {"skipped": f"{why}: stopped after writing the verified ONNX graphs in {pdir}"}
    bar.close()
    (pdir / "build_report.json").write_text(json.dumps(report, indent=1, default=str))
    return report


def _examples():
    from ..examples import examples_dir

    return examples_dir()

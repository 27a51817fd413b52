"""The graph passes a build applies to each role's FP32 export, shared by ``paracolor build``
and ``paracolor calibrate`` (which quantizes the transformed graphs)."""

from __future__ import annotations

import onnx

from .passes import FINE_DECODER, batch_fusion_encoders, cleanup, fix_input_shapes, fuse_attention, split_concat_convs
from .passes.cleanup import op_counts
from .precision import convert_fp16


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

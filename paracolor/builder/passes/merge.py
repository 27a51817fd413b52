"""One graph holding both generators (fg and bg) on the same input ``L``.

TensorRT runs the two independent branches of such a graph on auxiliary streams
(``max_aux_streams``), the single-engine alternative to the two-stream scheduler.
"""

from __future__ import annotations

import onnx
import onnx_graphsurgeon as gs

from .graphutil import set_metadata


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    out = onnx.ModelProto()
    out.CopyFrom(model)
    return out


def merge_generators(fg: onnx.ModelProto, bg: onnx.ModelProto) -> onnx.ModelProto:
    """``L -> (ab_fg, ab_bg)``: the two generator graphs side by side, sharing the input."""
    # copies: graphsurgeon renames initializer protos in place, which would corrupt the inputs
    g_fg, g_bg = gs.import_onnx(_copy(fg)), gs.import_onnx(_copy(bg))
    L = g_fg.inputs[0]
    for t in g_bg.tensors().values():
        if t is not g_bg.inputs[0]:
            t.name = f"bg/{t.name}"
    for n in g_bg.nodes:
        n.name = f"bg/{n.name}"
        n.inputs = [L if t is g_bg.inputs[0] else t for t in n.inputs]
    for t in g_fg.tensors().values():
        if t is not L:
            t.name = f"fg/{t.name}"
    for n in g_fg.nodes:
        n.name = f"fg/{n.name}"
    out_fg, out_bg = g_fg.outputs[0], g_bg.outputs[0]
    out_fg.name, out_bg.name = "ab_fg", "ab_bg"
    merged = gs.Graph(nodes=g_fg.nodes + g_bg.nodes, inputs=[L], outputs=[out_fg, out_bg], opset=max(g_fg.opset, g_bg.opset), name="paracolor_fg_bg")
    model = gs.export_onnx(merged.cleanup().toposort())
    model.ir_version = max(fg.ir_version, bg.ir_version)
    model.metadata_props.extend(fg.metadata_props)
    set_metadata(model, "paracolor.role", "fg+bg")
    onnx.checker.check_model(model)
    return model

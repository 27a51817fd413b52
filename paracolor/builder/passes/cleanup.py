"""Cleanup: static spatial shapes, constant folding, identity and dead-node removal, toposort,
shape inference, checker."""

from __future__ import annotations

import onnx
import onnx_graphsurgeon as gs

from ...logs import quiet_onnxruntime


def fix_input_shapes(model: onnx.ModelProto, height: int, width: int) -> onnx.ModelProto:
    """Fix every image input's height and width (batch stays dynamic).

    TensorRT builds one optimisation profile per batch range; static spatial sizes let constant
    folding remove the exporter's shape arithmetic around Resize and Reshape.
    """
    model = onnx.ModelProto.FromString(model.SerializeToString())
    for tensor in list(model.graph.input) + list(model.graph.output):
        dims = tensor.type.tensor_type.shape.dim
        if len(dims) == 4:
            dims[2].Clear()
            dims[2].dim_value = height
            dims[3].Clear()
            dims[3].dim_value = width
    return model


def remove_identities(graph: gs.Graph) -> int:
    """Bypass Identity nodes and one-input Concats, which are copies too (DenseFuse's first dense
    layer concatenates a single tensor: a full-resolution copy per image); keeps graph output
    names; returns how many were removed."""
    outputs = {id(t) for t in graph.outputs}
    inputs = {id(t) for t in graph.inputs}
    removed = 0
    for node in list(graph.nodes):
        if not (node.op == "Identity" or (node.op == "Concat" and len(node.inputs) == 1)) or not node.inputs or not node.outputs:
            continue
        src, dst = node.inputs[0], node.outputs[0]
        if id(dst) in outputs:
            if id(src) in inputs or id(src) in outputs or not src.inputs:
                continue
            # keep the output tensor: make the producer write it directly
            producer = src.inputs[0]
            producer.outputs = [dst if t is src else t for t in producer.outputs]
            for consumer in list(src.outputs):
                if consumer is not node:
                    consumer.inputs = [dst if t is src else t for t in consumer.inputs]
        else:
            for consumer in list(dst.outputs):
                consumer.inputs = [src if t is dst else t for t in consumer.inputs]
        node.inputs.clear()
        node.outputs.clear()
        removed += 1
    return removed


def cleanup(model: onnx.ModelProto, fold: bool = True) -> onnx.ModelProto:
    """Fold constants, drop identities and dead nodes, sort, infer shapes and check the graph."""
    # shapes first, so the exporter's Shape -> Gather arithmetic on static dims can fold away
    graph = gs.import_onnx(onnx.shape_inference.infer_shapes(model, data_prop=True))
    if fold:
        quiet_onnxruntime()  # folding runs onnxruntime sessions of graphsurgeon's own
        graph.fold_constants(fold_shapes=True)
    graph.cleanup(remove_unused_graph_inputs=False)
    remove_identities(graph)
    graph.cleanup(remove_unused_graph_inputs=False).toposort()
    out = gs.export_onnx(graph)
    out.ir_version = model.ir_version
    del out.metadata_props[:]
    out.metadata_props.extend(model.metadata_props)
    out.producer_name, out.producer_version = model.producer_name, model.producer_version
    out = onnx.shape_inference.infer_shapes(out, strict_mode=False, data_prop=True)
    onnx.checker.check_model(out)
    return out


def op_counts(model: onnx.ModelProto) -> dict[str, int]:
    """Node count per operator type (for reports and tests)."""
    counts: dict[str, int] = {}
    for node in model.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts

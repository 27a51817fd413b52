"""Small onnx-graphsurgeon helpers shared by the passes."""

from __future__ import annotations

import onnx
import onnx_graphsurgeon as gs


def producer(tensor) -> gs.Node | None:
    """The node writing ``tensor`` (None for graph inputs and constants)."""
    return tensor.inputs[0] if getattr(tensor, "inputs", None) else None


def only_consumer(tensor) -> gs.Node | None:
    """The single node reading ``tensor``, or None if there are zero or several."""
    return tensor.outputs[0] if len(tensor.outputs) == 1 else None


def is_transpose_021(node) -> bool:
    return node is not None and node.op == "Transpose" and list(node.attrs.get("perm", [])) == [0, 2, 1]


def detach(*nodes: gs.Node) -> None:
    """Disconnect nodes so ``graph.cleanup()`` drops them."""
    for node in nodes:
        node.inputs.clear()
        node.outputs.clear()


def export(graph: gs.Graph, like: onnx.ModelProto, opset: int | None = None) -> onnx.ModelProto:
    """Export a graph keeping the source model's metadata, IR version and producer."""
    graph.cleanup(remove_unused_graph_inputs=False).toposort()
    if opset is not None:
        graph.opset = opset
    out = gs.export_onnx(graph)
    if opset is not None:  # graphsurgeon keeps the imported opset; raise it explicitly
        for entry in out.opset_import:
            if entry.domain in ("", "ai.onnx"):
                entry.version = opset
    out.ir_version = max(like.ir_version, out.ir_version if opset is None else 10)
    del out.metadata_props[:]
    out.metadata_props.extend(like.metadata_props)
    out.producer_name, out.producer_version = like.producer_name, like.producer_version
    return out


def set_metadata(model: onnx.ModelProto, key: str, value: str) -> None:
    """Add or replace one ``metadata_props`` entry."""
    for entry in model.metadata_props:
        if entry.key == key:
            entry.value = value
            return
    entry = model.metadata_props.add()
    entry.key, entry.value = key, value

"""Feature-addition fusion: two encoder passes -> one encoder pass over a 2N batch.

The exported fusion graph runs the DenseFuse encoder twice with shared weights, on
``[L, ab_fg]`` and ``[L, ab_bg]``, and combines the two feature maps (``add``, or the l1-norm
weighting). Here the two inputs are concatenated along the batch axis, the first encoder copy
runs once on the 2N batch, a Split gives back the two halves, and the second copy is dropped:
fewer nodes, and one larger convolution launch per layer instead of two.
"""

from __future__ import annotations

import logging

import numpy as np
import onnx
import onnx_graphsurgeon as gs

from .graphutil import export, producer

log = logging.getLogger("paracolor.passes")


def _upstream(tensor, stop) -> list[gs.Node]:
    """Nodes between ``stop`` and ``tensor`` (inclusive), in producer-first order."""
    seen, order = set(), []

    def visit(t):
        node = producer(t)
        if node is None or id(node) in seen or t is stop:
            return
        seen.add(id(node))
        for i in node.inputs:
            if i is not stop:
                visit(i)
        order.append(node)

    visit(tensor)
    return order


def _same_structure(a: list[gs.Node], b: list[gs.Node]) -> bool:
    """Two node lists compute the same function: same ops, attributes and constant inputs."""
    if len(a) != len(b):
        return False
    for na, nb in zip(a, b):
        if na.op != nb.op or na.attrs != nb.attrs or len(na.inputs) != len(nb.inputs):
            return False
        for ta, tb in zip(na.inputs, nb.inputs):
            if isinstance(ta, gs.Constant) != isinstance(tb, gs.Constant):
                return False
            if isinstance(ta, gs.Constant) and ta is not tb and not np.array_equal(ta.values, tb.values):
                return False
    return True


def find_encoder_pair(graph: gs.Graph) -> dict | None:
    """The two encoder copies: the branches from the two image Concats to the feature Concats."""
    concat_in = [n for n in graph.nodes if n.op == "Concat" and any(t in graph.inputs for t in n.inputs) and n.attrs.get("axis") == 1]
    if len(concat_in) != 2:
        return None
    x1, x2 = concat_in[0].outputs[0], concat_in[1].outputs[0]
    # the encoders end at the last tensor computed only from each branch: walk forward until
    # the first node that reads both branches
    def branch_nodes(x):
        nodes, frontier, seen = [], [x], set()
        while frontier:
            t = frontier.pop()
            for n in t.outputs:
                if id(n) not in seen:
                    seen.add(id(n))
                    nodes.append(n)
                    frontier.extend(n.outputs)
        return nodes

    b1, b2 = branch_nodes(x1), branch_nodes(x2)
    shared = {id(n) for n in b1} & {id(n) for n in b2}
    enc1 = [n for n in b1 if id(n) not in shared]
    enc2 = [n for n in b2 if id(n) not in shared]
    # outputs of each encoder = its tensors read by shared nodes
    def exits(enc):
        ids = {id(n) for n in enc}
        outs = []
        for n in enc:
            for t in n.outputs:
                if any(id(c) not in ids for c in t.outputs) and t not in outs:
                    outs.append(t)
        return outs

    f1, f2 = exits(enc1), exits(enc2)
    if len(f1) != 1 or len(f2) != 1:
        return None
    order1, order2 = _upstream(f1[0], x1), _upstream(f2[0], x2)
    if not _same_structure(order1, order2):
        return None
    return {"x1": x1, "x2": x2, "f1": f1[0], "f2": f2[0], "encoder1": order1, "encoder2": order2}


def batch_fusion_encoders(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict]:
    """Run the fusion encoder once over the concatenated batch; returns (model, report)."""
    graph = gs.import_onnx(model)
    pair = find_encoder_pair(graph)
    before = len(graph.nodes)
    if pair is None:
        return model, {"found": False, "nodes_before": before, "nodes_after": before}
    x1, x2, f1, f2 = pair["x1"], pair["x2"], pair["f1"], pair["f2"]
    both = gs.Variable("fusion/encoder_input_2n", dtype=x1.dtype)
    graph.nodes.append(gs.Node("Concat", "fusion/Concat_batch", {"axis": 0}, [x1, x2], [both]))
    for node in pair["encoder1"]:  # the first copy now reads the 2N batch
        node.inputs = [both if t is x1 else t for t in node.inputs]
    feats = gs.Variable("fusion/features_2n", dtype=f1.dtype)
    last = producer(f1)
    last.outputs = [feats if t is f1 else t for t in last.outputs]
    h1, h2 = gs.Variable("fusion/features_fg", dtype=f1.dtype), gs.Variable("fusion/features_bg", dtype=f1.dtype)
    attrs = {"axis": 0, "num_outputs": 2} if graph.opset >= 18 else {"axis": 0}  # equal halves
    graph.nodes.append(gs.Node("Split", "fusion/Split_batch", attrs, [feats], [h1, h2]))
    enc2 = {id(n) for n in pair["encoder2"]}
    for node in graph.nodes:
        if id(node) in enc2 or node.name.startswith("fusion/"):
            continue
        node.inputs = [h1 if t is f1 else h2 if t is f2 else t for t in node.inputs]
    for node in pair["encoder2"]:
        node.inputs.clear()
        node.outputs.clear()
    out = export(graph, model)
    after = len(out.graph.node)
    log.info("fusion encoders batched: %d -> %d nodes", before, after)
    return out, {"found": True, "nodes_before": before, "nodes_after": after, "encoder_nodes": len(pair["encoder1"])}

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


#: ops that act on each sample independently, so running them on a 2N batch is exact
PER_SAMPLE_OPS = frozenset({"Conv", "Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "Abs", "Add", "Sub", "Mul", "Div", "Concat", "ReduceSum", "ReduceMean", "AveragePool", "MaxPool", "Cast"})


def _upstream(tensors, stop) -> list[gs.Node]:
    """Nodes between ``stop`` and ``tensors`` (inclusive), in producer-first order."""
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

    for t in tensors:
        visit(t)
    return order


def _batch_safe(node: gs.Node) -> bool:
    if node.op not in PER_SAMPLE_OPS:
        return False
    if node.op == "Concat":
        return node.attrs.get("axis") not in (0, None)
    if node.op in ("ReduceSum", "ReduceMean"):
        axes = node.attrs.get("axes")
        if axes is None and len(node.inputs) > 1 and isinstance(node.inputs[1], gs.Constant):
            axes = list(np.asarray(node.inputs[1].values).ravel())
        return axes is not None and 0 not in axes and -4 not in axes
    return True


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
    """The two per-branch subgraphs, from the two image Concats to where the branches meet.

    Returns the branch inputs, the matching exit tensors of each branch (the encoder features,
    and for ``l1norm`` also the activity maps) and the node lists, or None if the graph does
    not have two identical, batch-safe branches.
    """
    concat_in = [n for n in graph.nodes if n.op == "Concat" and any(t in graph.inputs for t in n.inputs) and n.attrs.get("axis") == 1]
    if len(concat_in) != 2:
        return None
    x1, x2 = concat_in[0].outputs[0], concat_in[1].outputs[0]

    def downstream(x):
        nodes, frontier, seen = [], [x], set()
        while frontier:
            for n in frontier.pop().outputs:
                if id(n) not in seen:
                    seen.add(id(n))
                    nodes.append(n)
                    frontier.extend(n.outputs)
        return nodes

    b1, b2 = downstream(x1), downstream(x2)
    shared = {id(n) for n in b1} & {id(n) for n in b2}

    def exits(branch):
        own = [n for n in branch if id(n) not in shared]
        ids = {id(n) for n in own}
        outs = []
        for n in own:
            for t in n.outputs:
                if any(id(c) not in ids for c in t.outputs) and all(t is not o for o in outs):
                    outs.append(t)
        return outs

    e1, e2 = exits(b1), exits(b2)
    if not e1 or len(e1) != len(e2):
        return None
    order1, order2 = _upstream(e1, x1), _upstream(e2, x2)
    if not _same_structure(order1, order2) or not all(_batch_safe(n) for n in order1):
        return None
    # pair the exits by their position in the (identical) node order
    def key(t, order):
        node = producer(t)
        return next(i for i, n in enumerate(order) if n is node), node.outputs.index(t)

    e1 = sorted(e1, key=lambda t: key(t, order1))
    e2 = sorted(e2, key=lambda t: key(t, order2))
    if [key(t, order1) for t in e1] != [key(t, order2) for t in e2]:
        return None
    return {"x1": x1, "x2": x2, "exits1": e1, "exits2": e2, "encoder1": order1, "encoder2": order2}


def batch_fusion_encoders(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict]:
    """Run the fusion encoder once over the concatenated batch; returns (model, report)."""
    graph = gs.import_onnx(model)
    pair = find_encoder_pair(graph)
    before = len(graph.nodes)
    if pair is None:
        return model, {"found": False, "nodes_before": before, "nodes_after": before}
    x1, x2 = pair["x1"], pair["x2"]
    both = gs.Variable("fusion/encoder_input_2n", dtype=x1.dtype)
    graph.nodes.append(gs.Node("Concat", "fusion/Concat_batch", {"axis": 0}, [x1, x2], [both]))
    for node in pair["encoder1"]:  # the first copy now reads the 2N batch
        node.inputs = [both if t is x1 else t for t in node.inputs]
    enc = {id(n) for n in pair["encoder1"]} | {id(n) for n in pair["encoder2"]}
    consumers = [n for n in graph.nodes if id(n) not in enc]
    split_attrs = {"axis": 0, "num_outputs": 2} if graph.opset >= 18 else {"axis": 0}  # equal halves
    for i, (t1, t2) in enumerate(zip(pair["exits1"], pair["exits2"])):
        full = gs.Variable(f"fusion/exit{i}_2n", dtype=t1.dtype)
        node = producer(t1)
        node.outputs = [full if t is t1 else t for t in node.outputs]
        h1, h2 = gs.Variable(f"fusion/exit{i}_fg", dtype=t1.dtype), gs.Variable(f"fusion/exit{i}_bg", dtype=t1.dtype)
        graph.nodes.append(gs.Node("Split", f"fusion/Split_batch{i}", split_attrs, [full], [h1, h2]))
        for c in consumers:
            c.inputs = [h1 if t is t1 else h2 if t is t2 else t for t in c.inputs]
        for c in pair["encoder1"]:  # an exit may also feed later encoder nodes (l1norm's activity)
            c.inputs = [full if t is t1 else t for t in c.inputs]
    for node in pair["encoder2"]:
        node.inputs.clear()
        node.outputs.clear()
    out = export(graph, model)
    after = len(out.graph.node)
    log.info("fusion encoders batched: %d -> %d nodes", before, after)
    return out, {"found": True, "nodes_before": before, "nodes_after": after, "encoder_nodes": len(pair["encoder1"]), "exits": len(pair["exits1"])}

"""Self-attention: SAGAN's MatMul -> Softmax -> MatMul core -> the ONNX ``Attention`` operator.

The exported SAGAN block is::

    q = Transpose(Reshape(Conv_q(x)))   (N, HW, C/8)
    k = Reshape(Conv_k(x))              (N, C/8, HW)
    v = Transpose(Reshape(Conv_v(x)))   (N, HW, C)
    y = x + gamma * Reshape(Transpose(MatMul(Softmax(MatMul(q, k)), v)))

The core becomes ``Attention(q, Transpose(k), v)`` with one head and ``scale = 1`` (SAGAN does
not scale its logits). Opset 23 introduced ``Attention``: TensorRT's ONNX parser maps it to its
fused attention layer from 10.14 on, and onnxruntime runs it on the CPU. Parsers without it
(TensorRT 10.3 on JetPack 6) use the original MatMul form, which :func:`fuse_attention` leaves
untouched when ``mode="matmul"``.
"""

from __future__ import annotations

import logging

import numpy as np
import onnx
import onnx_graphsurgeon as gs

from .graphutil import detach, export, is_transpose_021, only_consumer, producer

log = logging.getLogger("paracolor.passes")
ATTENTION_OPSET = 23
MODES = ("fused", "matmul")


def find_sagan_blocks(graph: gs.Graph) -> list[dict]:
    """Every SAGAN attention core in the graph, as dicts of the nodes and tensors involved."""
    blocks = []
    for softmax in [n for n in graph.nodes if n.op == "Softmax"]:
        mm1 = producer(softmax.inputs[0])
        mm2 = only_consumer(softmax.outputs[0])
        if mm1 is None or mm1.op != "MatMul" or mm2 is None or mm2.op != "MatMul":
            continue
        if mm2.inputs[0] is not softmax.outputs[0]:
            continue
        q_t, k_r = producer(mm1.inputs[0]), producer(mm1.inputs[1])
        v_t = producer(mm2.inputs[1])
        if not (is_transpose_021(q_t) and is_transpose_021(v_t) and k_r is not None and k_r.op == "Reshape"):
            continue
        convs = [producer(producer(t.inputs[0]).inputs[0]) if producer(t.inputs[0]) is not None else None for t in (q_t, v_t)]
        k_conv = producer(k_r.inputs[0])
        if any(c is None or c.op != "Conv" for c in (*convs, k_conv)):
            continue
        x = k_conv.inputs[0]
        if any(c.inputs[0] is not x for c in convs):
            continue  # query, key and value must read the same feature map
        out_t = only_consumer(mm2.outputs[0])
        reshape = only_consumer(out_t.outputs[0]) if is_transpose_021(out_t) else None
        mul = only_consumer(reshape.outputs[0]) if reshape is not None and reshape.op == "Reshape" else None
        add = only_consumer(mul.outputs[0]) if mul is not None and mul.op == "Mul" else None
        if add is None or add.op != "Add" or x not in add.inputs:
            continue
        gamma = next((t for t in mul.inputs if isinstance(t, gs.Constant)), None)
        blocks.append(
            {
                "softmax": softmax, "matmul_qk": mm1, "matmul_av": mm2, "q": mm1.inputs[0], "k": mm1.inputs[1],
                "v": mm2.inputs[1], "query_conv": convs[0].name, "key_conv": k_conv.name, "value_conv": convs[1].name,
                "qk_channels": int(k_conv.inputs[1].shape[0]), "v_channels": int(convs[1].inputs[1].shape[0]),
                "gamma": None if gamma is None else float(np.asarray(gamma.values).ravel()[0]), "residual_add": add.name,
            }
        )
    return blocks


def fuse_attention(model: onnx.ModelProto, mode: str = "fused", softmax_fp32: bool = False) -> tuple[onnx.ModelProto, list[dict]]:
    """Rewrite every SAGAN core into ``Attention`` (``mode="fused"``), or leave the MatMul form.

    ``softmax_fp32`` sets ``softmax_precision = FLOAT`` on the operator, so reduced-precision
    graphs keep the softmax in FP32. Returns the new model and a report per block found.
    """
    if mode not in MODES:
        raise ValueError(f"unknown attention mode {mode!r}; choose from {MODES}")
    graph = gs.import_onnx(model)
    blocks = find_sagan_blocks(graph)
    report = [{k: v for k, v in b.items() if isinstance(v, (str, int, float)) or v is None} for b in blocks]
    if mode == "matmul" or not blocks:
        return model, report
    for i, b in enumerate(blocks):
        k_t = gs.Variable(f"attention{i}/key_t", dtype=b["k"].dtype)
        graph.nodes.append(gs.Node("Transpose", f"attention{i}/Transpose_key", {"perm": [0, 2, 1]}, [b["k"]], [k_t]))
        attrs = {"q_num_heads": 1, "kv_num_heads": 1, "scale": 1.0}
        if softmax_fp32:
            attrs["softmax_precision"] = int(onnx.TensorProto.FLOAT)
        out = b["matmul_av"].outputs[0]
        detach(b["matmul_qk"], b["softmax"], b["matmul_av"])
        graph.nodes.append(gs.Node("Attention", f"attention{i}/Attention", attrs, [b["q"], k_t, b["v"]], [out]))
        log.info("fused SAGAN attention %d (q/k %d wide, v %d wide)", i, b["qk_channels"], b["v_channels"])
    return export(graph, model, opset=max(ATTENTION_OPSET, graph.opset)), report

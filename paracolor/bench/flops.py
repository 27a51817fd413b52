"""FLOPs per image counted from ONNX graphs (multiply-add = 2 FLOPs).

Counted: Conv, ConvTranspose, MatMul, Gemm and the Attention operator, which hold nearly all the
arithmetic of these networks; element-wise ops, resizes and reductions are left out (they are
memory-bound and a few percent of the total), which the report states.
"""

from __future__ import annotations

import numpy as np
import onnx

COUNTED = ("Conv", "ConvTranspose", "MatMul", "Gemm", "Attention")


def _static(model: onnx.ModelProto, size: int) -> onnx.ModelProto:
    """Copy with batch 1 and the given spatial size on every 4-D input, shapes inferred."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    del m.graph.value_info[:]
    for t in list(m.graph.input) + list(m.graph.output):
        dims = t.type.tensor_type.shape.dim
        if len(dims) == 4:
            for d, v in zip(dims, (1, None, size, size)):
                if v is not None:
                    d.Clear()
                    d.dim_value = v
    return onnx.shape_inference.infer_shapes(m, strict_mode=False, data_prop=True)


def _shapes(model: onnx.ModelProto) -> dict[str, tuple]:
    shapes = {}
    for v in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        dims = v.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            shapes[v.name] = tuple(d.dim_value for d in dims)
    for init in model.graph.initializer:
        shapes[init.name] = tuple(init.dims)
    return shapes


def count_flops(model: onnx.ModelProto, size: int) -> dict:
    """FLOPs for one image at ``size`` x ``size``: total and per operator type."""
    m = _static(model, size)
    shapes = _shapes(m)
    per_op: dict[str, int] = {}
    unknown = []
    for node in m.graph.node:
        if node.op_type not in COUNTED:
            continue
        out = shapes.get(node.output[0])
        ins = [shapes.get(i) for i in node.input]
        if out is None or any(s is None for s in ins[:2]):
            unknown.append(node.name)
            continue
        if node.op_type in ("Conv", "ConvTranspose"):
            w = ins[1]  # (Cout, Cin/groups, kh, kw) ; ConvTranspose: (Cin, Cout/groups, kh, kw)
            if node.op_type == "Conv":
                macs = int(np.prod(out)) * int(np.prod(w[1:]))
            else:
                macs = int(np.prod(ins[0])) * int(np.prod(w[1:]))
        elif node.op_type in ("MatMul", "Gemm"):
            a = ins[0]
            k = a[-1] if node.op_type == "MatMul" else (a[0] if any(x.name == "transA" and x.i for x in node.attribute) else a[-1])
            macs = int(np.prod(out)) * int(k)
        else:  # Attention: Q (B, S, dq), K (B, S_kv, dq), V (B, S_kv, dv): QK^T and AV
            q, kk, v = ins[0], ins[1], ins[2]
            macs = q[0] * q[1] * kk[1] * q[2] + q[0] * q[1] * kk[1] * v[2]
        per_op[node.op_type] = per_op.get(node.op_type, 0) + 2 * macs
    return {"total": int(sum(per_op.values())), "per_op": per_op, "uncounted_nodes": unknown, "counted_ops": list(COUNTED)}

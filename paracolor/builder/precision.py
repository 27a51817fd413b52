"""Precision passes: the types TensorRT 11 builds with come from the ONNX graph itself.

TensorRT 11 networks are always strongly typed (no FP16/INT8 builder flags), so an FP16 engine
is built from an FP16 graph. :func:`convert_fp16` turns a cleaned FP32 graph into FP16 with FP32
islands where reduced precision hurts: softmax, normalisation reductions and the output
activation; attention keeps its softmax in FP32 through ``softmax_precision``.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnx_graphsurgeon as gs

from .passes.graphutil import export, set_metadata

#: ops computed in FP32 inside an FP16 graph (Cast in, Cast out)
FP32_ISLAND_OPS = frozenset(
    {"Softmax", "LogSoftmax", "ReduceSum", "ReduceMean", "ReduceL1", "ReduceL2", "ReduceSumSquare", "LayerNormalization", "InstanceNormalization", "Tanh"}
)
#: (op, input index) that the ONNX spec requires to stay float32 (Resize roi and scales)
FP32_INPUT_SLOTS = {("Resize", 1), ("Resize", 2)}
IO_TYPES = ("fp32", "fp16")


def _fp16_constant(c: gs.Constant, cache: dict) -> gs.Constant:
    if id(c) not in cache:
        values = np.asarray(c.values)
        if np.abs(values).max(initial=0) > 65504:
            raise ValueError(f"constant {c.name} exceeds the FP16 range")
        cache[id(c)] = gs.Constant(f"{c.name}_fp16", values.astype(np.float16))
    return cache[id(c)]


def _is_float32(t) -> bool:
    return t is not None and not (isinstance(t, gs.Variable) and t.dtype is None) and np.dtype(t.dtype) == np.float32


def _boundary(graph: gs.Graph, t: gs.Variable, io: str, report: dict, is_input: bool, from_island: bool = False) -> gs.Variable:
    """Make graph I/O tensor ``t`` FP16 inside the graph; returns the tensor the graph exposes.

    FP16 I/O: ``t`` itself, retyped (an output written by an FP32 island gets a Cast to FP16).
    FP32 I/O: a new FP32 tensor with ``t``'s name, joined to ``t`` (renamed, now FP16) by a Cast,
    so the graph's interface keeps its names and types.
    """
    f32, f16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
    if io == "fp16":
        if from_island:  # the island computed it in FP32: cast its result down
            producer = t.inputs[0]
            inner = gs.Variable(f"{t.name}_fp32", dtype=np.float32, shape=t.shape)
            producer.outputs = [inner if o is t else o for o in producer.outputs]
            graph.nodes.append(gs.Node("Cast", f"output_cast_{t.name}", {"to": f16}, [inner], [t]))
            report["casts"] += 1
        t.dtype = np.float16
        return t
    outer = gs.Variable(t.name, dtype=np.float32, shape=t.shape)
    t.name, t.dtype = f"{t.name}_fp16", np.float16
    ins, outs = ([outer], [t]) if is_input else ([t], [outer])
    graph.nodes.append(gs.Node("Cast", f"{'input' if is_input else 'output'}_cast_{outer.name}", {"to": f16 if is_input else f32}, ins, outs))
    report["casts"] += 1
    return outer


def convert_fp16(model: onnx.ModelProto, io: str = "fp32", islands=FP32_ISLAND_OPS) -> tuple[onnx.ModelProto, dict]:
    """FP16 graph with FP32 islands around ``islands`` ops; ``io`` picks the I/O tensor type.

    The input must carry dtypes for every tensor (run :func:`~paracolor.builder.passes.cleanup`
    first). Returns the model and a report (island nodes, casts added).
    """
    if io not in IO_TYPES:
        raise ValueError(f"io must be one of {IO_TYPES}")
    graph = gs.import_onnx(model)
    cache: dict = {}
    report = {"islands": [], "casts": 0, "io": io}
    f32, f16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
    untyped = [t.name for t in graph.tensors().values() if isinstance(t, gs.Variable) and t.dtype is None]
    if untyped:
        raise ValueError(f"run shape inference first: tensors without a type: {untyped[:5]}")

    # 1. weights and other float constants -> FP16, except where the spec or an island needs FP32
    for node in graph.nodes:
        if node.op in islands:
            continue
        for i, t in enumerate(node.inputs):
            if isinstance(t, gs.Constant) and _is_float32(t) and (node.op, i) not in FP32_INPUT_SLOTS:
                node.inputs[i] = _fp16_constant(t, cache)
        if node.op == "Cast" and node.attrs.get("to") == f32:
            node.attrs["to"] = f16
        if node.op == "Attention":
            node.attrs["softmax_precision"] = int(f32)  # the softmax inside stays FP32

    # 2. every FP32 activation becomes FP16
    io_tensors = {id(t) for t in graph.inputs + graph.outputs}
    for t in graph.tensors().values():
        if isinstance(t, gs.Variable) and _is_float32(t) and id(t) not in io_tensors:
            t.dtype = np.float16

    # 3. islands: Cast to FP32 before, back to FP16 after
    for node in [n for n in graph.nodes if n.op in islands]:
        for i, t in enumerate(node.inputs):
            if isinstance(t, gs.Variable) and t.dtype is not None and np.dtype(t.dtype) == np.float16:
                up = gs.Variable(f"{t.name}_fp32_{node.name}", dtype=np.float32, shape=t.shape)
                graph.nodes.append(gs.Node("Cast", f"{node.name}/cast_in{i}", {"to": f32}, [t], [up]))
                node.inputs[i] = up
                report["casts"] += 1
        for j, t in enumerate(node.outputs):
            if id(t) in io_tensors:
                continue
            inner = gs.Variable(f"{t.name}_fp32", dtype=np.float32, shape=t.shape)
            node.outputs[j] = inner
            graph.nodes.append(gs.Node("Cast", f"{node.name}/cast_out{j}", {"to": f16}, [inner], [t]))
            report["casts"] += 1
        report["islands"].append(f"{node.op}:{node.name}")

    # 4. graph inputs and outputs: FP16 I/O, or FP32 I/O with a Cast at each boundary
    for k, t in enumerate(list(graph.inputs)):
        if _is_float32(t):
            graph.inputs[k] = _boundary(graph, t, io, report, is_input=True)
    for k, t in enumerate(list(graph.outputs)):
        if not _is_float32(t):
            continue
        from_island = bool(t.inputs) and t.inputs[0].op in islands
        if from_island and io == "fp32":
            continue  # computed in FP32 already
        graph.outputs[k] = _boundary(graph, t, io, report, is_input=False, from_island=from_island)

    out = export(graph, model)
    set_metadata(out, "paracolor.precision", "fp16")
    set_metadata(out, "paracolor.io_type", io)
    onnx.checker.check_model(out)
    return out, report


def graph_float_types(model: onnx.ModelProto) -> dict[str, str]:
    """Element type of each graph input and output ("float32"/"float16"), for reports and tests."""
    names = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.FLOAT16: "float16"}
    return {v.name: names.get(v.type.tensor_type.elem_type, str(v.type.tensor_type.elem_type)) for v in list(model.graph.input) + list(model.graph.output)}

"""TensorRT cannot run here, so the code that calls it is checked statically against the
11.4 binding listing, and the graphs against the ONNX parser's operator support list."""

import ast
import json
from pathlib import Path

import pytest

import paracolor

LISTING = Path(__file__).resolve().parents[1] / "data" / "tensorrt-11.4-python-api.txt"
PKG = Path(paracolor.__file__).parent
#: variable names the TensorRT code uses for each TensorRT class
TYPED_NAMES = {
    "builder": "Builder", "config": "IBuilderConfig", "network": "INetworkDefinition", "parser": "OnnxParser",
    "runtime": "Runtime", "engine": "ICudaEngine", "context": "IExecutionContext", "profile": "IOptimizationProfile",
}


def load_listing():
    top, enums, classes = set(), {}, {}
    for line in LISTING.read_text().splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "TOP":
            top = set(ast.literal_eval(rest))
        elif kind in ("ENUM", "CLASS"):
            name, _, members = rest.partition(" ")
            if members.startswith("["):
                (enums if kind == "ENUM" else classes)[name] = set(ast.literal_eval(members))
    return top, enums, classes


def trt_modules():
    return [p for p in PKG.rglob("*.py") if "import tensorrt" in p.read_text()]


def collect_uses(path):
    tree = ast.parse(path.read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    uses = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        chain, base = [node.attr], node.value
        while isinstance(base, ast.Attribute):
            chain.insert(0, base.attr)
            base = base.value
        if isinstance(parents.get(node), ast.Attribute):
            continue  # the outermost attribute of a chain carries the whole chain
        if isinstance(base, ast.Name) and (base.id == "trt" or base.id in TYPED_NAMES):
            uses.append((base.id, tuple(chain), node.lineno))
        elif isinstance(base, ast.Name) and base.id == "self" and len(chain) > 1 and chain[0] in TYPED_NAMES:
            uses.append((chain[0], tuple(chain[1:]), node.lineno))  # self.context.execute_async_v3
    return uses


def test_every_tensorrt_attribute_exists_in_11_4():
    top, enums, classes = load_listing()
    modules = trt_modules()
    assert {"trt.py", "tensorrt.py"} <= {p.name for p in modules}
    missing, checked = [], 0
    for path in modules:
        for base, chain, line in collect_uses(path):
            checked += 1
            where = f"{path.name}:{line} {base}.{'.'.join(chain)}"
            if base == "trt":
                head = chain[0]
                if head.startswith("__"):
                    continue  # module dunders such as __version__
                if head not in top:
                    missing.append(where)
                elif len(chain) > 1 and head in enums and chain[1] not in enums[head]:
                    missing.append(where)
                elif len(chain) > 1 and head in classes and chain[1] not in classes[head]:
                    missing.append(where)
            elif chain[0] not in classes[TYPED_NAMES[base]]:
                missing.append(where)
    assert checked >= 20, "the scan found too few TensorRT uses to mean anything"
    assert missing == []


def test_listing_reflects_tensorrt_11():
    top, enums, _ = load_listing()
    assert "FP16" not in enums["BuilderFlag"] and "INT8" not in enums["BuilderFlag"]
    assert "IInt8EntropyCalibrator2" not in top
    assert "STRONGLY_TYPED" in enums["NetworkDefinitionCreationFlag"]


def _supported():
    data = json.loads((PKG / "builder" / "trt_onnx_ops.json").read_text())
    return data["operators"]


def _version(v):
    return tuple(int(x) for x in v.split("."))


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
@pytest.mark.parametrize("attention", ["fused", "matmul"])
def test_final_graph_ops_are_supported_by_trt_parser(tiny_model_dir, photo_dir, tmp_path, precision, attention):
    pytest.importorskip("onnx_graphsurgeon")
    import onnx

    from paracolor.builder.build import BuildConfig, build

    out = tmp_path / "m"
    build(BuildConfig(out_dir=str(out), model_dir=str(tiny_model_dir), precision=precision, attention=attention, merge_fg_bg=True, report_images=[str(photo_dir)], report_limit=2))
    ops = _supported()
    for path in (out / precision).glob("*.onnx"):
        used = {n.op_type for n in onnx.load(str(path)).graph.node}
        assert used <= set(ops), f"{path.name}: unsupported {used - set(ops)}"
        newest = max(_version(ops[o]) for o in used)
        if attention == "matmul":
            assert newest <= (10, 3), f"{path.name} needs TensorRT {newest}: not parseable on JetPack 6"
        elif path.name in ("fg.onnx", "fg_bg.onnx"):
            assert newest == (10, 14)  # the fused Attention operator

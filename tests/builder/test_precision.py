import json

import numpy as np
import onnx
import pytest
from click.testing import CliRunner

from paracolor.builder.passes import cleanup, fix_input_shapes, fuse_attention
from paracolor.builder.precision import convert_fp16, graph_float_types
from paracolor.cli import main
from tests.builder.conftest import run_onnx


@pytest.mark.parametrize("mode", ["fused", "matmul"])
@pytest.mark.parametrize("io", ["fp32", "fp16"])
def test_fp16_with_fp32_islands(graphs, feeds64, mode, io):
    clean = cleanup(fix_input_shapes(graphs["fg"], 64, 64))
    model, _ = fuse_attention(clean, mode)
    half, report = convert_fp16(cleanup(model, fold=False), io=io)
    want = "float32" if io == "fp32" else "float16"
    assert graph_float_types(half) == {"L": want, "ab": want}
    islands = {i.split(":")[0] for i in report["islands"]}
    assert "Tanh" in islands
    assert ("Softmax" in islands) == (mode == "matmul")
    if mode == "fused":
        att = next(n for n in half.graph.node if n.op_type == "Attention")
        assert {a.name: a.i for a in att.attribute}["softmax_precision"] == onnx.TensorProto.FLOAT
    # all conv weights are FP16 now
    inits = {i.name: i.data_type for i in half.graph.initializer}
    conv_w = [n.input[1] for n in half.graph.node if n.op_type == "Conv"]
    assert conv_w and all(inits[w] == onnx.TensorProto.FLOAT16 for w in conv_w)
    feeds = {"L": feeds64["gen"]["L"].astype(np.float16 if io == "fp16" else np.float32)}
    out = run_onnx(half, feeds)[0].astype(np.float32)
    ref = run_onnx(clean, feeds64["gen"])[0]
    assert np.abs(out - ref).max() < 5e-3


def test_build_cli_fp16_without_tensorrt(tiny_model_dir, photo_dir, tmp_path):
    out = tmp_path / "built"
    res = CliRunner().invoke(
        main, ["build", "--model", str(tiny_model_dir), "-o", str(out), "--precision", "fp16", "--merge-fg-bg", "--report-images", str(photo_dir), "--max-batch", "4"]
    )
    assert res.exit_code == 0, res.output
    assert "stopped after writing the verified ONNX graphs" in res.output
    for name in ("fg.onnx", "bg.onnx", "fusion.onnx", "fg_bg.onnx", "build_report.json"):
        assert (out / "fp16" / name).is_file()
    report = json.loads((out / "fp16" / "build_report.json").read_text())
    assert report["accuracy"]["reference"] == "pytorch-fp32"
    assert report["accuracy"]["psnr_rgb_db"] >= 45.0
    assert report["graphs"]["fusion"]["fusion_batch"]["found"]
    # the built folder colorizes at fp16 through the normal engine path
    res = CliRunner().invoke(main, ["colorize", str(photo_dir), "-o", str(tmp_path / "o"), "--model", str(out), "--precision", "fp16", "--quiet"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["colorize", str(photo_dir), "-o", str(tmp_path / "o2"), "--model", str(out), "--precision", "fp16", "--size", "128", "--quiet"])
    assert res.exit_code != 0 and "built for 64 px" in res.output

import numpy as np
import onnx
import pytest
import torch

from paracolor.builder.export import export_onnx
from paracolor.builder.passes import FINE_DECODER, batch_fusion_encoders, cleanup, fix_input_shapes, fuse_attention, merge_generators, split_concat_convs
from paracolor.builder.passes.cleanup import op_counts
from paracolor.models.config import FusionConfig, GeneratorConfig
from paracolor.models.fusion import DenseFuse, FusionHead
from paracolor.models.generator import ResUNet
from tests.builder.conftest import run_onnx


def test_cleanup_folds_and_keeps_output(graphs, feeds64):
    model = graphs["fg"]
    clean = cleanup(fix_input_shapes(model, 64, 64))
    assert len(clean.graph.node) < len(model.graph.node) * 0.6
    assert "Identity" not in op_counts(clean) and "Constant" not in op_counts(clean)
    onnx.checker.check_model(clean)
    a, b = run_onnx(model, feeds64["gen"])[0], run_onnx(clean, feeds64["gen"])[0]
    assert np.abs(a - b).max() < 1e-5


def test_attention_pass_on_tiny_graph(graphs, feeds64):
    clean = cleanup(fix_input_shapes(graphs["fg"], 64, 64))
    fused, blocks = fuse_attention(clean)
    assert len(blocks) == 1 and blocks[0]["qk_channels"] == 4 and blocks[0]["v_channels"] == 32
    ops = op_counts(fused)
    assert ops["Attention"] == 1 and "Softmax" not in ops and "MatMul" not in ops
    assert fused.opset_import[0].version >= 23
    ref = run_onnx(clean, feeds64["gen"])[0]
    assert np.abs(run_onnx(fused, feeds64["gen"])[0] - ref).max() < 1e-5
    kept, _ = fuse_attention(clean, mode="matmul")  # the TensorRT 10.3 form stays as it was
    assert op_counts(kept) == op_counts(clean)
    fp32_soft, _ = fuse_attention(clean, softmax_fp32=True)
    node = next(n for n in fp32_soft.graph.node if n.op_type == "Attention")
    assert {a.name: a.i for a in node.attribute}["softmax_precision"] == onnx.TensorProto.FLOAT


def test_attention_pass_16_wide_qk_128_wide_value(tmp_path):
    """The shipped layout: attention at stride 8 on 128 channels (query/key 16, value 128)."""
    torch.manual_seed(0)
    cfg = GeneratorConfig(encoder_width=0.25, decoder_channels=(32, 128, 16, 16, 8), attention_stride=8)
    g = ResUNet(cfg).eval()
    g.attention["8"].gamma.data.fill_(1.0)
    path = export_onnx(g, "fg", tmp_path / "fg.onnx", 64, 17, {"role": "fg"})
    clean = cleanup(fix_input_shapes(onnx.load(str(path)), 64, 64))
    fused, blocks = fuse_attention(clean)
    assert (blocks[0]["qk_channels"], blocks[0]["v_channels"]) == (16, 128)
    L = np.random.default_rng(1).uniform(-1, 1, (3, 1, 64, 64)).astype(np.float32)
    with torch.no_grad():
        ref = g(torch.from_numpy(L)).numpy()
    assert np.abs(run_onnx(fused, {"L": L})[0] - ref).max() < 1e-4


def test_no_attention_in_background_graph(graphs):
    _, blocks = fuse_attention(cleanup(fix_input_shapes(graphs["bg"], 64, 64)))
    assert blocks == []


@pytest.mark.parametrize(("strategy", "output"), [("add", "image"), ("l1norm", "image"), ("gate", "image"), ("l1norm", "residual")])
def test_fusion_encoders_batched(strategy, output, tmp_path, feeds64):
    torch.manual_seed(0)
    net = DenseFuse(FusionConfig(strategy=strategy, output=output))
    if strategy == "gate":  # an untrained gate is the plain mean; give it weights that tell fg from bg
        torch.nn.init.normal_(net.gate_out.weight, std=0.1)
    if output == "residual":  # an untrained correction is zero (the graph would not need the decoder)
        torch.nn.init.normal_(net.conv_out.weight, std=0.1)
    head = FusionHead(net).eval()
    path = export_onnx(head, "fusion", tmp_path / "fusion.onnx", 64, 17, {"role": "fusion"})
    clean = cleanup(fix_input_shapes(onnx.load(str(path)), 64, 64))
    batched, info = batch_fusion_encoders(clean)
    assert info["found"] and info["nodes_after"] < info["nodes_before"]
    ops_before, ops_after = op_counts(clean), op_counts(batched)
    assert ops_after["Conv"] == ops_before["Conv"] - 4  # one encoder copy (conv_in + 3 dense convs) gone
    assert ops_after["Split"] == info["exits"] == (2 if strategy == "l1norm" else 1)  # l1norm: features + activity
    ref = run_onnx(clean, feeds64["fusion"])[0]
    assert np.abs(run_onnx(batched, feeds64["fusion"])[0] - ref).max() < 1e-5


def test_merge_generators(graphs, feeds64):
    fg = cleanup(fix_input_shapes(graphs["fg"], 64, 64))
    bg = cleanup(fix_input_shapes(graphs["bg"], 64, 64))
    merged = merge_generators(fg, bg)
    assert [o.name for o in merged.graph.output] == ["ab_fg", "ab_bg"] and len(merged.graph.input) == 1
    a_fg, a_bg = run_onnx(merged, feeds64["gen"])
    assert np.array_equal(a_fg, run_onnx(fg, feeds64["gen"])[0])
    assert np.array_equal(a_bg, run_onnx(bg, feeds64["gen"])[0])


def test_split_concat_convs_is_exact_and_removes_the_concats(graphs, feeds64):
    clean = cleanup(fix_input_shapes(graphs["bg"], 64, 64))
    split, info = split_concat_convs(clean, FINE_DECODER)
    split = cleanup(split, fold=False)
    onnx.checker.check_model(split)
    assert len(info["concats"]) == 2 and info["convs_split"] == 4  # body.0 and shortcut of decoder.3 and decoder.4
    fine_concats = [n for n in split.graph.node if n.op_type == "Concat" and any(s in n.name for s in FINE_DECODER) and n.name in info["concats"]]
    assert not fine_concats
    # the L part of the full-resolution stage reads the graph input itself
    assert any(n.op_type == "Conv" and n.input[0] == "L" and "/decoder.4/" in n.name for n in split.graph.node)
    a, b = run_onnx(clean, feeds64["gen"])[0], run_onnx(split, feeds64["gen"])[0]
    assert np.abs(a - b).max() < 1e-5


def test_split_concat_convs_leaves_other_readers_alone(graphs):
    clean = cleanup(fix_input_shapes(graphs["bg"], 64, 64))
    _, none = split_concat_convs(clean, ("/no-such-scope/",))
    assert none == {"concats": [], "convs_split": 0}


def test_cleanup_drops_one_input_concats(graphs, feeds64):
    model = graphs["fusion"]
    assert any(n.op_type == "Concat" and len(n.input) == 1 for n in model.graph.node)  # DenseFuse's first dense layer
    clean = cleanup(fix_input_shapes(model, 64, 64))
    assert not any(n.op_type == "Concat" and len(n.input) == 1 for n in clean.graph.node)
    a, b = run_onnx(model, feeds64["fusion"])[0], run_onnx(clean, feeds64["fusion"])[0]
    assert np.abs(a - b).max() < 1e-5

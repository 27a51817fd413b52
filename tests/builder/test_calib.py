import json

import numpy as np
import onnx
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx_graphsurgeon")

from paracolor.builder.calib.calibrate import calibrate  # noqa: E402
from paracolor.builder.calib.qdq import CalibConfig, CalibrationError, float_nodes, sensitive_nodes  # noqa: E402


@pytest.fixture(scope="module")
def calibrated(tiny_model_dir, photo_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("int8") / "m"
    cfg = CalibConfig(images=str(photo_dir), out_dir=str(out), model_dir=str(tiny_model_dir), method="minmax", num=4, eval_images=str(photo_dir), eval_limit=4)
    return cfg, calibrate(cfg), out


def test_qdq_graphs_written_and_cache_miss_then_hit(calibrated):
    cfg, report, out = calibrated
    assert any(n.name.startswith("fusion/") for n in onnx.load(str(out / "int8" / "fusion.onnx")).graph.node)  # batched encoders
    assert all(report["roles"][r]["cache"] == "miss" for r in ("fg", "bg", "fusion"))
    for role in ("fg", "bg", "fusion"):
        model = onnx.load(str(out / "int8" / f"{role}.onnx"))
        qs = [n for n in model.graph.node if n.op_type == "QuantizeLinear"]
        assert qs, role
        # TensorRT needs symmetric int8: every zero point is 0 and of type int8
        inits = {i.name: i for i in model.graph.initializer}
        for q in qs:
            zp = onnx.numpy_helper.to_array(inits[q.input[2]])
            assert zp.dtype == np.int8 and not zp.any()
    again = calibrate(cfg)
    assert all(again["roles"][r]["cache"] == "hit" for r in ("fg", "bg", "fusion"))
    forced = calibrate(CalibConfig(**{**cfg.__dict__, "force": True}))
    assert all(forced["roles"][r]["cache"] == "miss" for r in ("fg", "bg", "fusion"))
    card = json.loads((out / "model.json").read_text())
    assert card["builds"]["int8"]["method"] == "minmax"


def test_sensitive_layers_stay_float(calibrated, tiny_model_dir):
    _, report, out = calibrated
    fg = onnx.load(str(out / "int8" / "fg.onnx"))
    floats = set(float_nodes(fg))
    kept = set(report["roles"]["fg"]["kept_float"])
    convs = [n.name for n in fg.graph.node if n.op_type == "Conv"]
    assert convs[0] in floats and convs[-1] in floats  # first and last convolutions
    assert any("attention" in n.lower() for n in floats)  # the attention block
    depthwise = [n.name for n in fg.graph.node if n.op_type == "Conv" and any(a.name == "group" and a.i > 1 for a in n.attribute)]
    assert depthwise and set(depthwise) <= floats  # depthwise convolutions stay float
    assert any("/decoder.4/" in n for n in floats)  # TensorRT target (the default): the finest decoder stage too
    # exactly the kept convolutions are float; every other one is int8
    assert {c for c in convs if c in floats} == {c for c in convs if c in kept}
    assert len(convs) - len(floats & set(convs)) >= 10


def test_report_numbers(calibrated):
    _, report, _ = calibrated
    acc = report["accuracy"]
    assert acc["reference"] == "pytorch-fp32" and acc["images"] == 4
    assert 15.0 < acc["psnr_rgb_db"] < 200 and 0 < acc["ssim_rgb"] <= 1
    assert acc["ab_mean_abs"] > 0 and abs(acc["colourfulness_change"]) < 20


def test_compare_identical_runners_is_exact(tiny_model_dir, photo_dir):
    from paracolor.builder.report import compare, reference_runners

    ref, _ = reference_runners(tiny_model_dir)
    res = compare(tiny_model_dir, ref, ref, [str(photo_dir)], 64, limit=3)
    assert res["ab_max_abs"] == 0.0 and res["psnr_rgb_db"] == float("inf") and res["colourfulness_change"] == 0.0


def test_auto_sensitivity_keeps_k_layers(tiny_model_dir, photo_dir, tmp_path):
    cfg = CalibConfig(images=str(photo_dir), out_dir=str(tmp_path / "m"), model_dir=str(tiny_model_dir), method="minmax", num=2, auto_sensitivity=2, default_sensitive=False)
    report = calibrate(cfg)
    auto = report["roles"]["fusion"]["auto_sensitivity"]
    assert len(auto) == 2 and auto[0]["error"] >= auto[1]["error"] > 0
    assert {a["node"] for a in auto} <= set(float_nodes(onnx.load(str(tmp_path / "m" / "int8" / "fusion.onnx"))))


def test_bad_image_folders(tiny_model_dir, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CalibrationError, match="no image files"):
        calibrate(CalibConfig(images=str(empty), out_dir=str(tmp_path / "o"), model_dir=str(tiny_model_dir)))
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.jpg").write_bytes(b"not a jpeg")
    (junk / "b.png").write_bytes(b"")
    with pytest.raises(CalibrationError, match="none of the 2 files could be decoded"):
        calibrate(CalibConfig(images=str(junk), out_dir=str(tmp_path / "o"), model_dir=str(tiny_model_dir)))
    with pytest.raises(CalibrationError, match="no such file"):
        calibrate(CalibConfig(images=str(tmp_path / "missing"), out_dir=str(tmp_path / "o"), model_dir=str(tiny_model_dir)))


def test_sensitive_nodes_for_fusion(tiny_model_dir):
    from paracolor.builder.transform import transform

    model, _ = transform(onnx.load(str(tiny_model_dir / "fp32" / "fusion.onnx")), "fusion", 64, "fp32", "fused", "fp32")
    names = sensitive_nodes(model, "fusion")
    assert any("conv_out" in n for n in names) and any("conv_in" in n for n in names)


def test_fine_decoder_stages_float_for_tensorrt_int8_for_cpu(tiny_model_dir):
    from paracolor.builder.transform import transform

    model, _ = transform(onnx.load(str(tiny_model_dir / "fp32" / "bg.onnx")), "bg", 64, "fp32", "fused", "fp32", split_concats=False)
    trt, cpu = set(sensitive_nodes(model, "bg", "tensorrt")), set(sensitive_nodes(model, "bg", "cpu"))
    fine = {n.name for n in model.graph.node if "/decoder.3/" in n.name or "/decoder.4/" in n.name}
    assert fine and fine <= trt and not fine & cpu
    depthwise = {n.name for n in model.graph.node if n.op_type == "Conv" and any(a.name == "group" and a.i > 1 for a in n.attribute)}
    assert depthwise and depthwise <= trt & cpu


def test_cpu_target_uses_uint8_activations_and_is_refused_by_tensorrt_build(tiny_model_dir, photo_dir, tmp_path):
    out = tmp_path / "cpu"
    report = calibrate(CalibConfig(images=str(photo_dir), out_dir=str(out), model_dir=str(tiny_model_dir), method="minmax", num=4, target="cpu"))
    assert report["target"] == "cpu"
    model = onnx.load(str(out / "int8" / "bg.onnx"))
    inits = {i.name: i for i in model.graph.initializer}
    act_q = [n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[2] in inits]
    assert act_q and all(onnx.numpy_helper.to_array(inits[n.input[2]]).dtype == np.uint8 for n in act_q)
    # the CPU target keeps the fusion encoders as two passes; the TensorRT target batches them
    cpu_fusion = onnx.load(str(out / "int8" / "fusion.onnx"))
    assert not any(n.name.startswith("fusion/") for n in cpu_fusion.graph.node)
    from paracolor.builder.build import BuildConfig, build

    with pytest.raises(ValueError, match="calibrated for the CPU"):
        build(BuildConfig(out_dir=str(out), model_dir=str(out), precision="int8", report_images=[str(photo_dir)]))


def _qdq_model(scales, concats=((("a", "b"), "c"),)):
    """Float Concats ((inputs), output) and a stand-in quantized graph holding uint8 scales
    (``scales``: a list for a, b, c, ... in order)."""
    from onnx import helper, numpy_helper

    nodes = [helper.make_node("Concat", list(ins), [out], axis=1) for ins, out in concats]
    float_model = helper.make_model(helper.make_graph(nodes, "f", [], []))
    nodes, inits = [], []
    for t, s in zip("abcdefgh", scales):
        inits += [numpy_helper.from_array(np.array(s, np.float32), f"{t}_s"), numpy_helper.from_array(np.array(128, np.uint8), f"{t}_z")]
        nodes.append(helper.make_node("QuantizeLinear", [t, f"{t}_s", f"{t}_z"], [f"{t}_q"]))
    q = helper.make_model(helper.make_graph(nodes, "q", [], [], inits))
    return float_model, q


def test_concat_ranges_shared_only_when_close():
    from paracolor.builder.calib.qdq import concat_range_overrides

    f, q = _qdq_model([0.01, 0.015, 0.02])  # widest range 2x the narrowest: shared
    ov = concat_range_overrides(f, q)
    assert set(ov) == {"a", "b", "c"}
    lo, hi = float(ov["a"][0]["rmin"]), float(ov["a"][0]["rmax"])
    assert lo == pytest.approx(-128 * 0.02) and hi == pytest.approx(127 * 0.02)
    assert all(float(ov[t][0]["rmin"]) == lo and float(ov[t][0]["rmax"]) == hi for t in "bc")
    f, q = _qdq_model([0.002, 0.015, 0.02])  # L beside features: 10x apart, kept apart
    assert concat_range_overrides(f, q) == {}


def test_concats_sharing_a_tensor_share_one_range():
    from paracolor.builder.calib.qdq import concat_range_overrides

    # Concat(a, b) -> c and Concat(a, d) -> e: a links them, so all five take the widest range (e's)
    f, q = _qdq_model([0.012, 0.015, 0.02, 0.02, 0.025], concats=((("a", "b"), "c"), (("a", "d"), "e")))
    ov = concat_range_overrides(f, q)
    assert set(ov) == set("abcde")
    assert {(float(v[0]["rmin"]), float(v[0]["rmax"])) for v in ov.values()} == {(float(np.float32(-128 * 0.025)), float(np.float32(127 * 0.025)))}

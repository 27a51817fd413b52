import json

import cv2
import numpy as np
from onnx import TensorProto, helper

from paracolor.bench.flops import count_flops
from paracolor.bench.harness import BenchConfig, run_bench


def test_flops_hand_count():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, "h", "w"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = helper.make_tensor("w", TensorProto.FLOAT, [8, 3, 3, 3], np.zeros(8 * 27, np.float32))
    b = helper.make_tensor("b", TensorProto.FLOAT, [8], np.zeros(8, np.float32))
    m = helper.make_tensor("m", TensorProto.FLOAT, [16, 4], np.zeros(64, np.float32))
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),  # (1, 8, 16, 16)
        helper.make_node("MatMul", ["c", "m"], ["y"]),  # (1, 8, 16, 16) x (16, 4)
    ]
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y], [w, b, m]), opset_imports=[helper.make_opsetid("", 17)])
    res = count_flops(model, 16)
    assert res["per_op"]["Conv"] == 2 * (8 * 16 * 16) * (3 * 3 * 3)  # 110,592
    assert res["per_op"]["MatMul"] == 2 * (8 * 16 * 4) * 16  # 16,384
    assert res["total"] == 110_592 + 16_384 and res["uncounted_nodes"] == []


def test_harness_outputs_on_tiny_model(tiny_model_dir, photo_dir, tmp_path):
    cfg = BenchConfig(
        out_dir=str(tmp_path), model_dir=str(tiny_model_dir), images=str(photo_dir), num=4, warmup=1,
        backends=["onnxruntime", "tensorrt"], precisions=["fp32", "fp16"], batch_sizes=[1, 2], schedules=["sequential", "parallel"], cuda_graphs=[False], tag="test",
    )
    data = run_bench(cfg)
    assert {r["schedule"] for r in data["results"]} == {"sequential", "parallel"} and len(data["results"]) == 4
    reasons = {(s["backend"], s["precision"]): s["reason"] for s in data["skipped"]}
    assert "TensorRT" in reasons[("tensorrt", "fp32")] and "paracolor build" in reasons[("onnxruntime", "fp16")]
    saved = json.loads(open(data["files"]["json"]).read())
    r = saved["results"][0]
    for stage in ("decode_preprocess", "parallel_colorization", "fusion", "postprocess", "end_to_end"):
        s = r["stages_ms_per_image"][stage]
        assert 0 < s["median"] <= s["p90"] <= s["p99"] and s["mean"] > 0
    assert r["gflops_per_image"] > 0 and 0 < r["fraction_of_peak"] < 5 and r["peak_rss_mb"] > 0
    assert saved["environment"]["cores"] >= 1
    md = open(data["files"]["markdown"]).read()
    assert "| paper: GTX 1080, batch 1 | – | 15.0 | 9.0 | 24.0 |" in md and "onnxruntime fp32 bs2 parallel" in md
    png = cv2.imread(data["files"]["png"])
    assert png is not None and png.shape[0] > 100


def _small(tmp_path, tiny_model_dir, photo_dir, **kw):
    return BenchConfig(out_dir=str(tmp_path), model_dir=str(tiny_model_dir), images=str(photo_dir), num=2, warmup=1,
                       backends=["onnxruntime", "tensorrt"], precisions=["fp32"], batch_sizes=[1], schedules=["sequential"], cuda_graphs=[False, True], tag="t", **kw)


def test_harness_estimates_and_summarises_skips_first(tiny_model_dir, photo_dir, tmp_path, capsys):
    data = run_bench(_small(tmp_path, tiny_model_dir, photo_dir))
    err = capsys.readouterr().err
    assert "3 configurations skipped on this machine:" in err and "2 x TensorRT is not importable" in err
    head = err.index("1 configuration x 2 images")
    assert "about" in err[head:] and err.index("bench:") > head  # the estimate comes before the bar
    md = open(data["files"]["markdown"]).read()
    assert "Skipped on this machine (3 configurations):" in md
    assert md.count("TensorRT is not importable") == 1  # one line per reason, not per configuration


def test_harness_quiet_prints_nothing(tiny_model_dir, photo_dir, tmp_path, capsys):
    run_bench(_small(tmp_path, tiny_model_dir, photo_dir, progress=False))
    assert capsys.readouterr().err == ""


def test_harness_without_matplotlib_or_onnx_still_measures(monkeypatch, tiny_model_dir, photo_dir, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "onnx", None)
    data = run_bench(_small(tmp_path, tiny_model_dir, photo_dir, progress=False))
    assert "png" not in data["files"] and data["results"][0]["throughput_img_s"] > 0
    assert data["results"][0]["gflops_per_image"] is None
    md = open(data["files"]["markdown"]).read()
    assert "no plot: the benchmark plot needs matplotlib, which is not installed: pip install 'paracolor[bench]'" in md
    assert "FLOPs not counted: counting FLOPs needs onnx" in md and "n/a (n/a)" in md

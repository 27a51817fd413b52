import importlib.util
import json

import cv2
import numpy as np
from onnx import TensorProto, helper

from paracolor.bench.flops import count_flops
from paracolor.bench.harness import BenchConfig, run_bench
from paracolor.bench.peak import isa_peak_gflops, runtime_gemm_gflops

HAS_OPENVINO = importlib.util.find_spec("openvino") is not None


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
        backends=["onnxruntime", "openvino", "tensorrt"], precisions=["fp32", "fp16", "bf16"], batch_sizes=[1, 2], schedules=["sequential", "parallel"], cuda_graphs=[False], tag="test",
    )
    data = run_bench(cfg)
    ran = {(r["backend"], r["precision"]) for r in data["results"]}
    assert {r["schedule"] for r in data["results"]} == {"sequential", "parallel"} and ("onnxruntime", "fp32") in ran
    reasons = {(s["backend"], s["precision"]): s["reason"] for s in data["skipped"]}
    assert "TensorRT" in reasons[("tensorrt", "fp32")] and "paracolor build" in reasons[("onnxruntime", "fp16")]
    assert "computed by openvino only" in reasons[("onnxruntime", "bf16")]
    if HAS_OPENVINO:
        from paracolor.engine.backends.openvino import has_bf16

        assert ("openvino", "fp32") in ran and (("openvino", "bf16") in ran) == has_bf16()
    else:
        assert "pip install 'paracolor[openvino]'" in reasons[("openvino", "fp32")]
    saved = json.loads(open(data["files"]["json"]).read())
    r = saved["results"][0]
    for stage in ("decode_preprocess", "parallel_colorization", "fusion", "postprocess", "end_to_end"):
        s = r["stages_ms_per_image"][stage]
        assert 0 < s["median"] <= s["p90"] <= s["p99"] and s["mean"] > 0
    assert r["gflops_per_image"] > 0 and r["peak_rss_mb"] > 0
    for row in saved["results"]:  # the peak bounds what any row achieves: never over 100%
        d = row["peak_detail"]
        assert 0 < row["fraction_of_peak"] <= 1 and row["peak_gflops_s"] == max(d["isa_gflops_s"] or 0, d["runtime_gemm_gflops_s"] or 0)
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


def test_isa_peak_from_flags_and_clock():
    spr = {"avx512f", "fma", "avx2", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "avx512_fp16"}
    assert isa_peak_gflops("fp32", spr, 2000.0, 2)[0] == 64 * 2 * 2.0
    assert isa_peak_gflops("bf16", spr, 2000.0, 2)[0] == 1024 * 2 * 2.0  # AMX tiles
    assert isa_peak_gflops("int8", spr, 2000.0, 2)[0] == 2048 * 2 * 2.0
    zen4 = {"avx512f", "fma", "avx2", "avx512_vnni", "avx512_bf16"}
    assert isa_peak_gflops("bf16", zen4, 3000.0, 2)[0] == 128 * 2 * 3.0
    assert isa_peak_gflops("int8", zen4, 3000.0, 2)[0] == 256 * 2 * 3.0
    avx2 = {"avx", "fma", "avx2"}
    assert isa_peak_gflops("bf16", avx2, 3000.0, 4)[0] == 32 * 4 * 3.0  # no bf16 units: the fp32 bound
    assert isa_peak_gflops("fp32", set(), None, 2)[0] is None


def test_runtime_gemm_is_measured_at_each_precision():
    for precision in ("fp32", "int8"):
        assert runtime_gemm_gflops("onnxruntime", precision, n=256, seconds=0.05) > 0.1
    if HAS_OPENVINO:
        for precision in ("fp32", "bf16", "int8"):
            assert runtime_gemm_gflops("openvino", precision, n=256, seconds=0.05) > 0.1

"""The benchmark's plan: images per configuration, the time estimate, the skip summary."""

from paracolor.bench.plan import duration, estimate_seconds, images_timed, skip_summary


def test_images_and_estimate():
    assert images_timed(8, 100, 3) == 124
    assert estimate_seconds([1, 8], 10, 2, load_s=1.0, s_per_image=0.5) == (1 + 12 * 0.5) + (1 + 26 * 0.5)
    assert duration(42) == "42 s" and duration(300) == "5 min" and duration(7200) == "2.0 h"


def test_skip_summary_is_one_line_per_reason():
    skipped = [
        {"backend": "tensorrt", "precision": p, "batch": b, "schedule": "parallel", "cuda_graphs": g, "reason": "TensorRT is not importable"}
        for p in ("fp32", "fp16") for b in (1, 8) for g in (False, True)
    ] + [{"backend": "torch", "precision": "int8", "batch": 1, "schedule": "parallel", "cuda_graphs": False, "reason": "no int8 path"}]
    lines = skip_summary(skipped)
    assert lines == [
        "8 x TensorRT is not importable (tensorrt, fp16/fp32, batch 1/8, parallel, CUDA graphs off/on)",
        "1 x no int8 path (torch, int8, batch 1, parallel, CUDA graphs off)",
    ]

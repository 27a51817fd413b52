"""The bench's video rows: the whole video job timed per height, with per-stage times."""

import json

import pytest

pytest.importorskip("av")

from paracolor.bench.harness import BenchConfig, run_bench  # noqa: E402
from paracolor.bench.video import synthetic_clip  # noqa: E402
from paracolor.engine.video.container import VideoSource  # noqa: E402


def test_video_rows(tiny_model_dir, photo_dir, tmp_path):
    cfg = BenchConfig(
        out_dir=str(tmp_path), model_dir=str(tiny_model_dir), images=str(photo_dir), num=2, warmup=1, backends=["onnxruntime"], precisions=["fp32"],
        batch_sizes=[1], schedules=["parallel"], cuda_graphs=[False], tag="test", plot=False, video_heights=[72, 90], video_frames=6,
    )
    data = run_bench(cfg)
    rows = json.loads(open(data["files"]["json"]).read())["video"]
    assert [(r["height"], r["frames"]) for r in rows] == [(72, 6), (90, 6)]
    for r in rows:
        assert r["fps"] > 0 and r["temporal"] and all(v > 0 for k, v in r["stage_ms_per_frame"].items() if k != "stabilize")
        assert r["stage_ms_per_frame"]["stabilize"] > 0  # stabilization is on (and timed) by default
    assert "| 72p, 6 frames, onnxruntime fp32 bs1 |" in open(data["files"]["markdown"]).read()  # the backend's batch, as colorize uses


def test_synthetic_clip_is_16_by_9_with_audio(tmp_path):
    s = VideoSource(synthetic_clip(tmp_path / "c.mp4", 90, 5))
    assert (s.width, s.height) == (160, 90) and [st.type for st in s.copy_streams] == ["audio"]
    assert len(list(s.frames())) == 5

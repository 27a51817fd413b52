"""The flicker metric: zero for a still video, ranks a flickering output above a steady one,
and `paracolor evaluate VIDEO` reports temporal on/off, grey and the source."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("av")

from paracolor.eval.flicker import warping_error  # noqa: E402
from tests.engine.video.synth import frames, write_video  # noqa: E402


def test_warping_error_sees_flicker_and_not_motion(tmp_path):
    grey = frames(16, 96, 64, pan=1.5, cut_at=10)
    tint = lambda f, d: np.clip(f.astype(int) + d, 0, 255).astype(np.uint8)
    rng = np.random.default_rng(0)
    clips = {
        "src": [tint(f, [0, 12, 0]) for f in grey],  # the source has a steady colour of its own
        "steady": [tint(f, [30, 0, -20]) for f in grey],  # one cast, moving with the scene
        "flicker": [tint(f, rng.normal(0, 12, 3).astype(int)) for f in grey],  # a new cast every frame
    }
    paths = {k: str(write_video(tmp_path / f"{k}.mkv", v, codec="ffv1", pix_fmt="bgr0", audio=False)) for k, v in clips.items()}
    s = warping_error(paths["src"], {"steady": paths["steady"], "flicker": paths["flicker"], "grey": None, "the source": "source"})
    assert s["grey"]["pairs"] == 14 and s["grey"]["cuts_skipped"] == 1  # the cut is not measured
    assert s["grey"]["warp_ab"] < 0.01  # no chroma, no chroma change (float Lab round trip)
    assert 0.01 < s["the source"]["warp_ab"] < 0.5  # the source row is the source's colour, steady
    assert s["steady"]["warp_ab"] < 0.5
    assert s["flicker"]["warp_ab"] > 5 * max(s["steady"]["warp_ab"], 0.2)
    assert s["flicker"]["warp_rgb"] > 3 * s["steady"]["warp_rgb"]


def test_evaluate_video_reports_all_rows(tmp_path, tiny_model_dir):
    from paracolor.eval.evaluate import EvalConfig, evaluate

    src = write_video(tmp_path / "clip.mp4", frames(12, 64, 48, pan=1, noise=4), audio=True)
    res = evaluate(EvalConfig(photos=str(src), out_dir=str(tmp_path / "eval"), model_dir=str(tiny_model_dir), fid=False))
    names = [r["model"] for r in res["rows"]]
    assert names == ["paracolor, temporal on", "paracolor, temporal off (per frame)", "grey baseline (ab = 0)", "source as given"]
    assert all(r["pairs"] == 11 for r in res["rows"])
    assert (tmp_path / "eval" / "evaluation.md").read_text().count("|") > 12
    assert (tmp_path / "eval" / "temporal" / "clip.mp4").is_file()

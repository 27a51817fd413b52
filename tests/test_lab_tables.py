"""The lookup-table Lab conversions are byte-identical to OpenCV's, whatever rows are filled."""

import threading

import cv2
import numpy as np
import pytest

from paracolor import colorspace, lab_tables

pytestmark = pytest.mark.skipif(not lab_tables.available(), reason="numba is not installed")


def _opencv_bgr(L8, ab8):
    return cv2.cvtColor(cv2.merge([L8, ab8]), cv2.COLOR_Lab2BGR)


def _random_lab(rng, h, w):
    # every L and a wide spread of chroma, including out-of-gamut pairs OpenCV clips
    L8 = rng.integers(0, 256, (h, w), dtype=np.uint8)
    ab8 = rng.integers(0, 256, (h, w, 2), dtype=np.uint8)
    return L8, ab8


def test_lab_to_bgr_is_opencv_exactly_on_first_and_later_calls():
    rng = np.random.default_rng(0)
    L8, ab8 = _random_lab(rng, 300, 257)  # rows not a multiple of the band split
    assert np.array_equal(lab_tables.lab8_to_bgr(L8, ab8), _opencv_bgr(L8, ab8))  # fills rows
    rows = lab_tables._LAB.rows
    assert rows > 0
    assert np.array_equal(lab_tables.lab8_to_bgr(L8, ab8), _opencv_bgr(L8, ab8))  # all rows there
    assert lab_tables._LAB.rows == rows  # nothing refilled
    L2, ab2 = _random_lab(rng, 64, 64)  # partly new rows
    assert np.array_equal(lab_tables.lab8_to_bgr(L2, ab2), _opencv_bgr(L2, ab2))


def test_rgb_to_L_is_opencv_exactly_for_contiguous_and_strided_photos():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (200, 150, 3), dtype=np.uint8)
    ref = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)[..., 0]
    assert np.array_equal(lab_tables.rgb8_to_L8(rgb), ref)
    view = rgb[::-1, ::2]  # a strided view, as a rotated or subsampled photo would be
    assert np.array_equal(lab_tables.rgb8_to_L8(view), cv2.cvtColor(np.ascontiguousarray(view), cv2.COLOR_RGB2Lab)[..., 0])
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    assert np.array_equal(lab_tables.rgb8_to_L8(rgba[..., :3]), ref)


def test_concurrent_conversions_from_several_threads_are_exact():
    # the batch job converts in its decode and writer threads at once
    rng = np.random.default_rng(2)
    jobs = [_random_lab(rng, 120, 90) for _ in range(6)]
    rgbs = [rng.integers(0, 256, (120, 90, 3), dtype=np.uint8) for _ in range(6)]
    errors = []

    def work(i):
        try:
            for _ in range(3):
                assert np.array_equal(lab_tables.lab8_to_bgr(*jobs[i]), _opencv_bgr(*jobs[i]))
                assert np.array_equal(lab_tables.rgb8_to_L8(rgbs[i]), cv2.cvtColor(rgbs[i], cv2.COLOR_RGB2Lab)[..., 0])
        except AssertionError as exc:  # pragma: no cover - reported below
            errors.append((i, exc))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_bad_arrays_are_refused():
    with pytest.raises(ValueError, match="uint8"):
        lab_tables.lab8_to_bgr(np.zeros((4, 4), np.float32), np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ValueError, match="ab"):
        lab_tables.lab8_to_bgr(np.zeros((4, 4), np.uint8), np.zeros((4, 5, 2), np.uint8))
    with pytest.raises(ValueError, match="RGB"):
        lab_tables.rgb8_to_L8(np.zeros((4, 4), np.uint8))
    L8, ab8 = np.zeros((4, 4), np.uint8), np.zeros((4, 4, 2), np.uint8)
    for bad in (np.zeros((4, 5, 3), np.uint8), np.zeros((4, 4, 3), np.float32), np.zeros((4, 8, 3), np.uint8)[:, ::2]):
        with pytest.raises(ValueError, match="out must be"):
            colorspace.lab8_to_bgr(L8, ab8, bad)  # the OpenCV path: cv2 would have reallocated silently
        with pytest.raises(ValueError, match="out must be"):
            lab_tables.lab8_to_bgr(L8, ab8, bad)


def test_colorspace_uses_tables_for_large_images_and_opencv_without_numba(monkeypatch):
    rng = np.random.default_rng(3)
    L8, ab8 = _random_lab(rng, 40, 50)
    rgb = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    calls = []
    real = lab_tables.lab8_to_bgr
    monkeypatch.setattr(lab_tables, "lab8_to_bgr", lambda *a: calls.append(1) or real(*a))
    monkeypatch.setattr(lab_tables, "MIN_PIXELS", 1000)  # 40x50 counts as large
    assert np.array_equal(colorspace.lab8_to_bgr(L8, ab8), _opencv_bgr(L8, ab8)) and calls
    assert np.array_equal(colorspace.rgb8_to_L8(rgb), cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)[..., 0])
    calls.clear()
    monkeypatch.setattr(lab_tables, "_kernels", False)  # as when numba cannot be imported
    assert not lab_tables.available()
    assert np.array_equal(colorspace.lab8_to_bgr(L8, ab8), _opencv_bgr(L8, ab8)) and not calls
    assert np.array_equal(colorspace.rgb8_to_L8(rgb), cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)[..., 0])


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no fork on this platform")
def test_a_forked_child_converts_with_its_own_threads():
    import multiprocessing as mp

    rng = np.random.default_rng(4)
    L8, ab8 = _random_lab(rng, 256, 64)  # tall enough for several bands: the pool is used
    lab_tables.lab8_to_bgr(L8, ab8)  # the parent's pool threads exist now
    assert lab_tables._pool is not None or lab_tables._THREADS == 1
    ctx = mp.get_context("fork")
    with ctx.Pool(1) as pool:
        result = pool.apply_async(lab_tables.lab8_to_bgr, (L8, ab8))
        assert np.array_equal(result.get(timeout=60), _opencv_bgr(L8, ab8))


def test_environment_switch_turns_the_tables_off(monkeypatch):
    from paracolor.info import collect_info

    monkeypatch.setenv("PARACOLOR_LAB_TABLES", "0")
    assert lab_tables.disabled() and not lab_tables.available()
    assert "off" in collect_info()["backends"]["lab_tables"]
    rng = np.random.default_rng(5)
    L8, ab8 = _random_lab(rng, 40, 50)
    monkeypatch.setattr(lab_tables, "MIN_PIXELS", 1000)
    assert np.array_equal(colorspace.lab8_to_bgr(L8, ab8), _opencv_bgr(L8, ab8))  # through OpenCV
    monkeypatch.setenv("PARACOLOR_LAB_TABLES", "1")
    assert not lab_tables.disabled() and lab_tables.available()

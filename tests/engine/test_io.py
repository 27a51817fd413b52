import io
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from paracolor.engine.io import ImageError, atomic_write, encode_image, find_images, read_image
from tests.conftest import write_photo


def test_decode_8bit_colour_and_grey(tmp_path):
    p = write_photo(tmp_path / "a.png", 40, 30)
    im = read_image(p)
    assert im.pixels.shape == (30, 40, 3) and im.pixels.dtype == np.uint8 and im.bit_depth == 8 and not im.grey
    bgr = cv2.imread(str(p))
    assert np.array_equal(im.pixels, bgr[..., ::-1])
    g = tmp_path / "g.png"
    cv2.imwrite(str(g), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    gi = read_image(g)
    assert gi.grey and gi.pixels.shape == (30, 40, 3)
    assert np.array_equal(gi.lab_L8(), cv2.cvtColor(gi.pixels, cv2.COLOR_RGB2Lab)[..., 0])
    # decoded pixels are read-only views: a grey file's one plane is not copied three times
    assert gi.pixels.strides[2] == 0 and not gi.pixels.flags.writeable
    assert np.array_equal(im.lab_L8(), cv2.cvtColor(np.ascontiguousarray(im.pixels), cv2.COLOR_RGB2Lab)[..., 0])


def test_decode_16bit_and_alpha(tmp_path):
    img16 = (np.random.default_rng(0).uniform(0, 65535, (20, 24, 4))).astype(np.uint16)
    p = tmp_path / "a16.png"
    cv2.imwrite(str(p), img16)
    im = read_image(p)
    assert im.bit_depth == 16 and im.alpha is not None and im.alpha.dtype == np.uint16
    assert np.array_equal(im.alpha, img16[..., 3])
    assert im.rgb.max() <= 1.0 and im.rgb.dtype == np.float32


def test_exif_orientation_applied(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = 255  # left half white: landscape 40 wide, 20 high
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    p = tmp_path / "rot.jpg"
    Image.fromarray(arr).save(p, exif=exif.tobytes(), quality=95)
    im = read_image(p)
    assert im.size == (20, 40)  # displayed as portrait
    assert im.pixels[:20].mean() > 200 and im.pixels[20:].mean() < 50  # the white half is now on top


@pytest.mark.parametrize(
    "content,cause",
    [(b"", "empty file"), (b"this is not an image at all", "not a decodable image"), ("jpg", "truncated JPEG"), ("png", "truncated PNG")],
)
def test_bad_files_raise_clear_errors(tmp_path, content, cause):
    p = tmp_path / "bad.jpg"
    if isinstance(content, str):  # a real file cut short (libjpeg alone would fill it in grey)
        good = write_photo(tmp_path / f"good.{content}", 64, 64).read_bytes()
        content = good[: len(good) * 2 // 3]
    p.write_bytes(content)
    with pytest.raises(ImageError, match=cause) as err:
        read_image(p)
    assert err.value.path == str(p)


def test_missing_and_oversized(tmp_path):
    with pytest.raises(ImageError, match="file not found"):
        read_image(tmp_path / "nope.png")
    p = write_photo(tmp_path / "big.png", 100, 100)
    with pytest.raises(ImageError, match="above the limit"):
        read_image(p, max_pixels=5000)


def test_atomic_write_never_clobbers_and_leaves_no_temp(tmp_path):
    dst = tmp_path / "out" / "x.bin"
    atomic_write(dst, b"one")
    with pytest.raises(ImageError, match="output exists"):
        atomic_write(dst, b"two")
    assert dst.read_bytes() == b"one"
    atomic_write(dst, b"three", overwrite=True)
    assert dst.read_bytes() == b"three"
    assert sorted(os.listdir(dst.parent)) == ["x.bin"]
    assert oct(dst.stat().st_mode & 0o777) != oct(0o600)


def test_encode_roundtrip_png_alpha():
    bgr = np.full((4, 5, 3), 100, np.uint8)
    alpha = np.arange(20, dtype=np.uint8).reshape(4, 5)
    data = encode_image(bgr, "png", alpha)
    back = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert back.shape == (4, 5, 4) and np.array_equal(back[..., 3], alpha)
    jpg = encode_image(bgr, "jpg", alpha)  # JPEG has no alpha: dropped, not an error
    assert Image.open(io.BytesIO(jpg)).mode == "RGB"


def test_find_images_folders_globs_files(tmp_path):
    for name in ("a/1.jpg", "a/b/2.png", "a/notes.txt", "c.jpeg"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    found = find_images([tmp_path / "a", str(tmp_path / "*.jpeg"), tmp_path / "a" / "1.jpg"])
    names = [p.relative_to(tmp_path).as_posix() for p, _ in found]
    assert names == ["a/1.jpg", "a/b/2.png", "c.jpeg"]  # recursive, filtered, deduplicated
    assert found[1][1] == tmp_path / "a"
    with pytest.raises(ImageError, match="no such file"):
        find_images([tmp_path / "missing"])
    with pytest.raises(ImageError, match="matches no image"):
        find_images([str(tmp_path / "*.tif")])


def test_flat_jpegs_pass_the_size_check(tmp_path):
    """The smallest real JPEGs (flat, optimised, progressive) hold about two bits per block,
    above the one-bit bound that flags headers declaring more than their data can hold."""
    from paracolor.engine.io import _jpeg_too_short

    for mode in ("L", "RGB", "CMYK"):
        for kw in ({}, {"optimize": True, "progressive": True, "quality": 1}):
            b = io.BytesIO()
            Image.new(mode, (2000, 1500), (128,) * len(mode) if mode != "L" else 128).save(b, "JPEG", **kw)
            assert _jpeg_too_short(b.getvalue()) is None, (mode, kw)


def test_listing_reports_what_it_passes_over(tmp_path):
    from paracolor.engine.io import Unlisted

    write_photo(tmp_path / "in" / "a.jpg")
    write_photo(tmp_path / "in" / "out" / "old.jpg")
    (tmp_path / "in" / "gone.png").symlink_to(tmp_path / "missing.png")
    os.mkfifo(tmp_path / "in" / "pipe.jpg")
    problems: list[Unlisted] = []
    found = find_images([tmp_path / "in"], exclude=tmp_path / "in" / "out", problems=problems)
    assert [p.name for p, _ in found] == ["a.jpg"]
    reasons = {os.path.basename(u.path): u.reason for u in problems}
    assert "broken symbolic link" in reasons["gone.png"] and "FIFO" in reasons["pipe.jpg"] and "output folder" in reasons["out"]
    assert not any(u.failed for u in problems)


def test_read_refuses_non_regular_files(tmp_path):
    os.mkfifo(tmp_path / "p.png")
    with pytest.raises(ImageError, match="a FIFO"):
        read_image(tmp_path / "p.png")
    with pytest.raises(ImageError, match="character device"):
        read_image("/dev/zero")


def test_a_named_path_behind_an_unsearchable_folder_is_reported(tmp_path, monkeypatch):
    """pathlib raises EACCES from exists()/is_dir(): a failed entry, not a traceback (simulated:
    root may enter any folder)."""
    from pathlib import Path

    from paracolor.engine.io import Unlisted

    hidden = tmp_path / "locked" / "x.jpg"
    real = Path.stat

    def stat(self, *a, **k):
        if self == hidden:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "stat", stat)
    write_photo(tmp_path / "a.jpg")
    problems: list[Unlisted] = []
    found = find_images([hidden, tmp_path / "a.jpg"], problems=problems)
    assert [p.name for p, _ in found] == ["a.jpg"]
    assert problems[0].failed and "permission denied" in problems[0].reason

"""Training sets: random crops, whole photos (crop scale 1) and the foreground set."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from paracolor import colorspace  # noqa: E402
from paracolor.engine.io import read_image  # noqa: E402
from paracolor.train import data  # noqa: E402


def _whole(path, size):
    import cv2

    rgb = cv2.resize(read_image(path).rgb, (size, size), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(colorspace.rgb_to_net(rgb)[1])


def test_crop_scale_one_trains_on_whole_photos(photo_dir):
    paths = sorted(photo_dir.glob("*.jpg"))
    whole = data.PhotoDataset(paths, 32, True, seed=0, scale=(1.0, 1.0))
    crops = data.PhotoDataset(paths, 32, True, seed=0)
    for i in range(len(paths)):
        _, ab = whole[i]
        ref = _whole(paths[i], 32)
        # the whole photo, or its mirror image (flips stay)
        assert torch.allclose(ab, ref, atol=1e-6) or torch.allclose(ab, ref.flip(-1), atol=1e-6)
    # default crops zoom in: some item differs from both the whole photo and its mirror image
    differs = [not (torch.allclose(crops[i][1], _whole(p, 32), atol=1e-3) or torch.allclose(crops[i][1], _whole(p, 32).flip(-1), atol=1e-3))
               for i, p in enumerate(paths)]
    assert any(differs)


def test_foreground_set_with_and_without_object_crops(photo_dir):
    paths = sorted(photo_dir.glob("*.jpg"))
    assert len(data.foreground_dataset(paths, 32, 0)) == 2 * len(paths)
    only = data.foreground_dataset(paths, 32, 0, scale=(1.0, 1.0), object_crops=False)
    assert len(only) == len(paths) and isinstance(only, data.PhotoDataset) and only.scale == (1.0, 1.0)
    assert np.isfinite(only[0][1].numpy()).all()


def test_stage_sets_follow_the_crop_options(photo_dir, tmp_path):
    from paracolor.train.config import TrainConfig
    from paracolor.train.stages import STAGE_CLASSES

    tiny = dict(size=32, batch_size=4, workers=0, progress=False, encoder_width=0.25, decoder_channels=(16, 16, 8, 8, 8), pretrained=None)
    cfg = TrainConfig(stage="pretrain", role="fg", train_dirs=[str(photo_dir)], out_dir=str(tmp_path / "run"), crop_scale=1.0, object_crops=False, **tiny)
    ds = STAGE_CLASSES["pretrain"](cfg).train_set
    assert isinstance(ds, data.PhotoDataset) and ds.scale == (1.0, 1.0)
    with pytest.raises(ValueError, match="crop_scale"):
        TrainConfig(stage="pretrain", train_dirs=[str(photo_dir)], out_dir=str(tmp_path / "x"), crop_scale=0.0)

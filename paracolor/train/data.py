"""Training data: folders of colour photos turned into (L, ab) tensors.

Photos are decoded by the engine's decoder and converted by :mod:`paracolor.colorspace`, so the
training scaling and the inference scaling cannot drift apart.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from .. import colorspace
from ..engine.io import ImageError, find_images, read_image


def list_photos(folders) -> list[Path]:
    """All image files under the given folders (recursive, sorted); error if there are none."""
    if isinstance(folders, (str, Path)):
        folders = [folders]
    paths = []
    for folder in folders:
        if not Path(folder).is_dir():
            raise ImageError(folder, "not a folder of photos")
        paths += [p for p, _ in find_images([folder])]
    if not paths:
        raise ImageError(", ".join(map(str, folders)), "no image files found")
    return paths


def _to_tensors(rgb: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    L, ab = colorspace.rgb_to_net(rgb)
    return torch.from_numpy(np.ascontiguousarray(L)), torch.from_numpy(np.ascontiguousarray(ab))


def _random_resized_crop(rgb: np.ndarray, size: int, scale: tuple[float, float], rng: np.random.Generator):
    h, w = rgb.shape[:2]
    if scale[0] >= 1.0:  # whole photos: only the photo's own aspect is a crop of its full area
        return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
    area = h * w * rng.uniform(*scale)
    aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
    cw = int(min(w, round(np.sqrt(area * aspect))))
    ch = int(min(h, round(np.sqrt(area / aspect))))
    x0 = int(rng.integers(0, w - cw + 1))
    y0 = int(rng.integers(0, h - ch + 1))
    crop = rgb[y0 : y0 + ch, x0 : x0 + cw]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


class PhotoDataset(Dataset):
    """Full colour photos at ``size`` x ``size``: random resized crops and flips when training.

    Items are ``(L, ab)`` float tensors: (1,S,S) and (2,S,S) in network scale. Randomness
    comes from ``(seed, epoch, index)``, so a run is repeatable regardless of worker count.
    """

    def __init__(self, paths, size: int, train: bool = True, seed: int = 0, scale=(0.35, 1.0)):
        self.paths = list(paths)
        self.size = size
        self.train = train
        self.seed = seed
        self.scale = scale
        self.epoch = 0

    def __len__(self):
        return len(self.paths)

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index])

    def _rgb(self, index: int) -> np.ndarray:
        return read_image(self.paths[index]).rgb

    def __getitem__(self, index):
        rgb = self._rgb(index)
        if self.train:
            rng = self._rng(index)
            rgb = _random_resized_crop(rgb, self.size, self.scale, rng)
            if rng.random() < 0.5:
                rgb = np.ascontiguousarray(rgb[:, ::-1])
        else:
            rgb = cv2.resize(rgb, (self.size, self.size), interpolation=cv2.INTER_AREA)
        return _to_tensors(rgb)


class ObjectCropDataset(PhotoDataset):
    """Object crops for the foreground generator.

    With a COCO-format ``boxes_json`` (``images`` with ``file_name``, ``annotations`` with
    ``bbox`` = [x, y, w, h]), each box (padded by 10%) of sufficient size is one item. Without
    one, the photos are object-centric (ImageNet-like), so a tight central crop stands in.
    """

    def __init__(self, paths, size, train=True, seed=0, boxes_json=None, image_root=None, min_box=32):
        super().__init__(paths, size, train, seed)
        self.boxes: list[tuple[Path, tuple[float, float, float, float]]] = []
        if boxes_json:
            self.boxes = _load_coco_boxes(boxes_json, image_root or Path(boxes_json).parent, min_box)
            if not self.boxes:
                raise ValueError(f"{boxes_json}: no boxes of at least {min_box}px match the image files")

    def __len__(self):
        return len(self.boxes) if self.boxes else len(self.paths)

    def __getitem__(self, index):
        rng = self._rng(index)
        if self.boxes:
            path, (x, y, w, h) = self.boxes[index]
            rgb = read_image(path).rgb
            pad = 0.1
            x0, y0 = max(0, int(x - pad * w)), max(0, int(y - pad * h))
            x1 = min(rgb.shape[1], int(x + w * (1 + pad)))
            y1 = min(rgb.shape[0], int(y + h * (1 + pad)))
            crop = rgb[y0:y1, x0:x1]
        else:
            rgb = self._rgb(index)
            h, w = rgb.shape[:2]
            frac = rng.uniform(0.45, 0.75) if self.train else 0.6
            ch, cw = int(h * frac), int(w * frac)
            jitter = 0.1 if self.train else 0.0
            cy = int(np.clip(h / 2 + rng.uniform(-jitter, jitter) * h, ch / 2, h - ch / 2))
            cx = int(np.clip(w / 2 + rng.uniform(-jitter, jitter) * w, cw / 2, w - cw / 2))
            crop = rgb[cy - ch // 2 : cy - ch // 2 + ch, cx - cw // 2 : cx - cw // 2 + cw]
        crop = cv2.resize(crop, (self.size, self.size), interpolation=cv2.INTER_AREA)
        if self.train and rng.random() < 0.5:
            crop = np.ascontiguousarray(crop[:, ::-1])
        return _to_tensors(crop)


def _load_coco_boxes(boxes_json, image_root, min_box):
    data = json.loads(Path(boxes_json).read_text())
    files = {img["id"]: Path(image_root) / img["file_name"] for img in data.get("images", [])}
    out = []
    for ann in data.get("annotations", []):
        path = files.get(ann.get("image_id"))
        x, y, w, h = ann["bbox"]
        if path is not None and path.is_file() and min(w, h) >= min_box:
            out.append((path, (float(x), float(y), float(w), float(h))))
    return out


def set_epoch(dataset: Dataset, epoch: int) -> None:
    """Advance the augmentation seed of a dataset (or a concatenation of them)."""
    parts = dataset.datasets if isinstance(dataset, ConcatDataset) else [dataset]
    for part in parts:
        part.epoch = epoch


def make_loader(dataset, batch_size: int, train: bool, seed: int, workers: int) -> DataLoader:
    """A DataLoader whose shuffling is driven by ``seed`` (repeatable runs)."""
    gen = torch.Generator()
    gen.manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=train,
        drop_last=train and len(dataset) >= batch_size,
        num_workers=workers,
        generator=gen,
        persistent_workers=False,
    )


def foreground_dataset(paths, size, seed, boxes_json=None, image_root=None, scale=(0.35, 1.0), object_crops=True) -> Dataset:
    """Full images plus object crops (the paper's foreground training set); without
    ``object_crops`` the photos alone."""
    photos = PhotoDataset(paths, size, True, seed, scale)
    if not object_crops:
        return photos
    return ConcatDataset([photos, ObjectCropDataset(paths, size, True, seed + 1, boxes_json, image_root)])

"""The colorization pipeline on decoded images (no torch).

decode -> L at full resolution + L resized to the network size -> fg || bg -> fusion ->
ab upsampled to full size -> + original L -> BGR. The networks only decide colour: the output's
lightness is the input's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .. import colorspace
from ..errors import ConfigError
from . import backends
from .backends.base import Scheduler
from .config import EngineConfig
from .io import DecodedImage
from .modelfolder import ModelFolder

@dataclass
class Prepared:
    """One image ready for the networks: L at network size and at full resolution."""

    image: DecodedImage
    L_net: np.ndarray  # (1, S, S) float32
    L_full: np.ndarray  # (H, W): uint8 OpenCV L for 8-bit images, float [0, 100] for 16-bit


@dataclass
class Colorized:
    """A colorized image in OpenCV's BGR order, at the input's size and bit depth."""

    path: str
    bgr: np.ndarray
    alpha: np.ndarray | None = None
    stages: dict[str, np.ndarray] = field(default_factory=dict)  # "fg"/"bg" -> BGR

    @property
    def rgb(self) -> np.ndarray:
        return self.bgr[..., ::-1]


class FinishBuffers:
    """Full-resolution buffers that one finishing thread reuses from photo to photo.

    A fresh buffer per photo costs page faults and the kernel's zeroing of new pages on every
    photo (with the allocator's trimming, several milliseconds of CPU per 3000x2000 photo here,
    beside an inference that keeps every core busy). An array handed out is overwritten by the
    next request under the same name: for a loop that is done with each result before the next.
    """

    def __init__(self):
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype=np.uint8) -> np.ndarray:
        a = self._arrays.get(name)
        if a is None or a.shape != shape or a.dtype != dtype:
            a = self._arrays[name] = np.empty(shape, dtype)
        return a


def area_downscale(plane: np.ndarray, size: int) -> np.ndarray:
    """Area-filtered ``size`` x ``size`` copy of a large plane, by exact 2x2 halvings first.

    OpenCV's area filter at a non-integer ratio runs on one core (5.4 ms for 3000x2000 here);
    halving is its fast integer path. Halving stops while both sides are still at least twice
    ``size``, so the last step still averages two or more pixels per output in each direction;
    the result differs from one direct area resize by at most one 8-bit level.
    """
    x = plane
    while x.shape[0] >= 4 * size and x.shape[1] >= 4 * size:
        h, w = x.shape[0] & ~1, x.shape[1] & ~1  # an odd last row/column is dropped (< 1/2000 of the photo)
        x = cv2.resize(x[:h, :w], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    return cv2.resize(x, (size, size), interpolation=cv2.INTER_AREA)


def network_L(image: DecodedImage, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(L at network size (1, S, S) in network scale, L at full resolution), as inference uses them.

    8-bit photos keep OpenCV's 8-bit L at full resolution (merged back byte for byte); 16-bit
    photos use float L in [0, 100]. The network input is the area-filtered downscale
    (:func:`area_downscale`).
    """
    if image.bit_depth == 8:
        L_full = image.lab_L8()
        L_net = colorspace.L8_to_net(area_downscale(L_full, size))
    else:
        L_full = image.lab_L()
        L_net = colorspace.L_to_net(area_downscale(L_full, size))
    return L_net[None], L_full


def non_finite(ab: dict[str, np.ndarray]) -> str | None:
    """Why one photo's network outputs cannot be used (NaN or infinities), or None."""
    bad = sorted(k for k, v in ab.items() if not np.isfinite(v).all())
    if bad:
        return f"the model's output holds NaN or infinite values ({', '.join(bad)}): the graph is broken or was built wrongly; nothing was written"
    return None


class Colorizer:
    """Loads a model folder on the chosen backend and colorizes batches of decoded images.

    Callers use its methods and properties only; the backend's scheduler stays inside.
    """

    def __init__(self, cfg: EngineConfig | None = None, scheduler: Scheduler | None = None):
        """``scheduler``: run on this one (e.g. a builder's candidate runners) instead of loading
        ``cfg``'s backend; the Colorizer closes it."""
        self.cfg = cfg = cfg or EngineConfig()
        self.folder = ModelFolder.load(cfg.model_dir, verify=cfg.verify_model)
        self.size = cfg.size or self.folder.network_size(cfg.graphs)
        if cfg.graphs != "fp32" and self.size != self.folder.network_size(cfg.graphs):
            raise ConfigError(
                f"the {cfg.graphs} graphs in {self.folder.root} were built for {self.folder.network_size(cfg.graphs)} px, not {self.size}"
            )
        self._scheduler = scheduler or backends.load(self.folder, cfg, self.size)

    def close(self):
        self._scheduler.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- what callers may know of the backend ------------------------------------------------
    @property
    def backend(self) -> str:
        """The backend that runs (what "auto" became)."""
        return self._scheduler.backend

    @property
    def max_batch(self) -> int | None:
        """The largest batch :meth:`submit` takes (None: any); :meth:`infer` splits larger ones."""
        return self._scheduler.max_batch

    @property
    def preferred_batch(self) -> int:
        """The batch a folder job uses when not told: the backend's measured best."""
        return self._scheduler.preferred_batch

    @property
    def in_flight(self) -> int:
        """Batches worth keeping submitted while an earlier one is finished (0: none, the CPU)."""
        return self._scheduler.in_flight

    @property
    def timings(self) -> dict[str, float]:
        """Seconds the last collected batch spent in the generators and in fusion."""
        return self._scheduler.timings

    def describe(self) -> dict:
        return {**self._scheduler.describe(), "precision": self.cfg.precision, "size": self.size, "model": str(self.folder.root)}

    # -- stages ---------------------------------------------------------------------------
    def prepare(self, image: DecodedImage) -> Prepared:
        """Full-resolution L, and L resized (area filter) to the network size."""
        return Prepared(image, *network_L(image, self.size))

    def infer(self, L_batch: np.ndarray) -> dict[str, np.ndarray]:
        """fg || bg -> fusion on a (N,1,S,S) batch; returns ab_fg, ab_bg and ab (network scale)."""
        L_batch = np.ascontiguousarray(L_batch, dtype=np.float32)
        limit = self.max_batch  # GPU buffers are sized once
        if limit is None or len(L_batch) <= limit:
            return self._scheduler.run(L_batch)
        parts = list(self._scheduler.run_many(L_batch[i : i + limit] for i in range(0, len(L_batch), limit)))
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def submit(self, L_batch: np.ndarray) -> int:
        """Start a batch of at most :attr:`max_batch`; returns a ticket for :meth:`collect`."""
        return self._scheduler.submit(np.ascontiguousarray(L_batch, dtype=np.float32))

    def collect(self, ticket: int) -> dict[str, np.ndarray]:
        """A submitted batch's ab_fg, ab_bg and ab, once it is done."""
        return self._scheduler.collect(ticket)

    @staticmethod
    def finish(prep: Prepared, ab_net: np.ndarray, buffers: FinishBuffers | None = None, name: str = "ab") -> np.ndarray:
        """Upsample network ab (2,S,S) to the image size and merge with the original L (BGR).

        With ``buffers``, 8-bit results are written into its arrays (``name`` keeps apart the
        results one photo needs at once) instead of new ones.
        """
        w, h = prep.image.size
        S = ab_net.shape[-1]
        interp = cv2.INTER_LINEAR if (w >= S or h >= S) else cv2.INTER_AREA
        if prep.image.bit_depth == 8:
            up = buffers.get("ab8", (h, w, 2)) if buffers else None
            ab8 = cv2.resize(colorspace.ab_net_to_ab8(ab_net), (w, h), dst=up, interpolation=interp).reshape(h, w, 2)
            return colorspace.lab8_to_bgr(prep.L_full, ab8, buffers.get(f"bgr-{name}", (h, w, 3)) if buffers else None)
        ab = cv2.resize(np.ascontiguousarray(colorspace.net_to_ab(ab_net).transpose(1, 2, 0)), (w, h), interpolation=interp)
        return colorspace.lab_to_bgr16(prep.L_full, ab.reshape(h, w, 2))

    def run(self, prepared: list[Prepared], stages: bool = False) -> list[Colorized]:
        """Colorize prepared images as one batch."""
        if not prepared:
            return []
        out = self.infer(np.stack([p.L_net for p in prepared]))
        return [self.colorized(prep, {k: v[i] for k, v in out.items()}, stages) for i, prep in enumerate(prepared)]

    def colorized(self, prep: Prepared, ab: dict[str, np.ndarray], stages: bool = False, buffers: FinishBuffers | None = None) -> Colorized:
        """One image's network outputs (``ab``, and ``ab_fg``/``ab_bg`` for ``stages``) -> result.

        Thread-safe (it touches no runner), so a batch job can finish one image while the
        networks run on the next. With ``buffers`` (one per thread), the result's arrays are
        that object's and the next call overwrites them.
        """
        extra = {role: self.finish(prep, ab[f"ab_{role}"], buffers, f"ab_{role}") for role in ("fg", "bg")} if stages else {}
        return Colorized(prep.image.path, self.finish(prep, ab["ab"], buffers), prep.image.alpha, extra)

    def colorize(self, images: list[DecodedImage], stages: bool = False) -> list[Colorized]:
        """Decoded images -> colorized images (one batch)."""
        return self.run([self.prepare(im) for im in images], stages)

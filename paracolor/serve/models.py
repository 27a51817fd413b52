"""What the served models compute, on plain numpy (no PyTriton here, so tests call them directly).

``paracolor``: encoded photos in, encoded colorized photos out (decode, fg || bg, fusion, finish,
encode), one result or one error per request item. ``paracolor_ab``: network-scale L in, ab out,
for clients that do their own pre- and post-processing.

Triton's dynamic batcher hands the callable every request it grouped; PyTriton 0.7 can fail a call
only as a whole (every request in it gets the error), so one bad photo must not raise: its item
gets an empty ``image`` and the reason in ``error``, and the good items of the same call are
colorized together.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..engine.io import DEFAULT_MAX_PIXELS, ImageError, decode_image, encode_image
from ..engine.pipeline import Colorizer, Prepared

log = logging.getLogger(__name__)

#: output formats a request may ask for (``format`` input); the first is the default
FORMATS = ("png", "jpeg", "webp")
_ALIASES = {"jpg": "jpeg"}


def _text(value) -> str:
    return (value.decode("utf-8", "replace") if isinstance(value, (bytes, np.bytes_)) else str(value)).strip().lower()


def _items(array) -> list:
    """The request's items of a BYTES input shaped (n, 1) (or (n,)): one value per item."""
    a = np.asarray(array, dtype=object)
    return [a.reshape(len(a), -1)[i, 0] for i in range(len(a))] if a.ndim else [a.item()]


@dataclass
class _Item:
    request: int
    index: int
    fmt: str
    prepared: Prepared | None = None
    error: str = ""
    encoded: bytes = b""


class ColorizeModel:
    """The ``paracolor`` model's inference callable: ``list[request] -> list[response]``.

    A request maps ``image`` (BYTES, (n, 1): n encoded image files) and optionally ``format``
    (BYTES, (n, 1)) to arrays; its response maps ``image`` (BYTES (n, 1): the encoded colorized
    photos, full resolution, the input's lightness) and ``error`` (BYTES (n, 1): empty, or why
    that item failed).
    """

    def __init__(self, colorizer: Colorizer, max_pixels: int = DEFAULT_MAX_PIXELS, quality: int = 95, workers: int | None = None, lock: threading.Lock | None = None):
        """``lock``: held around the engine call, when several callables share one colorizer."""
        self.colorizer = colorizer
        self._lock = lock or contextlib.nullcontext()
        self.max_pixels = max_pixels
        self.quality = quality
        # decoding and encoding release the GIL (OpenCV), so photos of one call overlap
        self._pool = ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 1), thread_name_prefix="paracolor-serve")

    def close(self):
        self._pool.shutdown(wait=True)

    def _decode(self, item: _Item, data) -> _Item:
        try:
            if not isinstance(data, (bytes, np.bytes_)) or not data:
                raise ImageError(f"item {item.index}", "no image bytes")
            item.prepared = self.colorizer.prepare(decode_image(bytes(data), f"item {item.index}", self.max_pixels))
        except ImageError as exc:
            item.error = str(exc)
        except Exception as exc:  # a decoder crash on hostile bytes is that item's failure only
            log.warning("item %d: decoding failed: %r", item.index, exc)
            item.error = f"item {item.index}: cannot decode ({type(exc).__name__}: {exc})"
        return item

    def _finish(self, item: _Item, ab: np.ndarray) -> _Item:
        try:
            result = self.colorizer.colorized(item.prepared, {"ab": ab})
            item.encoded = encode_image(result.bgr, item.fmt, result.alpha, self.quality)
        except Exception as exc:
            log.warning("item %d: finishing failed: %r", item.index, exc)
            item.error = f"item {item.index}: cannot finish or encode ({type(exc).__name__}: {exc})"
        item.prepared = None  # the full-resolution planes are not needed any more
        return item

    def __call__(self, requests) -> list[dict[str, np.ndarray]]:
        items: list[_Item] = []
        jobs = []
        for r, request in enumerate(requests):
            data = getattr(request, "data", request)
            images = _items(data["image"])
            formats = _items(data["format"]) if data.get("format") is not None else []
            for i, blob in enumerate(images):
                fmt = _text(formats[i]) if i < len(formats) else (_text(formats[0]) if formats else FORMATS[0])
                item = _Item(r, i, _ALIASES.get(fmt, fmt))
                items.append(item)
                if item.fmt not in FORMATS:
                    item.error = f"item {i}: unknown format {fmt!r}; choose from {FORMATS}"
                else:
                    jobs.append(self._pool.submit(self._decode, item, blob))
        for job in jobs:
            job.result()
        good = [it for it in items if it.prepared is not None]
        if good:
            # one engine batch for every good photo of every request (Colorizer.infer splits it
            # where the backend has a batch limit); an engine failure is not one item's fault
            with self._lock:
                ab = self.colorizer.infer(np.stack([it.prepared.L_net for it in good]))["ab"]
            for job in [self._pool.submit(self._finish, it, ab[k]) for k, it in enumerate(good)]:
                job.result()
        responses = []
        for r in range(len(requests)):
            mine = [it for it in items if it.request == r]
            responses.append({
                "image": np.array([[it.encoded] for it in mine], dtype=object).reshape(len(mine), 1),
                "error": np.array([[it.error.encode()] for it in mine], dtype=object).reshape(len(mine), 1),
            })
        return responses


class AbModel:
    """The ``paracolor_ab`` model's inference callable: L (N, 1, S, S) FP32 in network scale -> ab (N, 2, S, S)."""

    def __init__(self, colorizer: Colorizer, lock: threading.Lock | None = None):
        self.colorizer = colorizer
        self.size = colorizer.size
        self._lock = lock or contextlib.nullcontext()

    def __call__(self, L: np.ndarray) -> dict[str, np.ndarray]:
        L = np.asarray(L, dtype=np.float32)
        if L.ndim != 4 or L.shape[1:] != (1, self.size, self.size):
            raise ValueError(f"L must be (N, 1, {self.size}, {self.size}), got {L.shape}")
        with self._lock:
            return {"ab": self.colorizer.infer(L)["ab"].astype(np.float32, copy=False)}

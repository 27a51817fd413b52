"""Exact 8-bit Lab conversions of large images by lookup tables that OpenCV fills on first use.

Why: at 3000x2000, OpenCV's 8-bit Lab->BGR (15 ms on this workplace's two cores) and, for
colour photos, BGR->Lab for the lightness (12 ms) were most of what a large photo costs beyond
a 256x256 one. Each 8-bit conversion is a function of three bytes, so a table indexed by those
bytes is exact by construction, and a gather from it is a few times cheaper than the arithmetic.

The tables are indexed (256, 256, 256) (64 MB for Lab->BGR, 32 MB for RGB->L, as address
space), but only the 256-entry rows a photo needs are filled, by ``cv2.cvtColor`` itself on a
small grid, so results are bit-identical to OpenCV's and the memory in use grows with the
colours met (the untouched rest of a zeroed table is never paged in). A colorized photo needs
one to two thousand (a, b) rows of 1 KB; a colour input some 20 000 (R, G) rows of 512 bytes
(0.1 s to fill on the first photo). Later photos mostly reuse them: after the benchmark's
photos the tables held 2.5 and 11.7 MB.

The gathers are compiled with numba and run on row bands in a small thread pool (numba's own
parallel layers are not safe to enter from several Python threads at once, and the batch job
converts in its decode and writer threads concurrently). Without numba, with
``PARACOLOR_LAB_TABLES=0`` (see :func:`disabled`), or for images under :data:`MIN_PIXELS`,
callers use OpenCV directly: :func:`available` says which.
"""

from __future__ import annotations

import logging
import mmap
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

log = logging.getLogger(__name__)

#: below this many pixels OpenCV's own conversion is cheap enough (and needs no compilation)
MIN_PIXELS = 1 << 20

_kernels = None  # (lab_gather, rgb_L_gather), or False when numba is unusable
_kernels_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_THREADS = max(1, min(os.cpu_count() or 1, 8))


def _compile():
    import numba

    # Signatures are given, so compilation happens once (and is cached) rather than per layout
    # met: contiguous arrays (1.5-2x faster than any-layout indexing), plus an any-layout photo
    # for RGB input, which may be a strided view (a rotated photo, an RGBA file's colour planes).
    # An entry carries a "filled" flag above its value bits, so one load both checks and reads
    # (a separate per-row flag array cost 25-40% more).
    lab_sig = ["int64(uint8[:, ::1], uint8[:, :, ::1], uint32[:, :, ::1], uint8[:, :, ::1], uint8[:, ::1], int64, int64)"]
    rgb_sig = [f"int64({photo}, uint16[:, :, ::1], uint8[:, ::1], uint8[:, ::1], int64, int64)" for photo in ("uint8[:, :, ::1]", "uint8[:, :, :]")]

    def lab_gather(L8, ab, table, out, miss, r0, r1):
        # out[y, x] = BGR of (L8, a, b); a pixel whose (a, b) row is not filled yet is counted and
        # its row marked in ``miss`` (the caller fills those rows and runs the band again)
        missing = 0
        for y in range(r0, r1):
            for x in range(L8.shape[1]):
                a = ab[y, x, 0]
                b = ab[y, x, 1]
                v = table[a, b, L8[y, x]]  # B | G << 8 | R << 16 | filled << 24
                if v >> 24:
                    out[y, x, 0] = v & 255
                    out[y, x, 1] = (v >> 8) & 255
                    out[y, x, 2] = (v >> 16) & 255
                else:
                    miss[a, b] = 1
                    missing += 1
        return missing

    def rgb_L_gather(rgb, table, out, miss, r0, r1):
        # out[y, x] = 8-bit Lab L of an RGB pixel; rows are (R, G), entries B
        missing = 0
        for y in range(r0, r1):
            for x in range(rgb.shape[1]):
                r = rgb[y, x, 0]
                g = rgb[y, x, 1]
                v = table[r, g, rgb[y, x, 2]]  # L | filled << 8
                if v >> 8:
                    out[y, x] = v & 255
                else:
                    miss[r, g] = 1
                    missing += 1
        return missing

    def jit(fn, sigs):
        try:
            return numba.njit(sigs, nogil=True, cache=True)(fn)
        except RuntimeError:  # no writable cache location: compile for this process only
            return numba.njit(sigs, nogil=True)(fn)

    return jit(lab_gather, lab_sig), jit(rgb_L_gather, rgb_sig)


def disabled() -> bool:
    """``PARACOLOR_LAB_TABLES=0``: use OpenCV's conversions and never load numba.

    For memory-tight devices: numba and its LLVM runtime add about 160 MB of resident memory to
    the process once the first large photo arrives (120 MB for the import, 44 MB for the
    compiled kernels, on this workplace's x86 machine), against 20-25 ms saved per 6 MP photo.
    """
    return os.environ.get("PARACOLOR_LAB_TABLES", "1").strip().lower() in ("0", "false", "no", "off")


def _get_kernels():
    global _kernels
    if disabled():
        return False
    with _kernels_lock:
        if _kernels is None:
            try:
                _kernels = _compile()
            except Exception as exc:  # ImportError, or a numba that cannot compile here
                log.info("numba unavailable (%s): 8-bit Lab conversions use OpenCV", exc)
                _kernels = False
        return _kernels


def available() -> bool:
    """Whether the table path can run here (numba imports and compiles; compiles on first call)."""
    return bool(_get_kernels())


def _run_bands(kernel, args: tuple, height: int) -> int:
    """Run ``kernel(*args, r0, r1)`` on row bands over the thread pool; the summed miss count."""
    global _pool
    n = min(_THREADS, max(1, height // 64))
    if n == 1:
        return kernel(*args, 0, height)
    if _pool is None:
        with _kernels_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(_THREADS, thread_name_prefix="paracolor-lab")
    step = -(-height // n)
    futures = [_pool.submit(kernel, *args, r0, min(height, r0 + step)) for r0 in range(step, height, step)]
    missing = kernel(*args, 0, step)  # the calling thread takes the first band
    return missing + sum(f.result() for f in futures)


def _zero_pages(shape, dtype) -> np.ndarray:
    """A zeroed array whose memory is committed page by page as it is written.

    numpy asks for transparent huge pages on large arrays, which would commit the table 2 MB at
    a time (most of it after a few photos); 4 KB pages keep the memory in use near the rows met.
    """
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    try:
        buf = mmap.mmap(-1, nbytes)  # anonymous: zero-filled, committed on first write
        if hasattr(mmap, "MADV_NOHUGEPAGE"):
            buf.madvise(mmap.MADV_NOHUGEPAGE)
    except (OSError, ValueError):
        return np.zeros(shape, dtype)
    return np.frombuffer(buf, dtype).reshape(shape)


class _RowTable:
    """A (256, 256, 256) table of packed entries whose rows (i, j) ``fill`` computes on first use.

    ``fill(i, j)`` returns the rows' entries with the filled flag set. One lock per table covers
    a whole conversion: rows are only written between gather passes, never while a gather of
    another thread reads them.
    """

    def __init__(self, dtype, fill):
        self.dtype = np.dtype(dtype)
        self._table: np.ndarray | None = None
        self.fill = fill
        self.rows = 0
        self.lock = threading.Lock()

    @property
    def table(self) -> np.ndarray:
        """The table, mapped on first use (not at import: 64 MiB + 32 MiB of address space for
        processes that never convert a large photo)."""
        if self._table is None:
            self._table = _zero_pages((256, 256, 256), self.dtype)
        return self._table

    def convert(self, kernel, first: tuple, out: np.ndarray) -> np.ndarray:
        with self.lock:
            miss = np.zeros((256, 256), np.uint8)
            args = (*first, self.table, out, miss)
            if _run_bands(kernel, args, out.shape[0]):
                i, j = np.nonzero(miss)
                self.table[i, j] = self.fill(i, j)
                self.rows += len(i)
                # second pass: every row is there now (it rewrites the pixels the first one set)
                _run_bands(kernel, args, out.shape[0])
        return out


def _lab_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    grid = np.empty((len(a), 256, 3), np.uint8)
    grid[:, :, 0] = np.arange(256, dtype=np.uint8)
    grid[:, :, 1] = a[:, None]
    grid[:, :, 2] = b[:, None]
    bgr = cv2.cvtColor(grid, cv2.COLOR_Lab2BGR).astype(np.uint32)
    return bgr[..., 0] | bgr[..., 1] << 8 | bgr[..., 2] << 16 | np.uint32(1 << 24)


def _rgb_L_rows(r: np.ndarray, g: np.ndarray) -> np.ndarray:
    grid = np.empty((len(r), 256, 3), np.uint8)
    grid[:, :, 0] = r[:, None]
    grid[:, :, 1] = g[:, None]
    grid[:, :, 2] = np.arange(256, dtype=np.uint8)
    return cv2.cvtColor(grid, cv2.COLOR_RGB2Lab)[:, :, 0].astype(np.uint16) | np.uint16(1 << 8)


_LAB = _RowTable(np.uint32, _lab_rows)
_RGB_L = _RowTable(np.uint16, _rgb_L_rows)


def _after_fork_in_child():
    # A forked child (multiprocessing, data loaders) has none of the parent's pool threads, and a
    # lock another parent thread held at the fork would never be released: start both afresh.
    global _pool, _kernels_lock
    _pool = None
    _kernels_lock = threading.Lock()
    for t in (_LAB, _RGB_L):
        t.lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def stats() -> dict:
    """Rows filled so far per table, the bytes per row, and each table's address space."""
    return {
        name: {"rows": t.rows, "row_bytes": 256 * t.dtype.itemsize, "table_address_space_mb": (256**3 * t.dtype.itemsize) >> 20}
        for name, t in (("lab_to_bgr", _LAB), ("rgb_to_L", _RGB_L))
    }


def lab8_to_bgr(L8: np.ndarray, ab8: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """8-bit L (H, W) and a/b (H, W, 2) -> uint8 BGR, bit-identical to ``cv2.COLOR_Lab2BGR``.

    Inputs and ``out`` (a contiguous (H, W, 3) uint8 array to fill, else a new one) must be
    C-contiguous. Needs :func:`available`.
    """
    if L8.dtype != np.uint8 or ab8.dtype != np.uint8 or ab8.shape != (*L8.shape, 2):
        raise ValueError(f"expected uint8 L (H, W) and ab (H, W, 2), got {L8.dtype}{L8.shape} and {ab8.dtype}{ab8.shape}")
    return _LAB.convert(_get_kernels()[0], (L8, ab8), bgr_out(L8.shape, out))


def bgr_out(shape: tuple[int, int], out: np.ndarray | None) -> np.ndarray:
    """``out`` checked to be a contiguous (H, W, 3) uint8 array, or a new one when None."""
    if out is None:
        return np.empty((*shape, 3), np.uint8)
    if out.shape != (*shape, 3) or out.dtype != np.uint8 or not out.flags.c_contiguous:
        raise ValueError(f"out must be a contiguous uint8 array of shape {(*shape, 3)}, got {out.dtype}{out.shape}")
    return out


def rgb8_to_L8(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> 8-bit Lab L (H, W), bit-identical to ``cv2.COLOR_RGB2Lab``'s L.

    Needs :func:`available`; the output is a new contiguous array.
    """
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected uint8 RGB (H, W, 3), got {rgb.dtype}{rgb.shape}")
    out = np.empty(rgb.shape[:2], np.uint8)
    return _RGB_L.convert(_get_kernels()[1], (rgb,), out)

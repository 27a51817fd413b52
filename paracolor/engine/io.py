"""Image decoding, encoding and atomic writes (numpy, cv2, Pillow for headers only).

Decoding accepts 8/16-bit, grey or colour, alpha, palette and CMYK files and applies the EXIF
orientation; every failure is an :class:`ImageError` naming the file and the cause.
"""

from __future__ import annotations

import functools
import glob
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .. import colorspace
from ..errors import ParacolorError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".pgm", ".ppm", ".pnm")
#: default refusal limit against decompression bombs (about 16k x 16k)
DEFAULT_MAX_PIXELS = 268_000_000

@functools.cache
def _file_mode() -> int:
    """The mode a plain ``open`` would give a new file (mkstemp creates 0600 files).

    Read on the first write, not at import: importing must not touch the process's umask. Linux
    reports the umask in /proc; elsewhere it is set and restored once, here.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask

#: temporary files of atomic writes end with this (cleared by --resume)
PARTIAL_SUFFIX = ".partial"
OUTPUT_FORMATS = {"png": ".png", "jpg": ".jpg", "jpeg": ".jpg", "tiff": ".tif", "tif": ".tif", "webp": ".webp"}


class ImageError(ParacolorError):
    """An input or output image problem; the message names the file and the cause."""

    def __init__(self, path, cause: str):
        self.path = str(path)
        self.cause = cause
        super().__init__(f"{path}: {cause}")


@dataclass
class DecodedImage:
    """A decoded photo: RGB pixels in the source's integer type, plus what the writer needs."""

    path: str
    pixels: np.ndarray  # (H, W, 3) RGB, uint8 or uint16; a read-only view for decoded files
    grey: bool = False  # the file itself was single-channel
    alpha: np.ndarray | None = None  # (H, W) in the source's integer type, if the file had one

    @property
    def bit_depth(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.pixels.shape[1], self.pixels.shape[0]

    @property
    def rgb(self) -> np.ndarray:
        """Float32 RGB in [0, 1] (computed on demand)."""
        scale = np.float32(1.0 / (65535.0 if self.bit_depth == 16 else 255.0))
        return self.pixels.astype(np.float32) * scale

    def lab_L8(self) -> np.ndarray:
        """OpenCV 8-bit Lab lightness (L * 255 / 100) of an 8-bit image, full resolution."""
        if self.bit_depth != 8:
            raise ValueError("lab_L8 is for 8-bit images")
        if self.grey:
            return _grey_L8(self.pixels[..., 0])  # a grey file's own plane
        # a contiguous plane: the area downscale and the final merge are several times slower on a view
        return colorspace.rgb8_to_L8(self.pixels)

    def lab_L(self) -> np.ndarray:
        """Float Lab lightness in [0, 100], full resolution (any bit depth)."""
        return cv2.cvtColor(self.rgb, cv2.COLOR_RGB2Lab)[..., 0]


_EXIF_ORIENTATION = 0x0112


def _probe(path, data: bytes) -> tuple[tuple[int, int] | None, int]:
    """(width, height) from the header without decoding pixels, and the EXIF orientation."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        # Pillow reads only the header here; it warns on huge images but we check ourselves.
        Image.MAX_IMAGE_PIXELS = None
        with Image.open(io.BytesIO(data)) as im:
            size = im.size
            try:
                orientation = int(im.getexif().get(_EXIF_ORIENTATION, 1))
            except Exception:  # malformed EXIF must not stop an otherwise good photo
                orientation = 1
            return size, orientation
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None, 1


def _apply_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    """Rotate/flip as the EXIF orientation tag says (values 1-8)."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: np.swapaxes(a, 0, 1),
        6: lambda a: np.swapaxes(a, 0, 1)[:, ::-1],
        7: lambda a: np.swapaxes(a, 0, 1)[::-1, ::-1],
        8: lambda a: np.swapaxes(a, 0, 1)[::-1],
    }
    return np.ascontiguousarray(ops[orientation](img)) if orientation in ops else img


def read_image(path, max_pixels: int = DEFAULT_MAX_PIXELS) -> DecodedImage:
    """Decode a photo file (any common format, 8/16-bit, grey/colour, alpha, EXIF orientation).

    Raises :class:`ImageError` for a missing, unreadable, empty, corrupt, oversized or
    non-image file. The file is only read, never modified.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageError(path, "file not found") from None
    except IsADirectoryError:
        raise ImageError(path, "is a directory, not an image") from None
    except PermissionError:
        raise ImageError(path, "permission denied (file is not readable)") from None
    except OSError as exc:
        raise ImageError(path, f"cannot read file ({exc.strerror or exc})") from None
    return decode_image(data, path, max_pixels)


def decode_image(data: bytes, path="<bytes>", max_pixels: int = DEFAULT_MAX_PIXELS) -> DecodedImage:
    """Decode an encoded image held in memory; ``path`` names it in errors and results."""
    if not data:
        raise ImageError(path, "empty file (0 bytes)")
    truncated = _truncation(data)
    if truncated:
        raise ImageError(path, truncated)
    size, orientation = _probe(path, data)
    if size is not None and size[0] * size[1] > max_pixels:
        raise ImageError(
            path, f"image is {size[0]}x{size[1]} = {size[0] * size[1]:,} pixels, above the limit of {max_pixels:,}"
            " (possible decompression bomb; raise --max-pixels to allow it)"
        )
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        why = "not a decodable image (corrupt, truncated or unsupported format)"
        raise ImageError(path, why)
    if img.dtype not in (np.uint8, np.uint16):
        if img.dtype == np.float32:
            img = np.clip(img, 0, 1)
            img = (img * 65535 + 0.5).astype(np.uint16)
        else:
            raise ImageError(path, f"unsupported pixel type {img.dtype}")
    img = _apply_orientation(img, orientation)
    alpha, grey = None, img.ndim == 2 or img.shape[2] in (1, 2)
    if img.ndim == 3 and img.shape[2] in (2, 4):
        alpha = img[..., -1].copy()
    # Views, not converted copies: at 6 MP a copy costs milliseconds plus as much again in page
    # faults, and the engine only reads the pixels once (for L).
    if grey:
        # three equal channels as a read-only view of the one plane (see lab_L8)
        g = np.ascontiguousarray(img if img.ndim == 2 else img[..., 0])
        rgb = np.broadcast_to(g[..., None], (*g.shape, 3))
    else:
        rgb = img[..., 2::-1]  # OpenCV's BGR(A), channel-reversed
    # greyscale photos are often stored as three equal channels: knowing it lets the engine
    # take L from a 256-entry table instead of a full-resolution colour conversion
    return DecodedImage(str(path), rgb, grey or _equal_channels(rgb), alpha)


def _equal_channels(rgb: np.ndarray) -> bool:
    """R == G == B everywhere (a cheap strided probe first, so colour photos exit early)."""
    probe = rgb[::17, ::13]
    if not (np.array_equal(probe[..., 0], probe[..., 1]) and np.array_equal(probe[..., 0], probe[..., 2])):
        return False
    r, g, b = cv2.split(rgb)
    return cv2.countNonZero(cv2.absdiff(r, g)) == 0 and cv2.countNonZero(cv2.absdiff(r, b)) == 0


def _truncation(data: bytes) -> str | None:
    """A reason if a JPEG or PNG stream is cut short (decoders would silently fill it in grey)."""
    if data[:3] == b"\xff\xd8\xff":
        # the end-of-image marker must follow the last start-of-scan (an EXIF thumbnail has
        # its own markers earlier in the file)
        sos = data.rfind(b"\xff\xda")
        if sos < 0 or data.find(b"\xff\xd9", sos) < 0:
            return "truncated JPEG (no end-of-image marker after the image data)"
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        if data.rfind(b"IEND") < 0:
            return "truncated PNG (no IEND chunk)"
    return None


_L8_TABLE: np.ndarray | None = None


def _grey_L8(grey: np.ndarray) -> np.ndarray:
    """8-bit Lab L of a grey image by table lookup (256 entries instead of a per-pixel convert)."""
    global _L8_TABLE
    if _L8_TABLE is None:
        ramp = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)
        _L8_TABLE = cv2.cvtColor(ramp, cv2.COLOR_RGB2Lab)[0, :, 0].copy()
    return cv2.LUT(np.ascontiguousarray(grey), _L8_TABLE)  # ~3x faster than numpy indexing


def encode_image(bgr: np.ndarray, fmt: str, alpha: np.ndarray | None = None, quality: int = 95) -> bytes:
    """Encode BGR (uint8 or uint16, OpenCV's order) to bytes in ``fmt`` (png, jpg, tiff, webp).

    Alpha is kept for formats that carry it; 16-bit is kept for PNG and TIFF.
    """
    ext = OUTPUT_FORMATS[fmt.lower()]
    if ext in (".jpg", ".webp") and bgr.dtype == np.uint16:
        bgr = (bgr >> 8).astype(np.uint8)
    if alpha is not None and ext in (".png", ".tif", ".webp"):
        a = alpha
        if a.dtype != bgr.dtype:
            a = (a.astype(np.uint32) * 257).astype(np.uint16) if bgr.dtype == np.uint16 else (a >> 8).astype(np.uint8)
        bgr = np.dstack([bgr, a])
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext == ".jpg" else []
    if ext == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, quality]
    ok, buf = cv2.imencode(ext, bgr, params)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {fmt} image")
    return buf.tobytes()


def atomic_write(path, data: bytes, overwrite: bool = False) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename.

    A reader never sees a partial file; an interrupted write leaves only a hidden temp file,
    which is removed when possible. Without ``overwrite``, an existing file is never replaced.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=PARTIAL_SUFFIX, dir=path.parent)
    except OSError as exc:
        raise ImageError(path, f"cannot write output folder ({exc.strerror or exc})") from None
    try:
        os.fchmod(fd, _file_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            # link() fails if the target exists, so a file created meanwhile is not clobbered
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise ImageError(path, "output exists (use --overwrite to replace it)") from None
            except OSError:  # filesystems without hard links
                if path.exists():
                    raise ImageError(path, "output exists (use --overwrite to replace it)") from None
                os.replace(tmp, path)
    except OSError as exc:
        raise ImageError(path, f"cannot write output ({exc.strerror or exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def is_image_path(path) -> bool:
    """True for files whose extension is a supported image type (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def find_images(inputs, recursive: bool = True) -> list[tuple[Path, Path]]:
    """Expand files, folders and glob patterns into ``(image_path, base_folder)`` pairs.

    ``base_folder`` is the folder argument the image was found under (its parent for a plain
    file), so outputs can mirror the input tree. Order is stable (sorted per argument), and an
    image named twice is listed once. A pattern or path matching nothing raises ``ImageError``.
    """
    found: list[tuple[Path, Path]] = []
    seen: set[Path] = set()

    def add(p: Path, base: Path):
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            found.append((p, base))

    for arg in inputs:
        arg = str(arg)
        p = Path(arg)
        if p.is_dir():
            walker = p.rglob("*") if recursive else p.glob("*")
            for f in sorted(walker):
                if f.is_file() and is_image_path(f) and not f.name.startswith("."):
                    add(f, p)
        elif p.exists():
            add(p, p.parent)
        elif glob.has_magic(arg):
            hits = sorted(Path(h) for h in glob.glob(arg, recursive=True))
            files = [h for h in hits if h.is_file() and is_image_path(h)]
            if not files:
                raise ImageError(arg, "pattern matches no image files")
            for f in files:
                add(f, Path(_glob_root(arg)))
        else:
            raise ImageError(arg, "no such file or folder")
    return found


def _glob_root(pattern: str) -> str:
    """The fixed folder prefix of a glob pattern (where outputs start mirroring)."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return str(Path(*fixed)) if fixed else "."

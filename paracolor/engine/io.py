"""Image decoding, encoding and atomic writes (numpy, cv2, Pillow for headers only).

Decoding accepts 8/16-bit, grey or colour, alpha, palette and CMYK files and applies the EXIF
orientation; every failure is an :class:`ImageError` naming the file and the cause.
"""

from __future__ import annotations

import functools
import glob
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .. import colorspace
from ..errors import ParacolorError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".pgm", ".ppm", ".pnm")
#: default refusal limit against decompression bombs (about 16k x 16k)
DEFAULT_MAX_PIXELS = 268_000_000
#: the highest --max-pixels accepted: OpenCV's codecs index with 32-bit ints, and one such photo
#: already needs about 10 GB to finish
MAX_PIXELS_CEILING = 1_000_000_000


def max_file_bytes(max_pixels: int) -> int:
    """The largest input file read: an uncompressed 16-bit RGBA image of ``max_pixels`` plus
    16 MiB of metadata. No image file within the pixel limit is larger, so the limit refuses
    only files that could not decode (a growing log, a disk image named .jpg) before reading them."""
    return max_pixels * 8 + (16 << 20)

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
    notes: list[str] = field(default_factory=list)  # what the user should know (frames dropped, clipping)

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


def _probe(path, data: bytes) -> tuple[tuple[int, int] | None, int, int]:
    """(width, height) from the header without decoding pixels, the EXIF orientation, and the
    number of frames (pages of a TIFF, frames of a GIF/WebP/APNG; 1 for still images)."""
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
            try:  # TIFF pages are counted from the IFD chain, GIF frames by a scan: no pixels decoded
                frames = int(getattr(im, "n_frames", 1))
            except Exception:
                frames = 1
            return size, orientation, frames
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None, 1, 1


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
    non-image file, and for anything but a regular file. The file is only read, never modified.
    """
    return decode_image(read_file_bytes(path, max_file_bytes(max_pixels)), path, max_pixels)


def read_file_bytes(path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; an :class:`ImageError` otherwise.

    The file is opened non-blocking and checked on the open descriptor (not by name first), so
    a FIFO or device -- named as an input or swapped in for one during a run -- is refused
    instead of blocking forever (a FIFO without a writer) or reading without end (/dev/zero).
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        why = "broken symbolic link" if path.is_symlink() else "file not found"
        raise ImageError(path, why) from None
    except IsADirectoryError:
        raise ImageError(path, "is a directory, not an image") from None
    except PermissionError:
        raise ImageError(path, "permission denied (file is not readable)") from None
    except OSError as exc:
        raise ImageError(path, f"cannot read file ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise ImageError(path, "is a directory, not an image")
        if not stat.S_ISREG(st.st_mode):
            raise ImageError(path, f"not a regular file ({file_kind(st.st_mode)}); only regular files are read")
        if st.st_size > max_bytes:
            raise ImageError(path, f"file is {st.st_size:,} bytes, above the {max_bytes:,} that an image within --max-pixels can need")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=True) as f:
            fd = -1
            data = f.read(max_bytes + 1)  # a file that grows while read stops at the limit
    except PermissionError:
        raise ImageError(path, "permission denied (file is not readable)") from None
    except OSError as exc:
        raise ImageError(path, f"cannot read file ({exc.strerror or exc})") from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > max_bytes:
        raise ImageError(path, f"file grew past {max_bytes:,} bytes while being read")
    return data


def file_kind(mode: int) -> str:
    """A word for a file type that is not a regular file."""
    for test, word in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory")):
        if test(mode):
            return word
    return "not a regular file"


def decoded_bytes_estimate(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> int:
    """Bytes a photo will hold once decoded and prepared, from its header (0 if unknown, or if
    above ``max_pixels``, which decoding refuses): three 8-bit channels and the 8-bit L plane
    per pixel. 16-bit, alpha or grey photos differ; the folder job corrects the estimate once
    the photo is decoded."""
    size = _probe("<bytes>", data)[0]
    return size[0] * size[1] * 4 if size and size[0] * size[1] <= max_pixels else 0


def decode_image(data: bytes, path="<bytes>", max_pixels: int = DEFAULT_MAX_PIXELS) -> DecodedImage:
    """Decode an encoded image held in memory; ``path`` names it in errors and results."""
    if not data:
        raise ImageError(path, "empty file (0 bytes)")
    truncated = _truncation(data)
    if truncated:
        raise ImageError(path, truncated)
    size, orientation, frames = _probe(path, data)
    if size is not None and size[0] * size[1] > max_pixels:
        raise ImageError(
            path, f"image is {size[0]}x{size[1]} = {size[0] * size[1]:,} pixels, above the limit of {max_pixels:,}"
            " (possible decompression bomb; raise --max-pixels to allow it)"
        )
    short = _jpeg_too_short(data)
    if short:
        raise ImageError(path, short)
    notes = []
    if frames > 1 and data[:2] != b"\xff\xd8":  # a JPEG's extra pictures (MPO) are previews or depth maps, not frames
        kind = "pages" if data[:4] in (b"II*\x00", b"MM\x00*") else "frames"
        notes.append(f"{frames} {kind}: only the first was colorized")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        why = "not a decodable image (corrupt, truncated or unsupported format)"
        raise ImageError(path, why)
    if img.dtype not in (np.uint8, np.uint16):
        if img.dtype == np.float32:
            if not np.isfinite(img).all():
                raise ImageError(path, "float image holds NaN or infinite values")
            lo, hi = float(img.min()), float(img.max())
            if lo < 0 or hi > 1:  # HDR: not tone-mapped; the user is told what was lost
                notes.append(f"high-dynamic-range float image (values {lo:.3g} to {hi:.3g}): clipped to 0-1, not tone-mapped")
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
    return DecodedImage(str(path), rgb, grey or _equal_channels(rgb), alpha, notes)


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


#: start-of-frame markers of Huffman-coded JPEGs (baseline, extended, progressive, lossless);
#: arithmetic-coded ones (0xC9-0xCB) can code a flat block in under a bit and are not checked
_HUFFMAN_SOF = {0xC0, 0xC1, 0xC2, 0xC3}


def _jpeg_too_short(data: bytes) -> str | None:
    """A reason if a Huffman JPEG holds fewer bytes than its declared size needs.

    Every 8x8 block of the first component codes at least its DC difference, one Huffman code of
    one bit or more, so the entropy-coded data holds at least blocks/8 bytes. A header that
    declares 20000x20000 in a few KB is corrupt; libjpeg would "decode" it, filling 400 MB grey.
    """
    if data[:2] != b"\xff\xd8":
        return None
    i, n = 2, len(data)
    while i + 9 < n:
        if data[i] != 0xFF:
            return None  # not at a marker: leave the judgement to the decoder
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if marker in _HUFFMAN_SOF:
            h, w = int.from_bytes(data[i + 5 : i + 7], "big"), int.from_bytes(data[i + 7 : i + 9], "big")
            if data[i + 9] < 1 or i + 11 >= n:
                return None
            hs, vs = data[i + 11] >> 4, data[i + 11] & 15  # first component's sampling factors
            hmax = vmax = 1
            for c in range(data[i + 9]):
                if i + 11 + 3 * c < n:
                    hmax, vmax = max(hmax, data[i + 11 + 3 * c] >> 4), max(vmax, data[i + 11 + 3 * c] & 15)
            bw, bh = -(-w * max(hs, 1) // (8 * hmax)), -(-h * max(vs, 1) // (8 * vmax))
            need = bw * bh // 8
            sos = data.find(b"\xff\xda", i)
            have = n - sos if sos >= 0 else 0
            if need > have:
                return f"corrupt JPEG: the header declares {w}x{h} but the file holds {have:,} bytes of image data, fewer than the {need:,} that size needs"
            return None
        if marker == 0xDA or length < 2:
            return None
        i += 2 + length
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
        publish(Path(tmp), path, overwrite)
    except FileExistsError:
        raise ImageError(path, "output exists (use --overwrite to replace it)") from None
    except OSError as exc:
        raise ImageError(path, f"cannot write output ({exc.strerror or exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def publish(tmp: Path, dst: Path, overwrite: bool) -> None:
    """Move a finished (synced) temporary file to ``dst`` in one step. Without ``overwrite`` an
    existing ``dst`` is never replaced: FileExistsError, also for a file created meanwhile, since
    link() fails if the target exists. Photos (atomic_write) and videos share this last step."""
    if overwrite:
        os.replace(tmp, dst)
        return
    try:
        os.link(tmp, dst)
    except FileExistsError:
        raise
    except OSError:  # filesystems without hard links
        if dst.exists():
            raise FileExistsError(dst) from None
        os.replace(tmp, dst)
    else:
        tmp.unlink()


def is_image_path(path) -> bool:
    """True for files whose extension is a supported image type (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


@dataclass
class Unlisted:
    """A path met while listing inputs that is not colorized: ``failed`` (a folder that cannot
    be read) or not (a skipped broken link, FIFO, device, or the output folder)."""

    path: str
    reason: str
    failed: bool = False


def find_images(inputs, recursive: bool = True, exclude=None, problems: list | None = None) -> list[tuple[Path, Path]]:
    """Expand files, folders and glob patterns into ``(image_path, base_folder)`` pairs.

    ``base_folder`` is the folder argument the image was found under (its parent for a plain
    file), so outputs can mirror the input tree. Order is stable (sorted per argument), and an
    image named twice is listed once. A pattern or path matching nothing raises ``ImageError``.

    Walking a folder skips ``exclude`` (a folder, e.g. the run's output folder inside an input
    folder, so a re-run does not colorize its own outputs). Unreadable folders, broken links and
    files that are not regular files are appended to ``problems`` (:class:`Unlisted`) when given.
    """
    found: list[tuple[Path, Path]] = []
    seen: set[Path] = set()
    skip_dir = Path(exclude).resolve() if exclude is not None else None
    problems = problems if problems is not None else []

    def add(p: Path, base: Path):
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            found.append((p, base))

    for arg in inputs:
        arg = str(arg)
        p = Path(arg)
        try:
            p.exists()  # pathlib lets EACCES through: a folder above that may not be searched
        except PermissionError:
            problems.append(Unlisted(arg, "permission denied (a folder above it may not be entered)", failed=True))
            continue
        if p.is_dir():
            for f in _walk(p, recursive, skip_dir, problems):
                add(f, p)
        elif p.exists():
            add(p, p.parent)
        elif p.is_symlink():
            problems.append(Unlisted(arg, "broken symbolic link (its target does not exist)", failed=True))
        elif glob.has_magic(arg):
            hits = sorted(Path(h) for h in glob.glob(arg, recursive=True))
            files = [h for h in hits if h.is_file() and is_image_path(h)]
            if not files:
                raise ImageError(arg, "pattern matches no image files")
            root = Path(_glob_root(arg)).resolve()
            below = skip_dir is not None and skip_dir != root and skip_dir.is_relative_to(root)  # not when -o is the pattern's own folder
            inside = [f for f in files if below and f.resolve().is_relative_to(skip_dir)]
            if inside:
                problems.append(Unlisted(str(skip_dir), f"the output folder of this run: {len(inside)} match(es) of {arg} there not colorized"))
            for f in files:
                if f not in inside:
                    add(f, Path(_glob_root(arg)))
        else:
            raise ImageError(arg, "no such file or folder")
    return found


def _walk(top: Path, recursive: bool, skip_dir: Path | None, problems: list) -> list[Path]:
    """Image files below ``top``, sorted; what is passed over goes to ``problems`` with why."""
    out: list[Path] = []

    def unreadable(exc: OSError):
        why = "permission denied" if isinstance(exc, PermissionError) else (exc.strerror or str(exc))
        problems.append(Unlisted(exc.filename or str(top), f"cannot read folder ({why}); its photos were not colorized", failed=True))

    for folder, dirs, files in os.walk(top, onerror=unreadable, followlinks=False):
        here = Path(folder)
        if skip_dir is not None:
            for d in list(dirs):
                if (here / d).resolve() == skip_dir:
                    dirs.remove(d)
                    problems.append(Unlisted(str(here / d), "the output folder of this run (not walked)"))
        dirs.sort()
        if not recursive:
            dirs.clear()
        for name in files:
            f = here / name
            if name.startswith(".") or not is_image_path(f):
                continue
            try:
                mode = f.stat().st_mode
            except FileNotFoundError:
                problems.append(Unlisted(str(f), "broken symbolic link (its target does not exist)"))
                continue
            except OSError as exc:
                problems.append(Unlisted(str(f), f"cannot read file ({exc.strerror or exc})", failed=True))
                continue
            if stat.S_ISREG(mode):
                out.append(f)
            elif not stat.S_ISDIR(mode):
                problems.append(Unlisted(str(f), f"not a regular file ({file_kind(mode)}); only regular files are read"))
    return sorted(out)


def _glob_root(pattern: str) -> str:
    """The fixed folder prefix of a glob pattern (where outputs start mirroring)."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return str(Path(*fixed)) if fixed else "."

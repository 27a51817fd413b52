"""Video containers through PyAV (FFmpeg's libraries, bundled in its wheels): decode the first
video stream to RGB frames, encode colorized frames, and copy audio and subtitle streams
packet for packet. No ``ffmpeg`` binary is needed.

PyAV is imported when a video is opened (the ``[video]`` extra); importing this module is light.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from ...errors import ConfigError, MissingDependency
from ..io import ImageError

log = logging.getLogger(__name__)

#: recognised as videos by name (FFmpeg reads many more; a file named otherwise is a photo)
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mkv", ".mov", ".avi", ".webm", ".mpg", ".mpeg", ".ts", ".m2ts", ".mts", ".wmv", ".flv", ".ogv", ".3gp", ".mxf", ".dv", ".vob", ".y4m")
#: output container per input extension; containers that cannot take an H.264 stream plus the
#: copied streams (ogv, dv, wmv, mxf, vob, y4m, mpeg-ps) become Matroska, which takes any. So
#: does AVI: it stores no timestamps, and H.264 in AVI reads back one frame late in FFmpeg
OUTPUT_CONTAINERS = {".mp4": ("mp4", ".mp4"), ".m4v": ("mp4", ".m4v"), ".mov": ("mov", ".mov"), ".mkv": ("matroska", ".mkv"), ".webm": ("webm", ".webm"), ".ts": ("mpegts", ".ts"), ".m2ts": ("mpegts", ".m2ts"), ".mts": ("mpegts", ".mts"), ".flv": ("flv", ".flv"), ".3gp": ("3gp", ".3gp")}
FALLBACK_CONTAINER = ("matroska", ".mkv")
#: streams copied unchanged beside the colorized video
COPIED_TYPES = ("audio", "subtitle")
#: default constant-quality level per encoder (x264/x265 18: visually near-transparent)
DEFAULT_CRF = {"libx264": 18, "libx264rgb": 18, "libx265": 20, "libvpx-vp9": 32, "libsvtav1": 32}
#: FFmpeg's AVColorSpace -> the colour matrix swscale converts with (unspecified: swscale's default)
_SWS_MATRIX = {1: "ITU709", 4: "FCC", 5: "ITU601", 6: "SMPTE170M", 7: "SMPTE240M", 9: "BT2020", 10: "BT2020"}
_RGB_FORMATS = ("bgr24", "rgb24", "bgr0", "rgb0", "gbrp")
#: encoders whose default here is RGB: a lossless copy of the colorized frames
LOSSLESS_RGB = {"ffv1": "bgr0", "libx264rgb": "bgr24"}


class VideoError(ImageError):
    """A video that cannot be read or written; the message names the file and the cause."""


def require_av():
    try:
        import av
    except ImportError:
        raise MissingDependency("videos need PyAV: pip install 'paracolor[video]'") from None
    return av


def is_video_path(path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def output_container(src: Path) -> tuple[str, str]:
    """(FFmpeg muxer name, file extension) of the colorized copy of ``src``."""
    return OUTPUT_CONTAINERS.get(src.suffix.lower(), FALLBACK_CONTAINER)


@dataclass
class VideoOptions:
    """How colorized videos are encoded (``--video-codec``, ``--crf``, ``--video-bitrate``)."""

    codec: str | None = None  # None: H.264 (libx264), VP9 in WebM
    crf: int | None = None  # constant quality; None: DEFAULT_CRF for the codec
    bitrate: str | None = None  # e.g. "4M" or "800k": average bitrate instead of crf
    pix_fmt: str | None = None  # None: yuv420p (yuv444p for odd sizes); RGB for ffv1 and libx264rgb
    preset: str | None = None  # encoder speed preset (x264: medium by default)

    def __post_init__(self):
        if self.crf is not None and self.bitrate is not None:
            raise ConfigError("give --crf or --video-bitrate, not both")
        if self.crf is not None and not 0 <= self.crf <= 63:
            raise ConfigError(f"--crf must be within 0..63, got {self.crf}")
        if self.bitrate is not None:
            parse_bitrate(self.bitrate)

    def codec_for(self, muxer: str) -> str:
        return self.codec or ("libvpx-vp9" if muxer == "webm" else "libx264")


def parse_bitrate(text: str) -> int:
    """'4M', '800k' or '2500000' -> bits per second."""
    t = str(text).strip().lower()
    scale = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000}.get(t[-1:], 1)
    try:
        value = float(t[:-1] if scale != 1 else t) * scale
    except ValueError:
        raise ConfigError(f"cannot read bitrate {text!r}; write e.g. 4M or 800k") from None
    if value <= 0:
        raise ConfigError(f"bitrate must be positive, got {text!r}")
    return int(value)


def _ffmpeg_error(av, exc) -> str:
    return exc.strerror if isinstance(exc, av.error.FFmpegError) and exc.strerror else str(exc)


class VideoSource:
    """The first video stream of a file, decoded frame by frame to RGB in presentation order."""

    def __init__(self, path):
        av = self._av = require_av()
        self.path = Path(path)
        if not self.path.is_file():
            raise VideoError(path, "no such file" if not self.path.exists() else "not a file")
        try:
            self.container = av.open(str(self.path))
        except (av.error.FFmpegError, UnicodeDecodeError) as exc:
            raise VideoError(path, f"not a readable video ({_ffmpeg_error(av, exc)}; corrupt, truncated or not a video)") from None
        if not self.container.streams.video:
            self.container.close()
            raise VideoError(path, "the file holds no video stream")
        s = self.stream = self.container.streams.video[0]
        s.thread_type = "AUTO"  # frame and slice threads in the decoder
        cc = s.codec_context
        self.width, self.height = cc.width, cc.height
        if not self.width or not self.height:
            self.container.close()
            raise VideoError(path, "the video stream has no frame size (corrupt header)")
        self.time_base: Fraction = s.time_base
        self.rate: Fraction = s.average_rate or s.guessed_rate or s.base_rate or Fraction(25)
        self.sample_aspect_ratio = s.sample_aspect_ratio or cc.sample_aspect_ratio
        self.colour = {"colorspace": int(cc.colorspace), "color_range": int(cc.color_range), "color_primaries": int(cc.color_primaries), "color_trc": int(cc.color_trc)}
        self.copy_streams = [st for st in self.container.streams if st.type in COPIED_TYPES]
        self.rotation = 0  # display rotation (degrees), read from the first frame
        # a frame count to hold the stream to: MP4/MOV list every sample; AVI and others count
        # ticks or leave it out, so there the duration is checked instead
        exact = "mp4" in (self.container.format.name or "") or "mov" in (self.container.format.name or "")
        self.declared_frames = int(s.frames or 0) if exact else 0
        # the video stream's own duration where the container gives one; else the container's,
        # which covers every stream (audio often runs a little longer), so it is checked loosely
        tagged = _tag_seconds(s.metadata.get("DURATION") or s.metadata.get("duration"))  # Matroska writes one per stream
        self.duration_exact = s.duration is not None or tagged is not None
        if s.duration is not None:
            self.duration = float(s.duration * s.time_base)
        elif tagged is not None:
            self.duration = tagged
        elif self.container.duration is not None:
            self.duration = self.container.duration / 1_000_000
        else:
            self.duration = None
        self.start = float(s.start_time * s.time_base) if s.start_time is not None else 0.0
        self.frames_decoded = 0
        self.last_time: float | None = None
        self.last_step: float | None = None  # the last frame interval seen (seconds)

    @property
    def estimated_frames(self) -> int | None:
        """Frames the header promises (for the progress bar and the truncation check)."""
        if self.declared_frames:
            return self.declared_frames
        if self.duration:
            return max(1, round(self.duration * float(self.rate)))
        return None

    def close(self):
        self.container.close()

    def frames(self) -> Iterator[tuple[int, np.ndarray]]:
        """(pts in :attr:`time_base` units, RGB uint8 (H, W, 3)) for every frame, in order.

        Timestamps are the source's (variable frame rates stay so); a frame without one gets
        the previous one plus a frame duration. A decoding error, or a stream that ends well
        before its header says, raises :class:`VideoError`.
        """
        av = self._av
        step = max(1, round(1 / (float(self.rate) * float(self.time_base))))
        last = None
        colour = {}
        m = _SWS_MATRIX.get(self.colour["colorspace"])
        if m:
            colour["src_colorspace"] = m
        if self.colour["color_range"] in (1, 2):
            colour["src_color_range"] = self.colour["color_range"]
        try:
            for frame in self.container.decode(self.stream):
                pts = frame.pts
                if pts is None:
                    pts = (last + step) if last is not None else 0
                elif last is not None and pts <= last:
                    pts = last + 1  # a muxer refuses non-increasing timestamps
                if last is not None:
                    self.last_step = float((pts - last) * self.time_base)
                last = pts
                rgb = frame.to_ndarray(format="rgb24", **colour)
                if self.frames_decoded == 0:
                    self.rotation = int(frame.rotation or 0)
                self.frames_decoded += 1
                self.last_time = float(pts * self.time_base)
                yield pts, rgb
        except av.error.FFmpegError as exc:
            raise VideoError(self.path, f"corrupt video data after frame {self.frames_decoded} ({_ffmpeg_error(av, exc)})") from None
        self._check_complete()

    def _check_complete(self):
        if self.frames_decoded == 0:
            raise VideoError(self.path, "no frame could be decoded (corrupt or truncated video)")
        expected = self.declared_frames
        if expected and self.frames_decoded < expected:
            raise VideoError(self.path, f"truncated or corrupt: decoded {self.frames_decoded} of the {expected} frames the header lists")
        if not expected and self.duration and self.last_time is not None:
            frame_s = self.last_step or 1 / float(self.rate)  # observed: AVI's nominal rate can be its tick
            end = self.last_time - self.start + frame_s
            slack = max(2 * frame_s, 0.01 * self.duration) if self.duration_exact else max(0.5, 2 * frame_s, 0.01 * self.duration)
            if self.duration - end > slack:
                raise VideoError(self.path, f"truncated or corrupt: the frames end at {end:.2f} s of the {self.duration:.2f} s the header gives")


def _tag_seconds(text) -> float | None:
    """'00:01:02.500000000' (Matroska's DURATION tag) -> seconds; None if absent or unreadable."""
    try:
        h, m, sec = str(text).split(":")
        return int(h) * 3600 + int(m) * 60 + float(sec)
    except (ValueError, TypeError):
        return None


class VideoSink:
    """Encodes colorized frames into a new file and copies the source's audio and subtitles.

    The copied packets come from a second reader of the source file, muxed in time order just
    ahead of each video packet, so the output interleaves as the source did and nothing is held
    in memory beyond FFmpeg's small interleaving queue.
    """

    def __init__(self, source: VideoSource, path: Path, muxer: str, opts: VideoOptions):
        """Open ``path`` for writing; the source's first frame must have been decoded (its
        display rotation is copied)."""
        av = self._av = require_av()
        self.path = path
        self.notes: list[str] = []
        try:
            self.out = av.open(str(path), "w", format=muxer)
        except av.error.FFmpegError as exc:
            raise VideoError(path, f"cannot create the output ({_ffmpeg_error(av, exc)})") from None
        try:
            self._open_video(source, opts, muxer)
            self._open_copies(source)
        except BaseException:
            self.abort()
            raise

    def _open_video(self, source: VideoSource, opts: VideoOptions, muxer: str):
        av = self._av
        codec = opts.codec_for(muxer)
        try:
            vs = self.out.add_stream(codec, rate=source.rate)
        except (av.error.FFmpegError, ValueError) as exc:  # UnknownCodecError is a ValueError
            raise ConfigError(f"cannot encode with {codec!r}: not an encoder this FFmpeg build has ({exc})") from None
        odd = source.width % 2 or source.height % 2
        # lossless encoders take the RGB frames as they are; 4:2:0 needs even sizes
        pix_fmt = opts.pix_fmt or LOSSLESS_RGB.get(codec) or ("yuv444p" if odd else "yuv420p")
        vs.width, vs.height, vs.pix_fmt = source.width, source.height, pix_fmt
        vs.time_base = source.time_base  # the source's timestamps, unchanged
        cc = vs.codec_context
        cc.time_base = source.time_base
        cc.framerate = source.rate
        if source.sample_aspect_ratio:
            cc.sample_aspect_ratio = source.sample_aspect_ratio
        if source.rotation:
            vs.set_display_rotation(source.rotation)  # frames stay as stored; players rotate
        self.rgb_out = pix_fmt in _RGB_FORMATS
        self._convert = {}
        if not self.rgb_out:
            # convert and tag with the source's matrix and range, so the lightness the viewer
            # sees is the source's (an untagged source stays untagged: swscale's default both ways)
            for k in ("colorspace", "color_primaries", "color_trc"):
                if source.colour[k] not in (0, 2):
                    setattr(cc, k, source.colour[k])
            m = _SWS_MATRIX.get(source.colour["colorspace"])
            if m:
                self._convert["dst_colorspace"] = m
            rng = source.colour["color_range"] if source.colour["color_range"] in (1, 2) else 1
            cc.color_range = rng
            self._convert["dst_color_range"] = rng
        options = {}
        crf = opts.crf if opts.crf is not None else DEFAULT_CRF.get(codec)
        if opts.bitrate is not None:
            cc.bit_rate = parse_bitrate(opts.bitrate)
        elif crf is not None:
            options["crf"] = str(crf)
            if codec == "libvpx-vp9":
                cc.bit_rate = 0  # VP9's constant-quality mode
            if crf == 0 and codec in ("libx264", "libx264rgb"):
                options["qp"] = "0"  # lossless
        if opts.preset:
            options["preset" if codec != "libvpx-vp9" else "deadline"] = opts.preset
        elif codec == "libvpx-vp9":
            options.update({"deadline": "good", "cpu-used": "4", "row-mt": "1"})
        cc.options = options
        self.vs, self.codec, self.pix_fmt = vs, codec, pix_fmt
        self.frames_written = 0

    def _open_copies(self, source: VideoSource):
        av = self._av
        self._copy_in = None
        self._copy_map = {}
        self._pending = None
        if not source.copy_streams:
            self._copy_iter = iter(())
            return
        for st in source.copy_streams:
            try:
                self._copy_map[st.index] = self.out.add_stream_from_template(st)
            except (av.error.FFmpegError, ValueError, TypeError) as exc:
                self.notes.append(f"stream #{st.index} ({st.type}, {st.codec_context.name}) not copied: {exc}")
        if not self._copy_map:
            self._copy_iter = iter(())
            return
        self._copy_in = av.open(str(source.path))
        streams = [s for s in self._copy_in.streams if s.index in self._copy_map]
        self._copy_iter = self._copy_in.demux(*streams)

    def _next_copy(self):
        """The next copied packet and its time in seconds (None at the end)."""
        for pkt in self._copy_iter:
            ts = pkt.dts if pkt.dts is not None else pkt.pts
            if ts is None or pkt.size == 0:
                continue  # the demuxer's empty end-of-stream packets
            return pkt, float(ts * pkt.time_base)
        return None

    def _copy_until(self, seconds: float | None):
        """Mux copied packets up to ``seconds`` (None: all that are left)."""
        av = self._av
        while True:
            if self._pending is None:
                self._pending = self._next_copy()
                if self._pending is None:
                    return
            pkt, t = self._pending
            if seconds is not None and t > seconds:
                return
            self._pending = None
            pkt.stream = self._copy_map[pkt.stream.index]
            try:
                self.out.mux(pkt)
            except av.error.FFmpegError as exc:
                self.notes.append(f"a packet of stream #{pkt.stream.index} was dropped: {_ffmpeg_error(av, exc)}")

    def _mux_video(self, packets):
        for pkt in packets:
            ts = pkt.dts if pkt.dts is not None else pkt.pts
            if ts is not None:
                self._copy_until(float(ts * pkt.time_base) + 0.2)
            self.out.mux(pkt)

    def write(self, bgr: np.ndarray, pts: int):
        """Encode one colorized BGR frame at the source's timestamp ``pts``."""
        av = self._av
        frame = av.VideoFrame.from_ndarray(bgr, format="bgr24")
        frame = frame.reformat(format=self.pix_fmt, **self._convert) if not self.rgb_out or self.pix_fmt != "bgr24" else frame
        frame.pts = pts
        frame.time_base = self.vs.time_base
        try:
            self._mux_video(self.vs.encode(frame))
        except av.error.FFmpegError as exc:
            raise VideoError(self.path, f"encoding failed at frame {self.frames_written} ({_ffmpeg_error(av, exc)})") from None
        self.frames_written += 1

    def finish(self):
        """Flush the encoder, copy what is left of the other streams, close the file."""
        av = self._av
        try:
            self._mux_video(self.vs.encode(None))
            self._copy_until(None)
            self.out.close()
        except av.error.FFmpegError as exc:
            raise VideoError(self.path, f"cannot finish the output ({_ffmpeg_error(av, exc)})") from None
        finally:
            self._close_copy_in()

    def abort(self):
        """Close without finishing (the caller removes the file)."""
        try:
            self.out.close()
        except Exception:  # a half-opened muxer may refuse to write its trailer; the file is discarded anyway
            pass
        self._close_copy_in()

    def _close_copy_in(self):
        if getattr(self, "_copy_in", None) is not None:
            self._copy_in.close()
            self._copy_in = None

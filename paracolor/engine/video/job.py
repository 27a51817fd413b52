"""Colorize video files: the part of ``paracolor colorize`` that takes videos.

Per video, three stages overlap as in the photo job: a decoder thread demuxes, decodes and
prepares frames (L at full size and at network size); the calling thread batches them through
the engine (fg || bg, then fusion; on GPUs the next batch is submitted before the previous is
collected); a writer thread stabilizes the chroma over time, merges it with the full-size L,
encodes, and muxes the copied audio and subtitle packets. Queues are bounded in frames, so
memory stays flat over a film of any length.

The output is written to a hidden temporary file in the output folder and renamed at the end:
an interrupted or failed video leaves nothing behind, and a finished one appears whole.
"""

from __future__ import annotations

import glob
import os
import queue
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ...errors import ConfigError
from ..io import PARTIAL_SUFFIX, DecodedImage, _equal_channels, _file_mode, _glob_root, is_image_path, publish
from ..pipeline import Colorizer, FinishBuffers
from .container import VideoError, VideoOptions, VideoSink, VideoSource, is_video_path, output_container, require_av
from .temporal import ChromaStabilizer, TemporalConfig

_DONE = object()
_STOP = object()
#: stage names of the per-stage timings (seconds summed over frames; the stages overlap in time)
STAGES = ("decode", "prepare", "networks", "stabilize", "finish", "encode")


@dataclass
class VideoConfig:
    """What the colorize run does with videos (encoder options and temporal stabilization)."""

    encode: VideoOptions = field(default_factory=VideoOptions)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    queue_frames: int = 16  # frames decoded ahead of inference (and finished behind it), at most


def video_config(temporal: bool = True, codec: str | None = None, crf: int | None = None, bitrate: str | None = None, preset: str | None = None) -> VideoConfig:
    """The CLI's video options as a config."""
    return VideoConfig(VideoOptions(codec=codec, crf=crf, bitrate=bitrate, preset=preset), TemporalConfig(enabled=temporal))


@dataclass
class VideoJob:
    src: Path
    dst: Path
    muxer: str


def split_inputs(inputs, exclude=None) -> tuple[list[tuple[Path, Path]], list[str]]:
    """(videos among ``inputs`` as (path, base folder), the inputs left for the photo job).

    Videos inside the folder ``exclude`` (the run's output folder) are passed over when walking,
    so a re-run with ``-o`` inside an input folder does not colorize its own outputs again.

    Folders are searched recursively for video files; a folder stays with the photo job when it
    also holds photos (or holds no video, so an empty folder is still the photo job's to report).
    A glob pattern's video hits are taken out the same way.
    """
    videos: list[tuple[Path, Path]] = []
    rest: list[str] = []
    seen: set[Path] = set()
    skip = Path(exclude).resolve() if exclude is not None else None

    def walked(f: Path, root: Path) -> bool:
        """Found by walking ``root`` (a folder or a glob's folder), not inside an output folder
        that lies strictly inside ``root`` (-o equal to the input folder walks it: plan_videos
        then passes over this run's own outputs)."""
        try:
            inside_out = skip is not None and skip != root.resolve() and f.resolve().is_relative_to(skip)
            return f.is_file() and not f.name.startswith(".") and not inside_out
        except OSError:  # unreadable: left to the photo job's walk, which reports it
            return False

    def add(p: Path, base: Path):
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            videos.append((p, base))

    for arg in map(str, inputs):
        p = Path(arg)
        try:
            is_dir, is_file = p.is_dir(), p.is_file()
        except OSError:  # e.g. behind a folder that may not be entered: the photo job reports it
            rest.append(arg)
            continue
        if is_dir:
            files = [f for f in sorted(p.rglob("*")) if walked(f, p)]
            vids = [f for f in files if is_video_path(f)]
            for f in vids:
                add(f, p)
            if not vids or any(is_image_path(f) for f in files):
                rest.append(arg)
        elif is_file:
            if is_video_path(p):
                add(p, p.parent)
            else:
                rest.append(arg)
        elif glob.has_magic(arg):
            hits = sorted(Path(h) for h in glob.glob(arg, recursive=True) if walked(Path(h), Path(_glob_root(arg))))
            vids = [h for h in hits if is_video_path(h)]
            for f in vids:
                add(f, Path(_glob_root(arg)))
            if not vids or any(is_image_path(h) for h in hits):
                rest.append(arg)
        else:
            rest.append(arg)  # the photo job reports what does not exist
    return videos, rest


def plan_videos(videos, cfg, summary) -> list[VideoJob]:
    """Map videos to outputs (mirroring folders, keeping the container); skip finished ones.

    As for photos (``batch.plan_jobs``): outputs stay inside ``-o``, never replace an input or
    the ``--report`` file, are claimed once, and a walked file that is this run's own output for
    another video (``-o`` equal to the input folder) is passed over, not colorized again."""
    out_dir = Path(cfg.output_dir)
    planned = []
    for src, base in videos:
        try:
            rel = src.relative_to(base)
        except ValueError:
            rel = Path(src.name)
        muxer, ext = output_container(src)
        dst = out_dir / rel.parent / f"{rel.stem}{cfg.suffix}{ext}"
        if cfg.output_file:  # one video to the file -o names (output_target.py)
            dst = Path(cfg.output_file)
            muxer, _ = output_container(dst)
        if not dst.resolve().is_relative_to(out_dir.resolve()):  # a '..' in a glob or a folder name climbs out of -o
            dst = out_dir / f"{rel.stem}{cfg.suffix}{ext}"
        planned.append((src, dst, muxer))
    produced = {dst.resolve(): src for src, dst, _ in planned}
    inputs = set()
    kept = []
    for src, dst, muxer in planned:
        maker = produced.get(src.resolve())
        if maker is not None and maker.resolve() != src.resolve():
            summary.skipped.append({"path": str(src), "reason": f"an output name of {maker} in this run, not colorized again"})
            continue
        inputs.add(src.resolve())
        kept.append((src, dst, muxer))
    claimed: dict[Path, str] = {Path(cfg.report).resolve(): "the --report file"} if cfg.report else {}
    jobs = []
    for src, dst, muxer in kept:
        key = dst.resolve()
        if key in inputs:
            summary.failed.append({"path": str(src), "reason": f"output {dst} would overwrite an input file"})
            continue
        if key in claimed:
            summary.failed.append({"path": str(src), "reason": f"same output name {dst} as {claimed[key]}"})
            continue
        claimed[key] = str(src)
        if dst.exists() and (cfg.resume or not cfg.overwrite):
            reason = "already done (resume)" if cfg.resume else "output exists (use --overwrite)"
            summary.skipped.append({"path": str(src), "output": str(dst), "reason": reason})
            continue
        jobs.append(VideoJob(src, dst, muxer))
    return jobs


def check_encoder(opts: VideoOptions) -> None:
    """Refuse an encoder this FFmpeg build lacks before any video is started."""
    av = require_av()
    if opts.codec:
        try:
            av.codec.Codec(opts.codec, "w")
        except Exception:
            raise ConfigError(f"--video-codec {opts.codec!r}: this FFmpeg build (PyAV {av.__version__}) has no such encoder") from None


def colorize_videos(cfg, videos, colorizer: Colorizer, summary) -> None:
    """Colorize ``videos`` ((path, base) pairs) into ``cfg.output_dir``, recording each in
    ``summary`` (done with per-stage timings, skipped, or failed with the reason). Ctrl-C stops
    at once, removes the video in progress and sets ``summary.interrupted``."""
    vcfg: VideoConfig = cfg.video
    check_encoder(vcfg.encode)
    for job in plan_videos(videos, cfg, summary):
        try:
            summary.done.append(colorize_video(job, cfg, colorizer))
        except KeyboardInterrupt:
            summary.interrupted = True
            return
        except VideoError as exc:
            summary.failed.append({"path": str(job.src), "reason": exc.cause if exc.path == str(job.src) else str(exc)})
        except ConfigError:
            raise
        except Exception as exc:  # a bug or an unforeseen FFmpeg failure is this file's, not the run's
            summary.failed.append({"path": str(job.src), "reason": f"{type(exc).__name__}: {exc}"})


class _Stats:
    def __init__(self):
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self.lock = threading.Lock()

    def add(self, stage: str, t0: float) -> float:
        t1 = time.perf_counter()
        with self.lock:
            self.seconds[stage] += t1 - t0
        return t1


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _decode(source: VideoSource, colorizer: Colorizer, out_q: queue.Queue, stop: threading.Event, stats: _Stats):
    """Decoder thread: frames -> (pts, Prepared), in order; a VideoError ends the stream."""
    path = str(source.path)
    item = _DONE
    try:
        t = time.perf_counter()
        for pts, rgb in source.frames():
            t = stats.add("decode", t)
            # an old film is grey in a colour format: knowing it takes L from a 256-entry table
            prep = colorizer.prepare(DecodedImage(path, rgb, _equal_channels(rgb)))
            t = stats.add("prepare", t)
            if not _put(out_q, (pts, prep), stop):
                return
            t = time.perf_counter()
    except Exception as exc:  # VideoError, or a decoder bug: this video's failure either way
        item = exc if isinstance(exc, VideoError) else VideoError(path, f"decoding failed: {type(exc).__name__}: {exc}")
    _put(out_q, item, stop)


def _write(job: VideoJob, tmp: Path, source: VideoSource, cfg, colorizer: Colorizer, in_q: queue.Queue, state: dict, stop: threading.Event, stats: _Stats, bar):
    """Writer thread: stabilize, finish and encode frames in order; muxes the copied streams."""
    vcfg: VideoConfig = cfg.video
    stab = ChromaStabilizer(vcfg.temporal) if vcfg.temporal.enabled else None
    buffers = FinishBuffers()
    sink = None
    try:
        got = _STOP
        while not stop.is_set():  # set only when the video is abandoned (interrupt, failure)
            try:
                got = in_q.get(timeout=0.1)
            except queue.Empty:
                got = _STOP
                continue
            if got is _DONE or got is _STOP:
                break
            pts, prep, ab = got
            t = time.perf_counter()
            if stab is not None:
                ab = stab(prep.L_net, ab)
                t = stats.add("stabilize", t)
            bgr = colorizer.finish(prep, ab, buffers)
            t = stats.add("finish", t)
            if sink is None:  # opened at the first frame: the source's rotation is known then
                sink = VideoSink(source, tmp, job.muxer, vcfg.encode)
            sink.write(bgr, pts)
            stats.add("encode", t)
            bar.update(1)
        if got is _DONE and sink is not None:
            t = time.perf_counter()
            sink.finish()
            stats.add("encode", t)
            state["notes"] = sink.notes
            state["frames"] = sink.frames_written
            sink = None
    except BaseException as exc:
        state["error"] = exc
        stop.set()  # the decoder and the inference loop stop feeding a dead writer
    finally:
        if sink is not None:
            sink.abort()
        state["cuts"] = list(stab.cuts) if stab else []


def colorize_video(job: VideoJob, cfg, colorizer: Colorizer) -> dict:
    """One video through decode -> engine -> stabilize -> encode; returns its summary entry.

    Raises :class:`VideoError` (nothing is left at the output path), or KeyboardInterrupt
    after removing the temporary file.
    """
    t_start = time.perf_counter()
    vcfg: VideoConfig = cfg.video
    source = VideoSource(job.src)
    try:
        job.dst.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{job.dst.name}.", suffix=PARTIAL_SUFFIX, dir=job.dst.parent)
        os.close(fd)
    except OSError as exc:
        source.close()
        raise VideoError(job.dst, f"cannot write output folder ({exc.strerror or exc})") from None
    tmp = Path(tmp_name)
    stats, state = _Stats(), {}
    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(maxsize=max(1, vcfg.queue_frames))
    finished: queue.Queue = queue.Queue(maxsize=max(1, vcfg.queue_frames))
    bar = tqdm(total=source.estimated_frames, unit="frame", disable=not cfg.progress, desc=job.src.name, dynamic_ncols=True)
    dec = threading.Thread(target=_decode, args=(source, colorizer, decoded, stop, stats), daemon=True, name="paracolor-video-decode")
    wr = threading.Thread(target=_write, args=(job, tmp, source, cfg, colorizer, finished, state, stop, stats, bar), daemon=True, name="paracolor-video-write")
    ok = False
    try:
        dec.start()
        wr.start()
        error = _infer(cfg, colorizer, decoded, finished, state, stop, stats)
        _put(finished, _STOP if error else _DONE, stop)
        wr.join()
        error = error or state.get("error")
        if error is not None:
            raise error
        _commit(tmp, job.dst, cfg.overwrite)
        ok = True
    finally:
        stop.set()
        if wr.is_alive():  # interrupted: let the writer drop its file
            try:
                finished.put_nowait(_STOP)
            except queue.Full:
                pass
            wr.join()
        dec.join()
        bar.close()
        source.close()
        if not ok and tmp.exists():
            tmp.unlink()
    seconds = time.perf_counter() - t_start
    frames = state.get("frames", 0)
    entry = {
        "path": str(job.src), "output": str(job.dst), "frames": frames, "seconds": round(seconds, 3),
        "fps": round(frames / seconds, 3) if seconds > 0 else 0.0, "temporal": vcfg.temporal.enabled, "cuts": state.get("cuts", []),
        "stage_seconds": {k: round(v, 4) for k, v in stats.seconds.items()},
    }
    notes = list(state.get("notes", [])) + (["--save-stages applies to photos: the video's fg and bg results were not written"] if cfg.save_stages else [])
    if notes:
        entry["notes"] = notes
    return entry


def _infer(cfg, colorizer: Colorizer, decoded: queue.Queue, finished: queue.Queue, state: dict, stop: threading.Event, stats: _Stats):
    """Frames through the networks in order; returns the error that ended the video, if any.

    Up to ``colorizer.in_flight`` batches stay submitted while the oldest is collected (GPUs);
    when no decoded frame waits, the oldest batch is collected at once.
    """
    size = min(cfg.batch_size, colorizer.max_batch or cfg.batch_size)
    pending: deque = deque()
    batch: list = []

    def hand_on():
        frames, ticket = pending.popleft()
        t = time.perf_counter()
        out = colorizer.collect(ticket)
        stats.add("networks", t)
        for i, (pts, prep) in enumerate(frames):
            if not _put(finished, (pts, prep, out["ab"][i]), stop):
                return

    try:
        while True:
            if "error" in state:  # the writer failed: stop feeding it
                return state["error"]
            try:
                got = decoded.get_nowait() if pending else decoded.get(timeout=0.2)
            except queue.Empty:
                if pending:
                    hand_on()
                continue
            done = got is _DONE or isinstance(got, BaseException)
            if not done:
                batch.append(got)
            if batch and (len(batch) >= size or done):
                t = time.perf_counter()
                pending.append((batch, colorizer.submit(np.stack([p.L_net for _, p in batch]))))
                stats.add("networks", t)
                batch = []
                while len(pending) > colorizer.in_flight:
                    hand_on()
            if done:
                while pending:
                    hand_on()
                return got if isinstance(got, BaseException) else None
    finally:  # interrupted: free the scheduler's slots
        for _, ticket in pending:
            colorizer.collect(ticket)


def _commit(tmp: Path, dst: Path, overwrite: bool) -> None:
    """Rename the finished temporary file into place (never over an existing file without
    ``overwrite``), with the mode a plain ``open`` would have given it."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, _file_mode())
    try:
        publish(tmp, dst, overwrite)
    except FileExistsError:
        raise VideoError(dst, "output exists (use --overwrite to replace it)") from None

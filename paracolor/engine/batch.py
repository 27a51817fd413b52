"""Colorize files and folders: the library function behind ``paracolor colorize``.

Three stages overlap: decoding and L preparation run ahead of inference in a thread (bounded
prefetch); finishing (chroma upsampling, the merge with the full-resolution L, Lab->BGR),
encoding and writing run behind it in another. On GPU backends the next batch is submitted
before the previous one is collected, so the device works while the host hands results on.
Queues are bounded in items and the photos they hold in bytes (:mod:`.budget`), so memory stays
flat over a folder of any size and bounded over large photos. A bad file is reported and
skipped; outputs are written atomically and inputs are never touched. Every path a run writes
is reserved before it starts, stays inside the output folder, and the folder is locked against
a second run (:mod:`.outfolder`).
"""

from __future__ import annotations

import glob
import json
import os
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import ConfigError, ParacolorError
from .budget import ByteBudget, held_bytes
from .io import (
    DEFAULT_MAX_PIXELS,
    MAX_PIXELS_CEILING,
    OUTPUT_FORMATS,
    PARTIAL_SUFFIX,
    ImageError,
    atomic_write,
    decode_image,
    decoded_bytes_estimate,
    encode_image,
    find_images,
    max_file_bytes,
    read_file_bytes,
)
from .outfolder import FolderLock, check_writable
from .pipeline import Colorizer, EngineConfig, FinishBuffers, non_finite
from .video.job import VideoConfig, colorize_videos, split_inputs
from .output_target import stage_file

_DONE = object()
#: options that scale memory are bounded (ColorizeConfig checks them)
MAX_BATCH = 64
MAX_BATCH_PIXELS = 64 * 256 * 256  # batch x network pixels: 64 photos at 256, 4 at 1024
DEFAULT_QUEUE_BYTES = 512 << 20


@dataclass
class ColorizeConfig:
    """Options of a colorize run (the CLI builds one of these)."""

    inputs: list[str]
    output_dir: str
    output_file: str | None = None  # one input written to exactly this file (output_target.py)
    engine: EngineConfig = field(default_factory=EngineConfig)
    batch_size: int | None = None  # None: the backend's preferred batch (Colorizer.preferred_batch)
    format: str | None = None  # None: keep the input's format when writable, else png
    suffix: str = ""
    overwrite: bool = False
    resume: bool = False  # skip complete outputs (even with overwrite) and clear stale temp files
    save_stages: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    prefetch: int = 2  # batches decoded ahead of inference
    queue_bytes: int = DEFAULT_QUEUE_BYTES  # decoded photos held between decoding and writing
    report: str | None = None
    progress: bool = True
    quality: int = 95
    video: VideoConfig = field(default_factory=VideoConfig)  # encoder and temporal options of video inputs

    def __post_init__(self):
        # every option that scales memory has a ceiling, so a slip is an error, not an OOM kill
        # (None: the backend's own preferred batch, resolved once it is loaded; always within these)
        if self.batch_size is not None and not 1 <= self.batch_size <= MAX_BATCH:
            raise ConfigError(f"batch size must be 1 to {MAX_BATCH}, got {self.batch_size}")
        size = self.engine.size or 256
        if self.batch_size is not None and self.batch_size * size * size > MAX_BATCH_PIXELS:
            raise ConfigError(
                f"batch size {self.batch_size} at network size {size} is {self.batch_size * size * size:,} network pixels per batch, "
                f"above {MAX_BATCH_PIXELS:,} (e.g. {MAX_BATCH} at 256); use a smaller --batch-size or --size"
            )
        if not 1 <= self.prefetch <= 16:
            raise ConfigError(f"prefetch must be 1 to 16 batches, got {self.prefetch}")
        if not 1 <= self.max_pixels <= MAX_PIXELS_CEILING:
            raise ConfigError(f"--max-pixels must be 1 to {MAX_PIXELS_CEILING:,}, got {self.max_pixels:,}")
        if not 16 << 20 <= self.queue_bytes <= 64 << 30:
            raise ConfigError(f"the queue budget must be 16 MiB to 64 GiB, got {self.queue_bytes >> 20} MiB")
        if not 1 <= self.quality <= 100:
            raise ConfigError(f"quality must be 1 to 100, got {self.quality}")
        if self.format is not None and self.format.lower() not in OUTPUT_FORMATS:
            raise ConfigError(f"unknown format {self.format!r}; choose from {sorted(OUTPUT_FORMATS)}")
        bad = [c for c in self.suffix if c in "/\\\0" or c in (os.sep, os.altsep) or not c.isprintable()]
        if bad or self.suffix in (".", ".."):
            raise ConfigError(f"--suffix {self.suffix!r} may not hold path separators or control characters (outputs stay inside -o)")


@dataclass
class Summary:
    """What happened to every input: done, skipped (with reason) or failed (with reason)."""

    done: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0
    report_error: str | None = None  # the --report file could not be written (the summary still can be shown)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted and not self.report_error

    def to_dict(self) -> dict:
        return {
            "done": self.done,
            "skipped": self.skipped,
            "failed": self.failed,
            "interrupted": self.interrupted,
            "seconds": round(self.seconds, 3),
            "counts": {"done": len(self.done), "skipped": len(self.skipped), "failed": len(self.failed)},
        }


@dataclass
class Job:
    src: Path
    dst: Path
    stage_dsts: dict[str, Path] = field(default_factory=dict)


def output_path(src: Path, base: Path, out_dir: Path, fmt: str | None, suffix: str, tag: str = "") -> Path:
    """Output path mirroring ``src`` below ``base`` inside ``out_dir``.

    The mirrored part is normalised: an input reached through ``..`` (a glob such as
    ``in/*/../../x/*.jpg``) whose relative path would climb out is written flat, by its name.
    """
    try:
        rel = _contained(src.relative_to(base))
    except ValueError:
        rel = None
    if rel is None:
        rel = type(src)(src.name)  # any PurePath flavour: local paths or pyarrow URIs' paths
    # keep the input's format where we can write it (png, jpg, tif, webp), else png
    ext = OUTPUT_FORMATS[fmt.lower()] if fmt else OUTPUT_FORMATS.get(src.suffix.lower().lstrip("."), ".png")
    return out_dir / rel.parent / f"{rel.stem}{suffix}{tag}{ext}"


def _contained(rel):
    """``rel`` with ``.`` and ``..`` folded in; None if it climbs above its start."""
    parts: list[str] = []
    for part in rel.parts:
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part not in (".", ""):
            parts.append(part)
    return type(rel)(*parts) if parts else None


def output_targets(src: Path, base: Path, cfg: ColorizeConfig) -> dict[str, Path]:
    """Every path a run writes for one input: ``""`` the result, ``"fg"``/``"bg"`` the stages."""
    if cfg.output_file:  # the one input written to the file -o names (output_target.py)
        dst = Path(cfg.output_file)
        return {"": dst, **({r: stage_file(dst, r) for r in ("fg", "bg")} if cfg.save_stages else {})}
    out_dir = Path(cfg.output_dir)
    targets = {"": output_path(src, base, out_dir, cfg.format, cfg.suffix)}
    if cfg.save_stages:
        targets.update({r: output_path(src, base, out_dir, cfg.format, cfg.suffix, f"_{r}") for r in ("fg", "bg")})
    return targets


def skip_reason(cfg: ColorizeConfig, exists: bool) -> str | None:
    """Why an input whose outputs exist (or not) is skipped; None: colorize it."""
    if exists and (cfg.resume or not cfg.overwrite):
        return "already done (resume)" if cfg.resume else "output exists (use --overwrite)"
    return None


def plan_jobs(cfg: ColorizeConfig, summary: Summary) -> list[Job]:
    """Map inputs to outputs before any work: every path the run will write is reserved here.

    Refused (failed, with the reason): an output over an input, an output outside ``-o``, and
    a name another input (its result or a ``--save-stages`` stage) or ``--report`` already
    took. Skipped: inputs whose outputs exist, files found by walking that are this run's own
    output names (``-o`` equal to the input folder with ``--suffix``), and the output folder
    itself when it lies inside an input folder. Folders that cannot be read, broken links and
    files that are not regular files are reported too.
    """
    out_dir = Path(cfg.output_dir)
    out_root = out_dir.resolve()
    problems: list = []
    found = find_images(cfg.inputs, exclude=out_dir, problems=problems)
    for u in problems:
        (summary.failed if u.failed else summary.skipped).append({"path": u.path, "reason": u.reason})
    args = {str(Path(a)) for a in cfg.inputs}
    named = {p.resolve() for p, _ in found if str(p) in args}  # files named on the command line
    planned = [(src, output_targets(src, base, cfg)) for src, base in found]
    # a walked file that this run writes for another input is that run's output, not an input
    # (each re-run would colorize the last one's outputs again, one suffix deeper)
    produced = {t.resolve(): src for src, targets in planned for t in targets.values()}
    inputs: dict[Path, Path] = {}
    shadowed: set[Path] = set()  # found as inputs, taken as outputs: kept, but never replaced
    kept = []
    for src, targets in planned:
        key = src.resolve()
        maker = produced.get(key)
        if maker is not None and maker.resolve() != key and key not in named:
            summary.skipped.append({"path": str(src), "reason": f"an output name of {maker} in this run, not colorized again"})
            shadowed.add(key)
            continue
        inputs[key] = src
        kept.append((src, targets))
    claimed: dict[Path, str] = {}
    if cfg.report:
        claimed[Path(cfg.report).resolve()] = "the --report file"
    jobs = []
    for src, targets in kept:
        resolved = {tag: t.resolve() for tag, t in targets.items()}
        why = None
        for tag, t in resolved.items():
            shown = targets[tag]
            if t in inputs:
                why = f"output {shown} would overwrite an input file"
            elif t in shadowed and cfg.overwrite:  # it may be a photo of the user's, not an earlier output
                why = f"output {shown} would replace a file found among the inputs (use another -o, or remove it to redo it)"
            elif not t.is_relative_to(out_root):
                why = f"output {shown} would be outside the output folder {out_dir}"
            elif t in claimed:
                why = f"same output name {shown} as {claimed[t]}"
            if why:
                break
        if why:
            summary.failed.append({"path": str(src), "reason": why})
            continue
        for tag, t in resolved.items():
            claimed[t] = f"{src}" if not tag else f"the {tag} stage of {src}"
        dst, stage_dsts = targets[""], {r: targets[r] for r in targets if r}
        why = skip_reason(cfg, all(t.exists() for t in targets.values()))
        if why:
            summary.skipped.append({"path": str(src), "output": str(dst), "reason": why})
            continue
        jobs.append(Job(src, dst, stage_dsts))
    return jobs


def check_report_path(cfg: ColorizeConfig, videos: list[Path] = ()) -> None:
    """Refuse a ``--report`` path that would replace an input (a photo of ``cfg.inputs``, or one
    of ``videos``) or an unrelated file; check that its folder is writable (before any work, not
    after hundreds of photos)."""
    if not cfg.report:
        return
    path = Path(cfg.report)
    if path.is_dir():
        raise ConfigError(f"--report {path}: is a folder")
    if path.exists() or path.is_symlink():
        photos = {p.resolve() for p, _ in find_images(cfg.inputs)} if cfg.inputs else set()
        if path.resolve() in photos | {Path(v).resolve() for v in videos}:
            raise ConfigError(f"--report {path}: is one of the inputs; it would be replaced (a shell glob such as --report *.jpg?)")
        if not is_report(path):
            raise ConfigError(f"--report {path}: exists and is not a paracolor report; it is not replaced (remove it or choose another name)")
    check_writable(path.parent if str(path.parent) else Path("."), "--report folder")


def is_report(path: Path) -> bool:
    """True for a file a previous ``--report`` wrote (replacing it is what a re-run means)."""
    try:
        if path.stat().st_size > 256 << 20:
            return False
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"done", "skipped", "failed", "counts"} <= data.keys()


def clear_stale_partials(out_dir: Path, names: list[str] | None = None) -> int:
    """Remove temporary files a killed run left behind (``.<name>.<random>.partial``); with
    ``names``, only those outputs' in ``out_dir`` itself (a named output file's folder is the
    user's, not a tree of ours).

    Called with the output folder locked (:class:`FolderLock`), so no live run owns them."""
    removed = 0
    if out_dir.is_dir():
        found = [p for n in names for p in out_dir.glob(f".{glob.escape(n)}.*{PARTIAL_SUFFIX}")] if names is not None else out_dir.rglob(f".*{PARTIAL_SUFFIX}")
        for p in found:
            try:
                p.unlink()
                removed += 1
            except OSError:
                pass
    return removed


def _decoder(jobs, cfg, colorizer, out_q: queue.Queue, stop: threading.Event, budget: ByteBudget):
    """Producer thread: decode and prepare images in order, ahead of inference.

    A photo's bytes are taken from ``budget`` before it is decoded (estimated from its header,
    then corrected to what the prepared photo holds), so the photo being decoded is counted
    too; the writer gives them back once the photo is written."""
    max_bytes = max_file_bytes(cfg.max_pixels)
    try:
        for job in jobs:
            if stop.is_set():
                break
            taken = 0
            try:
                data = read_file_bytes(job.src, max_bytes)
                taken = decoded_bytes_estimate(data, cfg.max_pixels)
                if taken and not budget.take(taken, stop):
                    break
                item = colorizer.prepare(decode_image(data, job.src, cfg.max_pixels))
            except ImageError as exc:
                item = exc
            except MemoryError:
                item = ImageError(job.src, "not enough memory to decode this photo")
            except Exception as exc:  # an unexpected decoder failure is this file's, not the batch's
                item = ImageError(job.src, f"{type(exc).__name__}: {exc}")
            data = None
            nbytes = 0 if isinstance(item, ImageError) else _prepared_bytes(item)
            budget.adjust(nbytes - taken)
            while not stop.is_set():
                try:
                    out_q.put((job, item, nbytes), timeout=0.1)
                    break
                except queue.Full:
                    continue
    finally:  # the end marker, even if this thread dies: the inference loop must not wait forever
        while True:  # after a stop nobody may be reading, so do not wait for room
            try:
                out_q.put(_DONE, timeout=0.1)
                break
            except queue.Full:
                if stop.is_set():
                    break


def _prepared_bytes(prep) -> int:
    return held_bytes(prep.image.pixels, prep.image.alpha, prep.L_full, prep.L_net)


def _writer(cfg, colorizer, in_q: queue.Queue, summary: Summary, lock: threading.Lock, bar, budget: ByteBudget, abandon: threading.Event):
    """Consumer thread: upsample and merge the chroma with the full-resolution L, encode, write
    atomically. At full resolution this work rivals inference, so it runs beside the next batch.
    Each result is encoded before the next is finished, so the full-size buffers are reused.
    Once ``abandon`` is set (Ctrl-C) it finishes the photo in hand and drops the rest, which a
    ``--resume`` run redoes."""
    buffers = FinishBuffers()
    while True:
        got = in_q.get()
        if got is _DONE:
            return
        job, prep, ab, nbytes = got
        if abandon.is_set():
            budget.give(nbytes)
            continue
        try:
            result = colorizer.colorized(prep, ab, stages=cfg.save_stages, buffers=buffers)
            fmt = job.dst.suffix.lstrip(".")
            outputs = [(job.dst, result.bgr)] + [(job.stage_dsts[r], result.stages[r]) for r in job.stage_dsts]
            # a re-run that adds --save-stages keeps the outputs already there
            outputs = [(d, b) for d, b in outputs if cfg.overwrite or not d.exists()]
            for dst, bgr in outputs:
                atomic_write(dst, encode_image(bgr, fmt, result.alpha, cfg.quality), overwrite=cfg.overwrite)
            entry = {"path": str(job.src), "output": str(job.dst)}
            if prep.image.notes:
                entry["notes"] = list(prep.image.notes)
            with lock:
                summary.done.append(entry)
        except ImageError as exc:
            with lock:
                summary.failed.append({"path": str(job.src), "reason": exc.cause if exc.path == str(job.src) else str(exc)})
        except Exception as exc:
            with lock:
                summary.failed.append({"path": str(job.src), "reason": f"could not write output: {type(exc).__name__}: {exc}"})
        finally:
            del prep, ab
            budget.give(nbytes)
        bar.update(1)


def _named_outputs(cfg: ColorizeConfig) -> list[str] | None:
    """The file names a single-file run writes (None: a folder run)."""
    if not cfg.output_file:
        return None
    dst = Path(cfg.output_file)
    return [dst.name] + ([stage_file(dst, r).name for r in ("fg", "bg")] if cfg.save_stages else [])


def colorize_files(cfg: ColorizeConfig, colorizer: Colorizer | None = None) -> Summary:
    """Colorize every image named by ``cfg.inputs`` into ``cfg.output_dir``; returns a summary.

    Before any work: the output folder (and the ``--report`` folder) must be writable, the
    output folder is locked against other runs, and every output name is reserved.
    Interrupting (Ctrl-C) stops within about a second: the photo being written is finished,
    the rest is dropped, no partial file is left, and ``summary.interrupted`` is set. A report
    that cannot be written at the end sets ``summary.report_error`` (the summary is intact).
    """
    t0 = time.perf_counter()
    summary = Summary()
    out_dir = Path(cfg.output_dir)
    videos, photo_inputs = split_inputs(cfg.inputs, exclude=out_dir)  # videos go through their own job (engine/video/)
    check_report_path(replace(cfg, inputs=photo_inputs), videos=[p for p, _ in videos])
    check_writable(out_dir)
    with FolderLock(out_dir, shared=bool(cfg.output_file)):  # one named file: the folder is the user's
        if cfg.resume:
            clear_stale_partials(out_dir, _named_outputs(cfg))
        jobs = plan_jobs(replace(cfg, inputs=photo_inputs), summary) if photo_inputs else []
        _run_jobs(cfg, jobs, videos, colorizer, summary)
    return finish_report(cfg, summary, t0)


def finish_report(cfg: ColorizeConfig, summary: Summary, t0: float) -> Summary:
    """The run's time, and its ``--report`` written; a report that cannot be written sets
    ``summary.report_error`` (the summary is intact and still printed). Local and Ray runs."""
    summary.seconds = time.perf_counter() - t0
    if cfg.report:
        try:
            write_report(cfg.report, summary)
        except (ParacolorError, OSError) as exc:
            summary.report_error = str(exc)
    return summary


def _run_jobs(cfg: ColorizeConfig, jobs: list[Job], videos: list, colorizer: Colorizer | None, summary: Summary) -> None:
    own = colorizer is None
    stop, abandon = threading.Event(), threading.Event()
    lock = threading.Lock()
    budget = ByteBudget(cfg.queue_bytes)
    bar = tqdm(total=len(jobs), unit="img", disable=not cfg.progress or not jobs, desc="colorize")
    threads = []
    decoded: queue.Queue = queue.Queue()
    clean = False
    try:
        if (jobs or videos) and own:
            colorizer = Colorizer(cfg.engine)
        if cfg.batch_size is None:  # the backend's own (nothing to colorize: no backend loaded)
            cfg = replace(cfg, batch_size=colorizer.preferred_batch if colorizer is not None else 1)
        decoded = queue.Queue(maxsize=max(1, cfg.prefetch * cfg.batch_size))
        finished: queue.Queue = queue.Queue(maxsize=max(1, cfg.batch_size * 2))
        if videos:
            colorize_videos(cfg, videos, colorizer, summary)
        if jobs and not summary.interrupted:
            threads = [
                threading.Thread(target=_decoder, args=(jobs, cfg, colorizer, decoded, stop, budget), daemon=True, name="paracolor-decode"),
                threading.Thread(target=_writer, args=(cfg, colorizer, finished, summary, lock, bar, budget, abandon), daemon=True, name="paracolor-write"),
            ]
            for t in threads:
                t.start()
            _infer_loop(cfg, colorizer, decoded, finished, summary, lock, bar, budget)
        clean = True
    except KeyboardInterrupt:
        summary.interrupted = True
        abandon.set()
    finally:
        stop.set()
        if threads:
            _drain(decoded)  # a decoder waiting to queue a photo sees ``stop`` within 0.1 s
            _put_done(finished, threads[1], summary.interrupted)
            # the writer finishes the photo in hand; a decoder stuck in a read (a stalled network
            # mount) is a daemon thread and is not waited for after an interrupt
            threads[1].join(None if not summary.interrupted else 30)
            threads[0].join(None if clean else 1)
            if clean:
                _report_unaccounted(jobs, summary)
        bar.close()
        if own and colorizer is not None:
            colorizer.close()


def _report_unaccounted(jobs: list[Job], summary: Summary) -> None:
    """A run that ended without an interrupt accounts for every job: one a worker thread never
    reached (it died of a bug) is failed with that reason, so the run cannot exit 0 with work lost."""
    seen = {e["path"] for e in (*summary.done, *summary.failed, *summary.skipped)}
    for job in jobs:
        if str(job.src) not in seen:
            summary.failed.append({"path": str(job.src), "reason": "not colorized: a worker thread stopped on an internal error (see the log above)"})


def _drain(q: queue.Queue) -> None:
    try:
        while True:
            q.get_nowait()
    except queue.Empty:
        pass


def _put_done(q: queue.Queue, writer: threading.Thread, interrupted: bool) -> None:
    """Tell the writer to end after what it has (or, interrupted, drop what waits)."""
    while writer.is_alive():
        try:
            q.put(_DONE, timeout=0.1)
            return
        except queue.Full:
            if interrupted:
                _drain(q)


def _infer_loop(cfg, colorizer, decoded, finished, summary, lock, bar, budget):
    """Batches of prepared images through the networks, in input order.

    Up to ``colorizer.in_flight`` batches stay submitted while the oldest is collected and handed
    to the writer (none on the CPU, where submitting computes the batch). When no decoded image
    is waiting, the oldest batch is collected at once rather than held back; when the decoder
    waits for the byte budget, a part batch is submitted rather than waiting for more photos.
    """
    size = min(cfg.batch_size, colorizer.max_batch or cfg.batch_size)
    pending: deque = deque()  # (batch, ticket), oldest first

    def fail_one(job, nbytes, reason):
        with lock:
            summary.failed.append({"path": str(job.src), "reason": reason})
        budget.give(nbytes)
        bar.update(1)  # the bar's own rate is images/s: images count when written

    def fail(batch, exc):
        for job, _, nbytes in batch:
            fail_one(job, nbytes, f"inference failed: {type(exc).__name__}: {exc}")

    def hand_on():
        batch, ticket = pending.popleft()
        try:
            out = colorizer.collect(ticket)
        except Exception as exc:
            fail(batch, exc)
            return
        for i, (job, prep, nbytes) in enumerate(batch):
            ab = {k: v[i] for k, v in out.items()}
            bad = non_finite(ab)
            if bad:  # a broken or mis-built graph: this photo fails, nothing wrong is written
                fail_one(job, nbytes, bad)
                continue
            finished.put((job, prep, ab, nbytes))

    def submit(batch):
        try:
            pending.append((batch, colorizer.submit(np.stack([p.L_net for _, p, _ in batch]))))
        except Exception as exc:
            fail(batch, exc)
        while len(pending) > colorizer.in_flight:
            hand_on()

    batch: list = []
    done = False
    try:
        while not done:
            try:
                got = decoded.get_nowait() if pending else decoded.get(timeout=0.05 if batch else None)
            except queue.Empty:
                if pending:
                    hand_on()
                elif budget.blocked:
                    submit(batch)
                    batch = []
                continue
            if got is _DONE:
                done = True
            else:
                job, item, nbytes = got
                if isinstance(item, ImageError):
                    fail_one(job, 0, item.cause)
                else:
                    batch.append((job, item, nbytes))
            if batch and (len(batch) >= size or done):
                submit(batch)
                batch = []
        while pending:
            hand_on()
    finally:  # interrupted: free the scheduler's slots; those results are not written
        for _, ticket in pending:
            colorizer.collect(ticket)


def write_report(path, summary: Summary) -> None:
    """Machine-readable summary (JSON), written atomically."""
    atomic_write(path, (json.dumps(summary.to_dict(), indent=1) + "\n").encode(), overwrite=True)

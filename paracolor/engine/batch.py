"""Colorize files and folders: the library function behind ``paracolor colorize``.

Three stages overlap: decoding and L preparation run ahead of inference in a thread (bounded
prefetch); finishing (chroma upsampling, the merge with the full-resolution L, Lab->BGR),
encoding and writing run behind it in another. On GPU backends the next batch is submitted
before the previous one is collected, so the device works while the host hands results on.
Queues are bounded, so memory stays flat over a folder of any size. A bad file is reported and skipped; outputs are written atomically and
inputs are never touched.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import ConfigError
from .io import DEFAULT_MAX_PIXELS, OUTPUT_FORMATS, PARTIAL_SUFFIX, ImageError, atomic_write, encode_image, find_images, read_image
from .pipeline import Colorizer, EngineConfig, FinishBuffers

_DONE = object()


@dataclass
class ColorizeConfig:
    """Options of a colorize run (the CLI builds one of these)."""

    inputs: list[str]
    output_dir: str
    engine: EngineConfig = field(default_factory=EngineConfig)
    batch_size: int | None = None  # None: the backend's preferred batch (Colorizer.preferred_batch)
    format: str | None = None  # None: keep the input's format when writable, else png
    suffix: str = ""
    overwrite: bool = False
    resume: bool = False  # skip complete outputs (even with overwrite) and clear stale temp files
    save_stages: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    prefetch: int = 2  # batches decoded ahead of inference
    report: str | None = None
    progress: bool = True
    quality: int = 95

    def __post_init__(self):
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError("batch size must be at least 1")
        if self.format is not None and self.format.lower() not in OUTPUT_FORMATS:
            raise ConfigError(f"unknown format {self.format!r}; choose from {sorted(OUTPUT_FORMATS)}")


@dataclass
class Summary:
    """What happened to every input: done, skipped (with reason) or failed (with reason)."""

    done: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted

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
    """Output path mirroring ``src`` below ``base`` inside ``out_dir``."""
    try:
        rel = src.relative_to(base)
    except ValueError:
        rel = type(src)(src.name)  # any PurePath flavour: local paths or pyarrow URIs' paths
    # keep the input's format where we can write it (png, jpg, tif, webp), else png
    ext = OUTPUT_FORMATS[fmt.lower()] if fmt else OUTPUT_FORMATS.get(src.suffix.lower().lstrip("."), ".png")
    return out_dir / rel.parent / f"{rel.stem}{suffix}{tag}{ext}"


def skip_reason(cfg: ColorizeConfig, exists: bool) -> str | None:
    """Why an input whose outputs exist (or not) is skipped; None: colorize it."""
    if exists and (cfg.resume or not cfg.overwrite):
        return "already done (resume)" if cfg.resume else "output exists (use --overwrite)"
    return None


def plan_jobs(cfg: ColorizeConfig, summary: Summary) -> list[Job]:
    """Map inputs to outputs; skip existing outputs, refuse collisions and input overwrites."""
    out_dir = Path(cfg.output_dir)
    found = find_images(cfg.inputs)
    inputs = {p.resolve() for p, _ in found}
    claimed: dict[Path, Path] = {}
    jobs = []
    for src, base in found:
        dst = output_path(src, base, out_dir, cfg.format, cfg.suffix)
        stage_dsts = {r: output_path(src, base, out_dir, cfg.format, cfg.suffix, f"_{r}") for r in ("fg", "bg")} if cfg.save_stages else {}
        targets = [dst, *stage_dsts.values()]
        key = dst.resolve()
        if any(t.resolve() in inputs for t in targets):
            summary.failed.append({"path": str(src), "reason": f"output {dst} would overwrite an input file"})
            continue
        if key in claimed:
            summary.failed.append({"path": str(src), "reason": f"same output name {dst} as {claimed[key]}"})
            continue
        claimed[key] = src
        why = skip_reason(cfg, all(t.exists() for t in targets))
        if why:
            summary.skipped.append({"path": str(src), "output": str(dst), "reason": why})
            continue
        jobs.append(Job(src, dst, stage_dsts))
    return jobs


def clear_stale_partials(out_dir: Path) -> int:
    """Remove temporary files a killed run left behind (``.<name>.<random>.partial``)."""
    removed = 0
    if out_dir.is_dir():
        for p in out_dir.rglob(f".*{PARTIAL_SUFFIX}"):
            try:
                p.unlink()
                removed += 1
            except OSError:
                pass
    return removed


def _decoder(jobs, cfg, colorizer, out_q: queue.Queue, stop: threading.Event):
    """Producer thread: decode and prepare images in order, ahead of inference."""
    for job in jobs:
        if stop.is_set():
            break
        try:
            item = colorizer.prepare(read_image(job.src, cfg.max_pixels))
        except ImageError as exc:
            item = exc
        except Exception as exc:  # an unexpected decoder failure is this file's, not the batch's
            item = ImageError(job.src, f"{type(exc).__name__}: {exc}")
        while not stop.is_set():
            try:
                out_q.put((job, item), timeout=0.1)
                break
            except queue.Full:
                continue
    out_q.put(_DONE)


def _writer(cfg, colorizer, in_q: queue.Queue, summary: Summary, lock: threading.Lock, bar):
    """Consumer thread: upsample and merge the chroma with the full-resolution L, encode, write
    atomically. At full resolution this work rivals inference, so it runs beside the next batch.
    Each result is encoded before the next is finished, so the full-size buffers are reused."""
    buffers = FinishBuffers()
    while True:
        got = in_q.get()
        if got is _DONE:
            return
        job, prep, ab = got
        try:
            result = colorizer.colorized(prep, ab, stages=cfg.save_stages, buffers=buffers)
            fmt = job.dst.suffix.lstrip(".")
            outputs = [(job.dst, result.bgr)] + [(job.stage_dsts[r], result.stages[r]) for r in job.stage_dsts]
            # a re-run that adds --save-stages keeps the outputs already there
            outputs = [(d, b) for d, b in outputs if cfg.overwrite or not d.exists()]
            for dst, bgr in outputs:
                atomic_write(dst, encode_image(bgr, fmt, result.alpha, cfg.quality), overwrite=cfg.overwrite)
            with lock:
                summary.done.append({"path": str(job.src), "output": str(job.dst)})
        except ImageError as exc:
            with lock:
                summary.failed.append({"path": str(job.src), "reason": exc.cause if exc.path == str(job.src) else str(exc)})
        except Exception as exc:
            with lock:
                summary.failed.append({"path": str(job.src), "reason": f"could not write output: {type(exc).__name__}: {exc}"})
        bar.update(1)


def colorize_files(cfg: ColorizeConfig, colorizer: Colorizer | None = None) -> Summary:
    """Colorize every image named by ``cfg.inputs`` into ``cfg.output_dir``; returns a summary.

    Interrupting (Ctrl-C) stops after the batch in flight; finished outputs are kept, no
    partial file is left, and ``summary.interrupted`` is set.
    """
    t0 = time.perf_counter()
    summary = Summary()
    if cfg.resume:
        clear_stale_partials(Path(cfg.output_dir))
    jobs = plan_jobs(cfg, summary)
    own = colorizer is None
    if jobs and own:
        colorizer = Colorizer(cfg.engine)
    if cfg.batch_size is None:  # the backend's own (nothing to colorize: no backend loaded)
        cfg = replace(cfg, batch_size=colorizer.preferred_batch if colorizer is not None else 1)
    stop = threading.Event()
    lock = threading.Lock()
    bar = tqdm(total=len(jobs), unit="img", disable=not cfg.progress, desc="colorize")
    decoded: queue.Queue = queue.Queue(maxsize=max(1, cfg.prefetch * cfg.batch_size))
    finished: queue.Queue = queue.Queue(maxsize=max(1, cfg.batch_size * 2))
    threads = []
    try:
        if jobs:
            threads = [
                threading.Thread(target=_decoder, args=(jobs, cfg, colorizer, decoded, stop), daemon=True, name="paracolor-decode"),
                threading.Thread(target=_writer, args=(cfg, colorizer, finished, summary, lock, bar), daemon=True, name="paracolor-write"),
            ]
            for t in threads:
                t.start()
            _infer_loop(cfg, colorizer, decoded, finished, summary, lock, bar)
    except KeyboardInterrupt:
        summary.interrupted = True
        stop.set()
        while True:  # unblock the decoder
            try:
                if decoded.get_nowait() is _DONE:
                    break
            except queue.Empty:
                if not threads[0].is_alive():
                    break
                time.sleep(0.01)
    finally:
        stop.set()
        if threads:
            finished.put(_DONE)
            for t in threads:
                t.join()
        bar.close()
        if own and colorizer is not None:
            colorizer.close()
    summary.seconds = time.perf_counter() - t0
    if cfg.report:
        write_report(cfg.report, summary)
    return summary


def _infer_loop(cfg, colorizer, decoded, finished, summary, lock, bar):
    """Batches of prepared images through the networks, in input order.

    Up to ``colorizer.in_flight`` batches stay submitted while the oldest is collected and handed
    to the writer (none on the CPU, where submitting computes the batch). When no decoded image
    is waiting, the oldest batch is collected at once rather than held back.
    """
    size = min(cfg.batch_size, colorizer.max_batch or cfg.batch_size)
    pending: deque = deque()  # (batch, ticket), oldest first

    def fail(batch, exc):
        with lock:
            for job, _ in batch:
                summary.failed.append({"path": str(job.src), "reason": f"inference failed: {type(exc).__name__}: {exc}"})
        bar.update(len(batch))  # the bar's own rate is images/s: images count when written

    def hand_on():
        batch, ticket = pending.popleft()
        try:
            out = colorizer.collect(ticket)
        except Exception as exc:
            fail(batch, exc)
            return
        for i, (job, prep) in enumerate(batch):
            finished.put((job, prep, {k: v[i] for k, v in out.items()}))

    batch: list = []
    done = False
    try:
        while not done:
            try:
                got = decoded.get_nowait() if pending else decoded.get()
            except queue.Empty:
                hand_on()
                continue
            if got is _DONE:
                done = True
            else:
                job, item = got
                if isinstance(item, ImageError):
                    with lock:
                        summary.failed.append({"path": str(job.src), "reason": item.cause})
                    bar.update(1)
                else:
                    batch.append((job, item))
            if batch and (len(batch) >= size or done):
                try:
                    pending.append((batch, colorizer.submit(np.stack([p.L_net for _, p in batch]))))
                except Exception as exc:
                    fail(batch, exc)
                batch = []
                while len(pending) > colorizer.in_flight:
                    hand_on()
        while pending:
            hand_on()
    finally:  # interrupted: free the scheduler's slots; those results are not written
        for _, ticket in pending:
            colorizer.collect(ticket)


def write_report(path, summary: Summary) -> None:
    """Machine-readable summary (JSON), written atomically."""
    atomic_write(path, (json.dumps(summary.to_dict(), indent=1) + "\n").encode(), overwrite=True)

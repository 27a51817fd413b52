"""``paracolor colorize INPUT -o OUTPUT --ray [ADDRESS]``: the same job on a Ray cluster.

Ray Data distributes the work: the driver lists the images and applies the local run's naming,
skip, resume and collision rules; ``map_batches`` runs a pool of actors, each holding one
engine (one GPU per actor when the cluster has GPUs, the ONNX Runtime CPU engine otherwise),
which read, colorize and atomically write every image of their batches. Each image's outcome
comes back as a row, so the summary and ``--report`` are those of a local run. Files are read
by the actors (not by a Ray Data reader) so one unreadable file is reported, not fatal.

Paths may be local or any filesystem pyarrow supports (``s3://``, ``gs://``, ``hdfs://`` ...).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path, PurePosixPath

import numpy as np

from ..engine.batch import ColorizeConfig, Summary, check_report_path, finish_report, output_path, plan_jobs, skip_reason
from ..engine.io import IMAGE_EXTENSIONS, PARTIAL_SUFFIX, ImageError, atomic_write, decode_image, encode_image, max_file_bytes, read_file_bytes
from ..engine.outfolder import FolderLock, check_writable
from ..engine.pipeline import non_finite
from .. import logs
from ..errors import ConfigError, MissingDependency

INSTALL_HINT = "Ray is not installed: pip install 'paracolor[ray]' (or: pip install 'ray[data]')"


def _require_ray():
    try:
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError:
        raise MissingDependency(INSTALL_HINT) from None


def _route_ray_logs(progress: bool) -> None:
    """Ray Data logs every execution plan and, off a terminal, its progress every few seconds
    through loggers of its own: those are library messages, shown only with -v."""
    import ray.data

    verbose = logs.verbosity() >= logs.VERBOSE
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = progress
    ctx.print_on_execution_start = verbose
    logging.getLogger("ray.data").setLevel(logging.INFO if verbose else logging.WARNING)


def _is_uri(path: str) -> bool:
    return "://" in str(path)


def _remote_jobs(cfg: ColorizeConfig, summary: Summary) -> list[dict]:
    """Listing and naming on a pyarrow filesystem (the local run's rules, minus symlinks)."""
    import pyarrow.fs as pafs

    fs, root = pafs.FileSystem.from_uri(cfg.inputs[0])
    out_fs, out_root = pafs.FileSystem.from_uri(cfg.output_dir) if _is_uri(cfg.output_dir) else (pafs.LocalFileSystem(), cfg.output_dir)
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True))
    files = sorted(i.path for i in infos if i.type == pafs.FileType.File and PurePosixPath(i.path).suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise ImageError(cfg.inputs[0], "no image files found")
    jobs, claimed = [], {}
    for src in files:
        dst = str(output_path(PurePosixPath(src), PurePosixPath(root), PurePosixPath(out_root), cfg.format, cfg.suffix))
        if dst in claimed:
            summary.failed.append({"path": src, "reason": f"same output name {dst} as {claimed[dst]}"})
            continue
        claimed[dst] = src
        why = skip_reason(cfg, out_fs.get_file_info(dst).type == pafs.FileType.File)
        if why:
            summary.skipped.append({"path": src, "output": dst, "reason": why})
            continue
        jobs.append({"src": src, "dst": dst})
    return jobs


class ColorizeActor:
    """One engine per actor; ``__call__`` handles a batch of {src, dst} rows."""

    def __init__(self, cfg: dict, in_uri: str | None, out_uri: str | None):
        from ..engine.pipeline import Colorizer, EngineConfig

        engine = EngineConfig(**cfg.pop("engine"))
        self.cfg = ColorizeConfig(engine=engine, **cfg)
        self.colorizer = Colorizer(engine)
        self.in_fs = self.out_fs = None
        if in_uri or out_uri:
            import pyarrow.fs as pafs

            self.in_fs = pafs.FileSystem.from_uri(in_uri)[0] if in_uri else None
            self.out_fs = pafs.FileSystem.from_uri(out_uri)[0] if out_uri else None

    def _read(self, src: str) -> bytes:
        if self.in_fs is None:  # regular files only, size-bounded (a FIFO or /dev/zero is refused)
            return read_file_bytes(src, max_file_bytes(self.cfg.max_pixels))
        with self.in_fs.open_input_stream(src) as f:
            return f.read()

    def _write(self, dst: str, data: bytes) -> None:
        if self.out_fs is None:
            atomic_write(dst, data, overwrite=self.cfg.overwrite or self.cfg.resume)
            return
        tmp = f"{dst}{PARTIAL_SUFFIX}"
        parent = str(PurePosixPath(dst).parent)
        self.out_fs.create_dir(parent, recursive=True)
        with self.out_fs.open_output_stream(tmp) as f:
            f.write(data)
        self.out_fs.move(tmp, dst)

    def __call__(self, batch: dict) -> dict:
        srcs, dsts = [str(s) for s in batch["src"]], [str(d) for d in batch["dst"]]
        status, reason = ["failed"] * len(srcs), [""] * len(srcs)
        prepared = []
        for i, src in enumerate(srcs):
            try:
                prepared.append((i, self.colorizer.prepare(decode_image(self._read(src), src, self.cfg.max_pixels))))
            except ImageError as exc:
                reason[i] = exc.cause
            except OSError as exc:
                reason[i] = f"cannot read file ({exc})"
        if prepared:
            try:
                out = self.colorizer.infer(np.stack([p.L_net for _, p in prepared]))
            except Exception as exc:  # the batch's inference failed: every file in it reports it
                for i, _ in prepared:
                    reason[i] = f"inference failed: {type(exc).__name__}: {exc}"
                prepared = []
            for k, (i, prep) in enumerate(prepared):
                ab = {name: v[k] for name, v in out.items()}
                bad = non_finite(ab)  # NaN or infinities: this photo fails, nothing is written
                if bad:
                    reason[i] = bad
                    continue
                try:
                    res = self.colorizer.colorized(prep, ab)
                    fmt = PurePosixPath(dsts[i]).suffix.lstrip(".")
                    self._write(dsts[i], encode_image(res.bgr, fmt, res.alpha, self.cfg.quality))
                    status[i] = "done"
                except (ImageError, OSError) as exc:
                    reason[i] = getattr(exc, "cause", None) or f"cannot write output ({exc})"
        return {"src": np.array(srcs, dtype=object), "dst": np.array(dsts, dtype=object), "status": np.array(status, dtype=object), "reason": np.array(reason, dtype=object)}


def colorize_ray(cfg: ColorizeConfig, address: str | None = None, workers: int | None = None) -> Summary:
    """Run a colorize job on Ray (``address`` None: a local Ray instance); returns the summary."""
    _require_ray()
    import ray

    t0 = time.perf_counter()
    summary = Summary()
    if len(cfg.inputs) != 1:
        raise ConfigError("--ray takes one INPUT (a folder, file or URI)")
    remote_in = _is_uri(cfg.inputs[0])
    if not remote_in:
        from ..engine.video.job import split_inputs

        videos, _ = split_inputs(cfg.inputs)
        if videos:  # the Ray path colorizes photos only: a video would be taken for a bad photo
            raise ConfigError(f"--ray colorizes photos; {videos[0][0]} is a video (run videos without --ray)")
    check_report_path(cfg)
    lock = None
    if not _is_uri(cfg.output_dir):  # a local output folder: checked and locked as in a local run
        check_writable(Path(cfg.output_dir))
        lock = FolderLock(Path(cfg.output_dir)).__enter__()
    try:
        if remote_in:
            jobs = _remote_jobs(cfg, summary)
        else:
            jobs = [{"src": str(j.src), "dst": str(j.dst)} for j in plan_jobs(cfg, summary)]
        _run_on_ray(ray, cfg, jobs, address, workers, remote_in, summary)
    finally:
        if lock is not None:
            lock.release()
    return finish_report(cfg, summary, t0)


def _run_on_ray(ray, cfg: ColorizeConfig, jobs: list[dict], address, workers, remote_in: bool, summary: Summary) -> None:
    if jobs:
        if not ray.is_initialized():
            ray.init(address=address, ignore_reinit_error=True, include_dashboard=False, log_to_driver=False, configure_logging=False)
        _route_ray_logs(cfg.progress)
        gpus = ray.cluster_resources().get("GPU", 0)
        n = workers or max(1, int(gpus) if gpus else 1)
        actor_cfg = {k: v for k, v in asdict(cfg).items() if k not in ("inputs", "output_dir", "report", "progress", "prefetch", "save_stages")}
        actor_cfg["inputs"], actor_cfg["output_dir"] = cfg.inputs, cfg.output_dir
        cpus = 0 if gpus else max(1, int(ray.cluster_resources().get("CPU", 1)) // n)
        if not gpus and not actor_cfg["engine"].get("threads"):
            actor_cfg["engine"]["threads"] = cpus  # each actor's engine uses the CPUs it reserved
        ds = ray.data.from_items(jobs).map_batches(
            ColorizeActor,
            fn_constructor_kwargs={"cfg": actor_cfg, "in_uri": cfg.inputs[0] if remote_in else None, "out_uri": cfg.output_dir if _is_uri(cfg.output_dir) else None},
            batch_size=cfg.batch_size or 4,
            compute=ray.data.ActorPoolStrategy(size=n),  # 'concurrency' is deprecated since Ray 2.51
            num_gpus=1 if gpus else 0,
            num_cpus=cpus,
            batch_format="numpy",
        )
        for row in ds.iter_rows():
            if row["status"] == "done":
                summary.done.append({"path": row["src"], "output": row["dst"]})
            else:
                summary.failed.append({"path": row["src"], "reason": row["reason"]})

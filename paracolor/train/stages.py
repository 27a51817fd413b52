"""The three training stages: L1 pre-training, adversarial training, fusion autoencoder.

A run folder holds ``last.pt`` (full state, for resuming), ``best.safetensors`` (the best
weights by the stage's validation criterion), ``last.safetensors`` and ``log.jsonl``.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .. import colorspace, metrics
from ..models.backbones import find_mobilenet_weights, load_imagenet_weights
from ..models.checkpoint import load_model, load_state, read_metadata, save_model, save_state
from ..models.config import DiscriminatorConfig, FusionConfig, GeneratorConfig, config_from_json
from ..models.discriminator import PatchGAN
from ..models.fusion import DenseFuse
from ..models.generator import ResUNet, upsample
from . import colour_prior, data
from .config import TrainConfig
from .losses import PriorTables, centred_pool, edge_loss, fusion_loss, lsgan_loss, rebalanced_ce, rebalanced_l1

log = logging.getLogger("paracolor.train")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def cpu_bf16_supported() -> bool:
    """Native bf16 matmul on this CPU (oneDNN: AMX or AVX512-BF16); emulated bf16 is slower."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def build_generator(cfg: TrainConfig, bins=()) -> ResUNet:
    """A fresh generator (ImageNet encoder when available) or the ``init`` weights."""
    if cfg.init:
        return load_model(cfg.init, expect_kind="generator").train()
    gcfg = GeneratorConfig(
        encoder=cfg.encoder,
        decoder_channels=cfg.decoder_channels,
        attention_stride=cfg.attention_stride,
        encoder_width=cfg.encoder_width,
        head=cfg.head,
        head_stride=cfg.head_stride,
        upsample=cfg.upsample,
        ab_bins=tuple(map(tuple, bins)) if cfg.head == "classes" else (),
        temperature=cfg.temperature,
    )
    model = ResUNet(gcfg)
    weights = cfg.pretrained
    if weights == "auto":
        weights = find_mobilenet_weights() if cfg.encoder == "mobilenet_v2" and cfg.encoder_width == 1.0 else None
        if weights is None:
            log.warning("no ImageNet weights found for the %s encoder: training from scratch", cfg.encoder)
    if weights:
        load_imagenet_weights(model.encoder, cfg.encoder, weights)
        log.info("encoder initialised from %s", weights)
    return model


class Stage:
    """Shared loop: epochs, progress bar, validation, best/last checkpoints, resume."""

    #: default selection of the best checkpoint (TrainConfig.select overrides)
    default_select = "psnr"

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.device = pick_device(cfg.device)
        self.out = Path(cfg.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        seed_everything(cfg.seed)
        self.amp_dtype = None
        if cfg.amp and self.device.type == "cuda":
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        elif cfg.amp and self.device.type == "cpu" and cpu_bf16_supported():
            self.amp_dtype = torch.bfloat16  # measured 1.5-1.7x faster training on an AMX Xeon
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.step = 0
        self.epoch = 0
        self.best = None
        self.best_ok, self.best_psnr = False, None
        self.grey_psnr = None
        self.tables = None
        if self.needs_prior():
            self.load_prior()
        self.build()
        self.train_set = self.make_train_set()
        self.val_paths = data.list_photos(cfg.val_dirs)[: cfg.val_limit] if cfg.val_dirs else []
        self.best_key, self.best_higher = ("psnr", True) if self.selection == "psnr" else ("colourfulness_gap", False)

    def load_prior(self):
        """The run's colour prior (estimated once into ``colour_prior.json``) and its tables;
        lambda 0.5 when only the bins are needed. A run that goes on from a classes-head generator
        (``init``) keeps that head's bins, whatever photos it trains on."""
        lam = self.cfg.rebalance if self.cfg.rebalance is not None else 0.5
        bins = self.init_bins
        if bins is not None:
            try:
                colour_prior.check_bins(bins)
            except ValueError as exc:
                raise ValueError(f"{self.cfg.init}: {exc}") from None
        resuming = self.cfg.resume and (self.out / "last.pt").exists()
        self.prior = colour_prior.load_or_estimate(self.out, data.list_photos(self.cfg.train_dirs), lam, bins, resuming)
        if bins is not None and self.prior.bins_net != [list(b) for b in bins]:  # logit channel k must stay bin k
            raise ValueError(f"{self.cfg.init}: its ab bins differ from the colour prior estimated on them ({self.out / 'colour_prior.json'})")
        self.tables = PriorTables(self.prior, self.device)

    @cached_property
    def init_bins(self):
        """The ab bins of the ``init`` generator's classes head, or None (no init, a regression head, fusion);
        read once from the checkpoint's metadata (needs_prior and load_prior both ask)."""
        if not self.cfg.init or self.cfg.stage == "fusion":
            return None
        kind, gcfg = config_from_json(read_metadata(self.cfg.init)["config"])
        return gcfg.ab_bins if kind == "generator" and gcfg.head == "classes" else None

    @property
    def selection(self) -> str:
        return self.cfg.select or self.default_select

    def needs_prior(self) -> bool:
        """The ab prior is needed for rebalancing and for the classes head's bins."""
        if self.cfg.rebalance is not None:
            return True
        return self.init_bins is not None if self.cfg.init else self.cfg.stage != "fusion" and self.cfg.head == "classes"

    @property
    def weight_tables(self):
        """Tables for pixel weights, or None when rebalancing is off."""
        return self.tables if self.cfg.rebalance is not None else None

    # -- stage-specific parts -------------------------------------------------------------
    def build(self):
        raise NotImplementedError

    def make_train_set(self):
        return data.PhotoDataset(data.list_photos(self.cfg.train_dirs), self.cfg.size, True, self.cfg.seed, (self.cfg.crop_scale, 1.0))

    def train_step(self, L, ab) -> dict:
        raise NotImplementedError

    def predict(self, L, ab) -> torch.Tensor:
        """Predicted (N,2,H,W) ab for validation."""
        raise NotImplementedError

    def modules(self) -> dict:
        raise NotImplementedError

    def optimizers(self) -> dict:
        raise NotImplementedError

    def export_module(self) -> torch.nn.Module:
        raise NotImplementedError

    # -- shared loop ----------------------------------------------------------------------
    def autocast(self):
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)

    def set_lr(self, total_steps: int):
        """Cosine decay from the stage's learning rate to 0 over the run (stateless: resumable)."""
        if self.cfg.lr_schedule != "cosine":
            return
        frac = min(self.step, total_steps) / max(total_steps, 1)
        lr = self.cfg.lr * 0.5 * (1.0 + math.cos(math.pi * frac))
        for opt in self.optimizers().values():
            for group in opt.param_groups:
                group["lr"] = lr

    def backward(self, loss, opt):
        opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(opt)
        self.scaler.update()

    def state(self) -> dict:
        return {
            "stage": self.cfg.stage,
            "step": self.step,
            "epoch": self.epoch,
            "best": self.best,
            "best_ok": self.best_ok,
            "best_psnr": self.best_psnr,
            "modules": {k: m.state_dict() for k, m in self.modules().items()},
            "optim": {k: o.state_dict() for k, o in self.optimizers().items()},
            "torch_rng": torch.get_rng_state(),
        }

    def load(self, state: dict):
        if state.get("stage") != self.cfg.stage:
            raise ValueError(f"{self.out / 'last.pt'}: state of stage {state.get('stage')!r}, not {self.cfg.stage!r}")
        for k, m in self.modules().items():
            saved = state["modules"][k]
            # a classes head keeps its bin centres as a buffer: the same count of other bins would load without complaint
            centres = getattr(m, "ab_centres", None)
            if centres is not None and "ab_centres" in saved and not torch.equal(saved["ab_centres"].to(centres), centres):
                cause = "its ab bins differ"
            else:
                try:
                    m.load_state_dict(saved)
                    continue
                except RuntimeError as exc:  # missing, unexpected or reshaped weights
                    cause = str(exc)
            raise ValueError(f"{self.out / 'last.pt'}: cannot resume: the {k} network does not match the saved state (was the run "
                             f"started with other options or training photos? train into a new folder): {cause}") from None
        for k, o in self.optimizers().items():
            o.load_state_dict(state["optim"][k])
        self.step, self.epoch, self.best = int(state["step"]), int(state["epoch"]), state["best"]
        self.best_ok, self.best_psnr = bool(state.get("best_ok", True)), state.get("best_psnr")
        torch.set_rng_state(state["torch_rng"])

    def maybe_resume(self):
        last = self.out / "last.pt"
        if self.cfg.resume and last.exists():
            self.load(load_state(last))
            log.info("resumed %s at epoch %d, step %d", last, self.epoch, self.step)

    @torch.no_grad()
    def validate(self) -> dict:
        """PSNR, SSIM and colourfulness of predictions against ground truth (RGB)."""
        if not self.val_paths:
            return {}
        for m in self.modules().values():
            m.eval()
        val = data.PhotoDataset(self.val_paths, self.cfg.size, train=False)
        preds, refs, Ls = [], [], []
        for i in range(0, len(val), 16):
            items = [val[j] for j in range(i, min(i + 16, len(val)))]
            L = torch.stack([t[0] for t in items]).to(self.device)
            ab = torch.stack([t[1] for t in items]).to(self.device)
            with self.autocast():
                pred = self.predict(L, ab).float()
            for k in range(L.shape[0]):
                Ln = L[k].cpu().numpy()
                preds.append(colorspace.net_to_rgb(Ln, pred[k].cpu().numpy()))
                refs.append(colorspace.net_to_rgb(Ln, ab[k].cpu().numpy()))
                Ls.append(Ln)
        for m in self.modules().values():
            m.train()
        summary = metrics.summarize(preds, refs)
        if self.grey_psnr is None:
            # the grey baseline (ab = 0) on the same images: under "gap" selection an epoch only
            # counts as best if its PSNR is within best_psnr_margin of grey, so colour noise
            # cannot win on colourfulness alone
            greys = [colorspace.net_to_rgb(Ln, np.zeros((2,) + Ln.shape[1:], np.float32)) for Ln in Ls]
            self.grey_psnr = metrics.summarize(greys, refs)["psnr"]
        summary["grey_psnr"] = self.grey_psnr
        return summary

    def accept_best(self, summary: dict) -> bool:
        if self.selection in ("psnr", "last"):
            return True
        return summary["psnr"] >= summary["grey_psnr"] - self.cfg.best_psnr_margin

    def is_better(self, summary: dict) -> bool:
        """Accepted epochs beat any rejected one; until one is accepted, the best PSNR is kept,
        so every run leaves a best.safetensors (flagged ``accepted: false`` in its metadata)."""
        if not summary:
            return False
        if self.selection == "last":
            return True
        ok = self.accept_best(summary)
        if self.best is None or (ok and not self.best_ok):
            return True
        if ok != self.best_ok:
            return False
        if not ok:
            return summary["psnr"] > self.best_psnr
        value = summary[self.best_key]
        return value > self.best if self.best_higher else value < self.best

    def checkpoint(self, summary: dict):
        meta = {"stage": self.cfg.stage, "role": self.cfg.role, "epoch": self.epoch, "step": self.step}
        save_model(self.out / "last.safetensors", self.export_module(), meta=meta)
        if self.is_better(summary):
            self.best, self.best_ok, self.best_psnr = summary[self.best_key], self.accept_best(summary), summary["psnr"]
            save_model(self.out / "best.safetensors", self.export_module(), meta={**meta, **summary, "accepted": self.best_ok})
        save_state(self.out / "last.pt", self.state())
        with open(self.out / "log.jsonl", "a") as f:
            f.write(json.dumps({"epoch": self.epoch, "step": self.step, "best": self.best, **summary}) + "\n")

    def run(self) -> dict:
        """Train until ``epochs`` (or ``max_steps``) are reached; returns the last validation."""
        cfg = self.cfg
        self.maybe_resume()
        summary: dict = {}
        (self.out / "config.json").write_text(json.dumps(vars(cfg), indent=1, default=str))
        while self.epoch < cfg.epochs and (cfg.max_steps is None or self.step < cfg.max_steps):
            data.set_epoch(self.train_set, self.epoch)
            loader = data.make_loader(self.train_set, cfg.batch_size, True, cfg.seed + self.epoch, cfg.workers)
            total = cfg.epochs * len(loader) if cfg.max_steps is None else min(cfg.max_steps, cfg.epochs * len(loader))
            bar = tqdm(loader, desc=f"{cfg.stage}/{cfg.role} epoch {self.epoch + 1}/{cfg.epochs}", disable=not cfg.progress, leave=False)
            t0, seen = time.perf_counter(), 0
            for L, ab in bar:
                L, ab = L.to(self.device, non_blocking=True), ab.to(self.device, non_blocking=True)
                self.set_lr(total)
                losses = self.train_step(L, ab)
                if not all(math.isfinite(v) for v in losses.values()):
                    raise FloatingPointError(f"non-finite loss at step {self.step}: {losses}")
                self.step += 1
                seen += L.shape[0]
                rate = seen / max(time.perf_counter() - t0, 1e-9)
                bar.set_postfix({**{k: f"{v:.4f}" for k, v in losses.items()}, "img/s": f"{rate:.1f}"})
                if cfg.max_steps is not None and self.step >= cfg.max_steps:
                    break
            self.epoch += 1
            summary = self.validate()
            summary["train_img_per_s"] = round(seen / max(time.perf_counter() - t0, 1e-9), 2)
            self.checkpoint(summary)
            log.info("epoch %d step %d: %s", self.epoch, self.step, summary)
        return summary


class PretrainStage(Stage):
    """Stage 1: the generator alone with L1 (the "unbalanced GAN" start)."""

    def build(self):
        bins = self.prior.bins_net if self.tables is not None else ()
        self.G = build_generator(self.cfg, bins).to(self.device).train()
        self.opt = torch.optim.Adam(self.G.parameters(), lr=self.cfg.lr, betas=self.cfg.betas)

    @property
    def default_select(self):
        return "gap" if self.G.config.head == "classes" else "psnr"

    def reconstruction_loss(self, L, ab):
        """(loss, prediction): rebalanced cross-entropy over ab bins for the classes head,
        (optionally rebalanced) L1 for regression; the prediction is ab at full size."""
        g = self.G
        if g.config.head == "classes":
            logits = g.logits(L)
            loss = rebalanced_ce(logits, centred_pool(ab, g.config.head_stride), self.tables, self.cfg.rebalance is not None)
            pred = upsample(g.decode_logits(logits.float()), ab.shape[-2:], g.config.upsample)
            return loss, pred
        pred = g(L).float()
        return rebalanced_l1(pred, ab, self.weight_tables), pred

    def make_train_set(self):
        cfg = self.cfg
        paths, scale = data.list_photos(cfg.train_dirs), (cfg.crop_scale, 1.0)
        if cfg.role == "fg":
            return data.foreground_dataset(paths, cfg.size, cfg.seed, cfg.boxes_json, cfg.image_root, scale, cfg.object_crops)
        return data.PhotoDataset(paths, cfg.size, True, cfg.seed, scale)

    def train_step(self, L, ab):
        with self.autocast():
            loss, _ = self.reconstruction_loss(L, ab)
        self.backward(loss, self.opt)
        return {"ce" if self.G.config.head == "classes" else "l1": loss.item()}

    def predict(self, L, ab):
        return self.G(L)

    def modules(self):
        return {"G": self.G}

    def optimizers(self):
        return {"G": self.opt}

    def export_module(self):
        return self.G


class GanStage(PretrainStage):
    """Stage 2: LSGAN + L1 (+ edge loss for the foreground) against a PatchGAN."""

    default_select = "gap"

    def build(self):
        super().build()
        self.D = PatchGAN(DiscriminatorConfig(base_channels=self.cfg.disc_channels)).to(self.device).train()
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=self.cfg.lr, betas=self.cfg.betas)

    def train_step(self, L, ab):
        cfg = self.cfg
        with self.autocast():
            recon, fake = self.reconstruction_loss(L, ab)
            d_real = self.D(torch.cat([L, ab], 1))
            d_fake = self.D(torch.cat([L, fake.detach()], 1))
            loss_d = 0.5 * (lsgan_loss(d_real.float(), True) + lsgan_loss(d_fake.float(), False))
        self.backward(loss_d, self.opt_d)
        with self.autocast():
            adv = lsgan_loss(self.D(torch.cat([L, fake], 1)).float(), True)
            loss_g = cfg.gan_weight * adv + cfg.l1_weight * recon
            edge = edge_loss(fake.float(), ab) if cfg.edge_weight else torch.zeros((), device=L.device)
            loss_g = loss_g + cfg.edge_weight * edge
        self.backward(loss_g, self.opt)
        name = "ce" if self.G.config.head == "classes" else "l1"
        return {"d": loss_d.item(), "adv": adv.item(), name: recon.item(), "edge": edge.item()}

    def modules(self):
        return {"G": self.G, "D": self.D}

    def optimizers(self):
        return {"G": self.opt, "D": self.opt_d}


class FusionStage(Stage):
    """Stage 3: the DenseFuse network.

    ``autoencoder`` (the paper's, DenseFuse's): reconstruct colour photos (MSE + SSIM), each
    image paired with itself (decode(fuse(enc(x), enc(x)))), so the decoder learns the feature
    statistics of the fusion step; at inference it then averages two different colorizations,
    which removed colour (measured: fused output less colourful than either generator's).

    ``supervised``: the inputs are the two trained generators' actual outputs on the photo
    (frozen), and the target is the photo's true ab (L1, rebalanced when ``rebalance`` is set):
    the network learns which colorization to trust where, instead of averaging them.
    """

    def build(self):
        self.F = DenseFuse(FusionConfig(strategy=self.cfg.fusion_strategy, output=self.cfg.fusion_output))
        if self.cfg.init:
            self.F = load_model(self.cfg.init, expect_kind="fusion")
            if self.F.config.output != self.cfg.fusion_output:  # the two outputs mean different things
                raise ValueError(f"{self.cfg.init}: a fusion with the {self.F.config.output!r} decoder output; pass --decoder-output {self.F.config.output} to continue it")
        self.F = self.F.to(self.device).train()
        self.opt = torch.optim.Adam(self.F.parameters(), lr=self.cfg.lr, betas=self.cfg.betas)
        self.generators = None
        if self.cfg.fusion_mode == "supervised":
            self.generators = tuple(
                load_model(path, expect_kind="generator").to(self.device).eval().requires_grad_(False)
                for path in (self.cfg.fusion_fg, self.cfg.fusion_bg)
            )

    @property
    def default_select(self):
        return "gap" if self.cfg.fusion_mode == "supervised" else "psnr"

    def fused(self, L, ab):
        """Fusion output (N,3,H,W): of x with itself, or of the two generators' outputs."""
        if self.generators is None:
            x = torch.cat([L, ab], 1)
            return self.F.fuse(x, x)
        with torch.no_grad():
            ab_fg, ab_bg = (g(L).to(L.dtype) for g in self.generators)
        return torch.cat([L, self.F.fuse_ab(L, ab_fg, ab_bg)], 1)  # L is not trained on here

    def train_step(self, L, ab):
        with self.autocast():
            out = self.fused(L, ab).float()
        if self.generators is None:
            loss = fusion_loss(out, torch.cat([L, ab], 1), self.cfg.ssim_weight)
        else:
            loss = rebalanced_l1(out[:, 1:3], ab, self.weight_tables)
        self.backward(loss, self.opt)
        return {"loss": loss.item()}

    def predict(self, L, ab):
        return self.fused(L, ab)[:, 1:3]

    def modules(self):
        return {"F": self.F}

    def optimizers(self):
        return {"F": self.opt}

    def export_module(self):
        return self.F


STAGE_CLASSES = {"pretrain": PretrainStage, "gan": GanStage, "fusion": FusionStage}


def train(cfg: TrainConfig) -> dict:
    """Run one training stage (resuming from ``out_dir/last.pt`` when present)."""
    return STAGE_CLASSES[cfg.stage](cfg).run()

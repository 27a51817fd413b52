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
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .. import colorspace, metrics
from ..models.backbones import find_mobilenet_weights, load_imagenet_weights
from ..models.checkpoint import load_model, load_state, save_model, save_state
from ..models.config import DiscriminatorConfig, FusionConfig, GeneratorConfig
from ..models.discriminator import PatchGAN
from ..models.fusion import DenseFuse
from ..models.generator import ResUNet
from . import data
from .config import TrainConfig
from .losses import edge_loss, fusion_loss, lsgan_loss

log = logging.getLogger("paracolor.train")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def build_generator(cfg: TrainConfig) -> ResUNet:
    """A fresh generator (ImageNet encoder when available) or the ``init`` weights."""
    if cfg.init:
        return load_model(cfg.init, expect_kind="generator").train()
    gcfg = GeneratorConfig(
        encoder=cfg.encoder,
        decoder_channels=cfg.decoder_channels,
        attention_stride=cfg.attention_stride,
        encoder_width=cfg.encoder_width,
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

    #: validation key and direction used to keep the best checkpoint
    best_key, best_higher = "psnr", True

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.device = pick_device(cfg.device)
        self.out = Path(cfg.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        seed_everything(cfg.seed)
        self.amp_dtype = None
        if cfg.amp and self.device.type == "cuda":
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.step = 0
        self.epoch = 0
        self.best = None
        self.build()
        self.train_set = self.make_train_set()
        self.val_paths = data.list_photos(cfg.val_dirs)[: cfg.val_limit] if cfg.val_dirs else []

    # -- stage-specific parts -------------------------------------------------------------
    def build(self):
        raise NotImplementedError

    def make_train_set(self):
        return data.PhotoDataset(data.list_photos(self.cfg.train_dirs), self.cfg.size, True, self.cfg.seed)

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

    def accept_best(self, summary: dict) -> bool:
        return True

    # -- shared loop ----------------------------------------------------------------------
    def autocast(self):
        return torch.autocast("cuda", dtype=self.amp_dtype, enabled=self.amp_dtype is not None)

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
            "modules": {k: m.state_dict() for k, m in self.modules().items()},
            "optim": {k: o.state_dict() for k, o in self.optimizers().items()},
            "torch_rng": torch.get_rng_state(),
        }

    def load(self, state: dict):
        if state.get("stage") != self.cfg.stage:
            raise ValueError(f"{self.out / 'last.pt'}: state of stage {state.get('stage')!r}, not {self.cfg.stage!r}")
        for k, m in self.modules().items():
            m.load_state_dict(state["modules"][k])
        for k, o in self.optimizers().items():
            o.load_state_dict(state["optim"][k])
        self.step, self.epoch, self.best = int(state["step"]), int(state["epoch"]), state["best"]
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
        preds, refs = [], []
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
        for m in self.modules().values():
            m.train()
        return metrics.summarize(preds, refs)

    def is_better(self, summary: dict) -> bool:
        if not summary or not self.accept_best(summary):
            return False
        value = summary[self.best_key]
        if self.best is None:
            return True
        return value > self.best if self.best_higher else value < self.best

    def checkpoint(self, summary: dict):
        meta = {"stage": self.cfg.stage, "role": self.cfg.role, "epoch": self.epoch, "step": self.step}
        save_model(self.out / "last.safetensors", self.export_module(), meta=meta)
        if self.is_better(summary):
            self.best = summary[self.best_key]
            save_model(self.out / "best.safetensors", self.export_module(), meta={**meta, **summary})
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
            bar = tqdm(loader, desc=f"{cfg.stage}/{cfg.role} epoch {self.epoch + 1}/{cfg.epochs}", disable=not cfg.progress, leave=False)
            t0, seen = time.perf_counter(), 0
            for L, ab in bar:
                L, ab = L.to(self.device, non_blocking=True), ab.to(self.device, non_blocking=True)
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
        self.G = build_generator(self.cfg).to(self.device).train()
        self.opt = torch.optim.Adam(self.G.parameters(), lr=self.cfg.lr, betas=self.cfg.betas)

    def make_train_set(self):
        paths = data.list_photos(self.cfg.train_dirs)
        if self.cfg.role == "fg":
            return data.foreground_dataset(paths, self.cfg.size, self.cfg.seed, self.cfg.boxes_json, self.cfg.image_root)
        return data.PhotoDataset(paths, self.cfg.size, True, self.cfg.seed)

    def train_step(self, L, ab):
        with self.autocast():
            loss = F.l1_loss(self.G(L).float(), ab)
        self.backward(loss, self.opt)
        return {"l1": loss.item()}

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

    best_key, best_higher = "colourfulness_gap", False

    def build(self):
        super().build()
        self.D = PatchGAN(DiscriminatorConfig(base_channels=self.cfg.disc_channels)).to(self.device).train()
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=self.cfg.lr, betas=self.cfg.betas)
        self.grey_psnr = None

    def train_step(self, L, ab):
        cfg = self.cfg
        with self.autocast():
            fake = self.G(L)
            d_real = self.D(torch.cat([L, ab], 1))
            d_fake = self.D(torch.cat([L, fake.detach()], 1))
            loss_d = 0.5 * (lsgan_loss(d_real.float(), True) + lsgan_loss(d_fake.float(), False))
        self.backward(loss_d, self.opt_d)
        with self.autocast():
            adv = lsgan_loss(self.D(torch.cat([L, fake], 1)).float(), True)
            l1 = F.l1_loss(fake.float(), ab)
            loss_g = cfg.gan_weight * adv + cfg.l1_weight * l1
            edge = edge_loss(fake.float(), ab) if cfg.edge_weight else torch.zeros((), device=L.device)
            loss_g = loss_g + cfg.edge_weight * edge
        self.backward(loss_g, self.opt)
        return {"d": loss_d.item(), "adv": adv.item(), "l1": l1.item(), "edge": edge.item()}

    def validate(self):
        summary = super().validate()
        if summary and self.grey_psnr is None:
            # the grey baseline (ab = 0) on the same images: a GAN epoch only counts as "best"
            # if its PSNR is within best_psnr_margin of grey, so colour noise cannot win on
            # colourfulness alone
            val = data.PhotoDataset(self.val_paths, self.cfg.size, train=False)
            greys, refs = [], []
            for i in range(len(val)):
                Ln, abn = (t.numpy() for t in val[i])
                greys.append(colorspace.net_to_rgb(Ln, np.zeros_like(abn)))
                refs.append(colorspace.net_to_rgb(Ln, abn))
            self.grey_psnr = metrics.summarize(greys, refs)["psnr"]
        if summary:
            summary["grey_psnr"] = self.grey_psnr
        return summary

    def accept_best(self, summary):
        return summary["psnr"] >= summary["grey_psnr"] - self.cfg.best_psnr_margin

    def modules(self):
        return {"G": self.G, "D": self.D}

    def optimizers(self):
        return {"G": self.opt, "D": self.opt_d}


class FusionStage(Stage):
    """Stage 3: the DenseFuse autoencoder reconstructs colour photos (MSE + SSIM).

    Training passes each image through the fusion step paired with itself
    (decode(fuse(enc(x), enc(x)))), so the decoder learns the feature statistics the fusion
    step produces at inference; for ``add`` these are twice a single encoding.
    """

    def build(self):
        self.F = DenseFuse(FusionConfig(strategy=self.cfg.fusion_strategy))
        if self.cfg.init:
            self.F = load_model(self.cfg.init, expect_kind="fusion")
        self.F = self.F.to(self.device).train()
        self.opt = torch.optim.Adam(self.F.parameters(), lr=self.cfg.lr, betas=self.cfg.betas)

    def train_step(self, L, ab):
        x = torch.cat([L, ab], 1)
        with self.autocast():
            out = self.F.fuse(x, x).float()
        loss = fusion_loss(out, x, self.cfg.ssim_weight)
        self.backward(loss, self.opt)
        return {"loss": loss.item()}

    def predict(self, L, ab):
        x = torch.cat([L, ab], 1)
        return self.F.fuse(x, x)[:, 1:3]

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

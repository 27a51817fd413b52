"""Training configuration (one dataclass for the three stages)."""

from __future__ import annotations

from dataclasses import dataclass, field

STAGES = ("pretrain", "gan", "fusion")
ROLES = ("fg", "bg")
LR_SCHEDULES = ("constant", "cosine")
#: ``autoencoder``: DenseFuse's recipe (reconstruct x from fuse(enc(x), enc(x))), the paper's;
#: ``supervised``: fuse the two trained generators' actual outputs and learn the true colours
FUSION_MODES = ("autoencoder", "supervised")
#: best checkpoint by validation PSNR, or by the smallest colourfulness gap among epochs whose
#: PSNR is within ``best_psnr_margin`` of the grey baseline's, or the last epoch (the end of a
#: cosine schedule)
SELECTIONS = ("psnr", "gap", "last")

# The paper's optimiser settings: pre-training 1e-4 (0.9, 0.999); adversarial 2e-4 (0.5, 0.999).
# DenseFuse trains its autoencoder with Adam at 1e-4.
DEFAULT_OPTIM = {
    "pretrain": (1e-4, (0.9, 0.999)),
    "gan": (2e-4, (0.5, 0.999)),
    "fusion": (1e-4, (0.9, 0.999)),
}


@dataclass
class TrainConfig:
    """Everything one training stage needs; the CLI builds this from its options."""

    stage: str
    train_dirs: list[str]
    out_dir: str
    val_dirs: list[str] = field(default_factory=list)
    role: str = "fg"  # fg: attention + object crops + edge loss; bg: scenes, neither
    size: int = 256
    batch_size: int = 16
    epochs: int = 10
    max_steps: int | None = None  # stop early after this many optimiser steps in total
    lr: float | None = None
    betas: tuple[float, float] | None = None
    l1_weight: float = 100.0  # pix2pix's lambda for L1 in the adversarial stage
    gan_weight: float = 1.0
    edge_weight: float | None = None  # lambda1; default 1.0 for fg, 0 for bg
    ssim_weight: float = 1.0  # fusion: MSE + ssim_weight * (1 - SSIM)
    init: str | None = None  # generator weights to start from (the gan stage: pretrain's best)
    encoder: str = "mobilenet_v2"
    pretrained: str | None = "auto"  # ImageNet encoder file; "auto" finds the offline package
    encoder_width: float = 1.0
    decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16)
    attention_stride: int | None = None  # default 8 for fg, 0 for bg
    head: str = "regression"  # or "classes": logits over ab bins, annealed-mean decoding
    head_stride: int = 1
    upsample: str = "bilinear"  # or "aligned" (see models.config.UPSAMPLES)
    temperature: float = 0.38  # annealed mean of the classes head
    #: class rebalancing (Zhang et al.): lambda of the prior mix, None = off (the paper);
    #: weights the classes head's cross-entropy, the L1 of a regression head or of fusion
    rebalance: float | None = None
    lr_schedule: str = "constant"
    select: str | None = None  # psnr or gap; default by stage (see Stage.selection)
    disc_channels: int = 64
    fusion_strategy: str = "add"
    fusion_mode: str = "autoencoder"
    fusion_output: str = "image"  # image (the paper) or residual (a correction to the 0.5 blend)
    fusion_fg: str | None = None  # supervised fusion: the trained generators it fuses
    fusion_bg: str | None = None
    boxes_json: str | None = None
    image_root: str | None = None
    #: smallest area share of a random training crop (largest: the whole photo); 1 trains on whole
    #: photos, the framing inference sees (a last phase that fixes the train/test scale gap)
    crop_scale: float = 0.35
    object_crops: bool = True  # fg: object crops beside the photos (the paper's foreground set)
    seed: int = 0
    workers: int = 2
    device: str = "auto"
    amp: bool = True  # mixed precision: CUDA, and bf16 on CPUs with native bf16 (AMX, AVX512-BF16)
    threads: int | None = None  # torch CPU threads (None: torch's default)
    val_limit: int = 50
    #: GAN stage: an epoch can be "best" (lowest colourfulness gap) only if its PSNR is at most
    #: this many dB below the grey baseline's; plausible colour costs a little PSNR, noise a lot
    best_psnr_margin: float = 1.0
    resume: bool = True
    progress: bool = True

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError(f"unknown stage {self.stage!r}; choose from {STAGES}")
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; choose from {ROLES}")
        lr, betas = DEFAULT_OPTIM[self.stage]
        self.lr = lr if self.lr is None else self.lr
        self.betas = tuple(betas if self.betas is None else self.betas)
        if self.edge_weight is None:
            self.edge_weight = 1.0 if self.role == "fg" and self.stage == "gan" else 0.0
        if self.attention_stride is None:
            self.attention_stride = 8 if self.role == "fg" else 0
        for name, value, allowed in (("lr_schedule", self.lr_schedule, LR_SCHEDULES), ("fusion_mode", self.fusion_mode, FUSION_MODES)):
            if value not in allowed:
                raise ValueError(f"unknown {name} {value!r}; choose from {allowed}")
        if self.select is not None and self.select not in SELECTIONS:
            raise ValueError(f"unknown select {self.select!r}; choose from {SELECTIONS}")
        if self.stage == "fusion" and self.fusion_mode == "supervised" and not (self.fusion_fg and self.fusion_bg):
            raise ValueError("supervised fusion needs the fg and bg generator weights it fuses")
        if self.stage == "fusion" and self.fusion_output == "residual" and self.fusion_mode != "supervised":
            # fused with itself, an image's mean ab is its own ab: the correction would learn nothing
            raise ValueError("the residual fusion output needs supervised fusion (--mode supervised)")
        if self.rebalance is not None and not 0.0 < self.rebalance <= 1.0:
            raise ValueError(f"rebalance (lambda) must be in (0, 1], got {self.rebalance}")
        if not 0.0 < self.crop_scale <= 1.0:
            raise ValueError(f"crop_scale must be in (0, 1], got {self.crop_scale}")
        if self.size % 32:
            raise ValueError(f"size must be a multiple of 32, got {self.size}")

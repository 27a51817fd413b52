"""Accuracy of a converted model against the FP32 reference on real photos.

Both sides run the whole pipeline (fg || bg -> fusion -> full-resolution merge) through the
engine's runner interface, so the figures describe what a user gets: ab errors in Lab units
(max and mean absolute), PSNR and SSIM of the final RGB, and the colourfulness change.
"""

from __future__ import annotations

import numpy as np

from .. import colorspace, metrics, progress
from ..choices import ROLES
from ..errors import ConfigError
from ..engine.backends.base import Runner
from ..engine.backends.cpu_scheduler import StageScheduler
from ..engine.io import find_images, read_image
from ..engine.modelfolder import ModelError, ModelFolder
from ..engine.pipeline import Colorizer, EngineConfig


def reference_runners(model_dir, device: str = "cpu") -> tuple[dict[str, Runner], str]:
    """FP32 PyTorch runners from the folder's checkpoints, else the FP32 ONNX graphs."""
    from ..engine.backends import onnxruntime

    folder = ModelFolder.load(model_dir)
    try:
        from ..engine.backends.torch import TorchRunner

        return {r: TorchRunner.from_folder(folder, r, "fp32", device) for r in ROLES}, "pytorch-fp32"
    except (ImportError, ModelError):  # no torch here, or no checkpoints in the folder
        return onnxruntime.runners(folder, EngineConfig(model_dir=str(folder.root), backend="onnxruntime")), "onnxruntime-fp32"


def compare(model_dir, candidate: dict[str, Runner], reference: dict[str, Runner], images, size: int, limit: int = 100, batch: int = 8) -> dict:
    """Run both runner sets over up to ``limit`` photos and summarise the differences."""
    paths = [p for p, _ in find_images(images)][:limit]
    if not paths:
        raise ConfigError(f"no images found in {images}")
    cfg = EngineConfig(model_dir=str(model_dir), size=size, schedule="sequential")

    def colorizer(r: dict[str, Runner]) -> Colorizer:
        return Colorizer(cfg, StageScheduler(r["fg"], r["bg"], r["fusion"], "sequential"))

    cand, ref = colorizer(candidate), colorizer(reference)
    ab_max, ab_abs, psnrs, ssims, cf_c, cf_r = 0.0, [], [], [], [], []
    bar = progress.bar(total=len(paths), desc="verify", unit="img", leave=False)
    for i in range(0, len(paths), batch):
        prepared = [cand.prepare(read_image(p)) for p in paths[i : i + batch]]
        L = np.stack([p.L_net for p in prepared])
        out_c, out_r = cand.infer(L)["ab"], ref.infer(L)["ab"]
        diff = np.abs(colorspace.net_to_ab(out_c) - colorspace.net_to_ab(out_r))
        ab_max = max(ab_max, float(diff.max()))
        ab_abs.append(float(diff.mean()))
        for k, prep in enumerate(prepared):
            img_c = Colorizer.finish(prep, out_c[k])[..., ::-1]
            img_r = Colorizer.finish(prep, out_r[k])[..., ::-1]
            psnrs.append(metrics.psnr(img_c, img_r))
            ssims.append(metrics.ssim(img_c, img_r))
            cf_c.append(metrics.colourfulness(img_c))
            cf_r.append(metrics.colourfulness(img_r))
        bar.update(len(prepared))
    bar.close()
    finite = [p for p in psnrs if np.isfinite(p)]
    return {
        "images": len(paths),
        "ab_max_abs": ab_max,
        "ab_mean_abs": float(np.mean(ab_abs)),
        "psnr_rgb_db": float(np.mean(finite)) if finite else float("inf"),
        "psnr_rgb_min_db": float(np.min(finite)) if finite else float("inf"),
        "ssim_rgb": float(np.mean(ssims)),
        "colourfulness": float(np.mean(cf_c)),
        "colourfulness_reference": float(np.mean(cf_r)),
        "colourfulness_change": float(np.mean(cf_c) - np.mean(cf_r)),
    }

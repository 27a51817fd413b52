"""Diagnostic: split the residual fusion's correction (fused ab minus the 0.5 blend) into its per-image
mean (a global colour cast) and the rest; write full-size outputs for the fused output, the blend, the
blend plus the cast only, and the blend plus the correction without its cast, each to score with
``paracolor evaluate PHOTOS --predictions OUT/<variant>``.

Usage: python correction_parts.py MODEL_DIR PHOTOS OUT
"""

import os
import sys
from pathlib import Path

import cv2
import numpy as np

from paracolor.engine.io import find_images, read_image
from paracolor.engine.pipeline import Colorizer, EngineConfig

model, photos, out = sys.argv[1], sys.argv[2], sys.argv[3]
variants = {
    "full": lambda bl, c: bl + c,
    "blend": lambda bl, c: bl,
    "nocast": lambda bl, c: bl + c - c.mean((1, 2), keepdims=True),
    "castonly": lambda bl, c: bl + c.mean((1, 2), keepdims=True),
}
for v in variants:
    os.makedirs(f"{out}/{v}", exist_ok=True)
with Colorizer(EngineConfig(model_dir=model, size=256, threads=1)) as c:
    for p, _ in find_images([photos]):
        prep = c.prepare(read_image(p))
        o = c.infer(prep.L_net[None])
        bl = 0.5 * (o["ab_fg"][0] + o["ab_bg"][0])
        corr = o["ab"][0] - bl
        for v, f in variants.items():
            bgr = Colorizer.finish(prep, np.clip(f(bl, corr), -1, 1).astype(np.float32))
            cv2.imwrite(f"{out}/{v}/{Path(p).stem}.png", bgr)

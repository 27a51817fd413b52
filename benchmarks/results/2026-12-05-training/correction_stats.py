"""Mean and spread of the residual fusion's correction (fused ab minus the 0.5 blend, in Lab units)
on the first N photos of each validation set, with model 7's generators (runs/v8 fg4, bg5); writes
/tmp/corr.png (blend | fused | 10x the correction's magnitude) for four scene photos.

Usage: python correction_stats.py FUSION_CHECKPOINT N
"""

import glob
import sys

import cv2
import numpy as np
import torch

from paracolor import colorspace
from paracolor.models.checkpoint import load_model


def to_bgr8(L, ab):
    return (np.clip(colorspace.net_to_rgb(L, ab), 0, 1) * 255).astype(np.uint8)[..., ::-1]


torch.set_num_threads(1)
fg = load_model("runs/v8/fg4/shipped.safetensors", expect_kind="generator").eval()
bg = load_model("runs/v8/bg4/shipped.safetensors", expect_kind="generator").eval()
fusion = load_model(sys.argv[1], expect_kind="fusion").eval()
rows = []
for s in ("scenes", "objects", "coco"):
    stats = []
    for i, f in enumerate(sorted(glob.glob(f"../shared/data/val/{s}/*"))[: int(sys.argv[2])]):
        rgb = cv2.resize(cv2.imread(f)[..., ::-1].astype(np.float32) / 255, (256, 256), interpolation=cv2.INTER_AREA)
        L, _ = colorspace.rgb_to_net(rgb)
        Lt = torch.from_numpy(L)[None]
        with torch.no_grad():
            a1, a2 = fg(Lt), bg(Lt)
            out = fusion.fuse_ab(Lt, a1, a2)
        blend = (a1 + a2) / 2
        corr = (out - blend)[0].numpy() * 110  # network scale -> Lab units
        stats.append([corr[0].mean(), corr[1].mean(), np.abs(corr).mean(), np.hypot(*corr).std()])
        if s == "scenes" and i < 4:
            vis = cv2.cvtColor(np.clip(np.hypot(*corr) * 10, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
            rows.append(np.hstack([to_bgr8(L, blend[0].numpy()), to_bgr8(L, out[0].numpy()), vis]))
    print(s, "correction mean a %.2f b %.2f  mean |corr| %.2f  spatial std of |corr| %.2f" % tuple(np.mean(stats, 0)))
cv2.imwrite("/tmp/corr.png", np.vstack(rows))

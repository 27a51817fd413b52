"""Mean gate weight given to fg (w) by the gate fusion on val photos: objects vs scenes vs coco."""
import glob
import sys

import cv2
import numpy as np
import torch

from paracolor import colorspace as cs
from paracolor.models.checkpoint import load_model

torch.set_num_threads(1)
fus = load_model(sys.argv[1], expect_kind="fusion").eval()
fg = load_model("runs/v3/fg3/shipped.safetensors", expect_kind="generator").eval()
bg = load_model("runs/v3/bg3/shipped.safetensors", expect_kind="generator").eval()
for s in ("objects", "scenes", "coco"):
    ws = []
    for p in sorted(glob.glob(f"../shared/data/val/{s}/*"))[:20]:
        img = cv2.resize(cv2.imread(p), (256, 256), interpolation=cv2.INTER_AREA)
        L_net, _ = cs.rgb_to_net(img[..., ::-1].astype(np.float32) / 255)
        L = torch.from_numpy(L_net[None])
        with torch.no_grad():
            a, b = fg(L), bg(L)
            f1, f2 = fus.encode(torch.cat([L, a], 1)), fus.encode(torch.cat([L, b], 1))
            ws.append(fus.gate(f1, f2).mean().item())
    print(s, "mean w(fg) %.3f  min %.3f max %.3f" % (np.mean(ws), np.min(ws), np.max(ws)))

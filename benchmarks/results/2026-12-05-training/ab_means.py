"""Mean a, b and chroma (Lab units) of fg, bg, the fused ab and the truth over the first N photos of
a folder, at 256 px, through the engine (the bundled model or a model folder).

Usage: python ab_means.py MODEL_DIR PHOTOS N
"""

import glob
import sys

import cv2
import numpy as np

from paracolor import colorspace
from paracolor.engine.pipeline import Colorizer, EngineConfig

model, folder, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
acc = {}
with Colorizer(EngineConfig(model_dir=model, size=256, threads=1)) as c:
    for f in sorted(glob.glob(folder + "/*"))[:n]:
        rgb = cv2.resize(cv2.imread(f)[..., ::-1].astype(np.float32) / 255.0, (256, 256), interpolation=cv2.INTER_AREA)
        L, ab_true = colorspace.rgb_to_net(rgb)
        out = c.infer(L[None].astype(np.float32))
        planes = {k: colorspace.net_to_ab(v[0]) for k, v in out.items()}
        planes["truth"] = colorspace.net_to_ab(ab_true)
        for k, v in planes.items():
            v = v.reshape(2, -1)
            acc.setdefault(k, []).append([v[0].mean(), v[1].mean(), np.hypot(v[0], v[1]).mean()])
for k, v in acc.items():
    a, b, chroma = np.mean(v, 0)
    print(f"{k:8s} a {a:6.2f} b {b:6.2f} chroma {chroma:6.2f}")

"""Make the flicker-measurement clip from the shared photos: slow pans and zooms over each photo
(one shot per photo, hard cuts between them), light film grain, a mono tone for audio.

The photos are research-licensed, so the clip is made on each machine and never committed:

    python benchmarks/flicker_clip.py ../shared/data/fullres/colour -o /tmp/flicker.mp4
    paracolor evaluate /tmp/flicker.mp4 -o /tmp/flicker-eval --no-fid
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from paracolor.bench.video import mux_tone


def shot(photo: np.ndarray, n: int, w: int, h: int, kind: int, rng) -> list[np.ndarray]:
    """``n`` frames of a w x h window moving over ``photo``: a pan (even shots) or a zoom (odd)."""
    H, W = photo.shape[:2]
    base = min(W / w, H / h)  # the largest window of the output's aspect that fits
    out = []
    for i in range(n):
        t = i / max(1, n - 1)
        if kind % 2 == 0:  # pan from one side to the other at 90 % of the full view
            s = 0.9 * base
            cx = s * w / 2 + t * (W - s * w) if kind % 4 == 0 else W - s * w / 2 - t * (W - s * w)
            cy = H / 2
        else:  # zoom in from the full view to 70 %
            s = base * (1.0 - 0.3 * t)
            cx, cy = W / 2, H / 2
        m = np.float32([[s, 0, cx - s * w / 2], [0, s, cy - s * h / 2]])
        out.append(cv2.warpAffine(photo, m, (w, h), flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photos", type=Path, help="folder of large photos (e.g. ../shared/data/fullres/colour)")
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("--shots", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=2.0, help="per shot")
    ap.add_argument("--fps", type=int, default=24)
    ap.add_argument("--size", default="320x240")
    ap.add_argument("--grain", type=float, default=3.0, help="std of per-frame Gaussian grain (8-bit levels)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    import av

    w, h = map(int, args.size.split("x"))
    files = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[: args.shots]
    if len(files) < args.shots:
        raise SystemExit(f"{args.photos}: {len(files)} photos, {args.shots} shots asked")
    rng = np.random.default_rng(args.seed)
    n = round(args.seconds * args.fps)
    tb = Fraction(1, args.fps)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(args.output), "w") as out:
        vs = out.add_stream("libx264", rate=args.fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.codec_context.options = {"crf": "16"}
        au = out.add_stream("aac", rate=48000, layout="mono")
        k = 0
        for j, f in enumerate(files):
            photo = cv2.imread(str(f), cv2.IMREAD_COLOR)[..., ::-1]
            for fr in shot(photo, n, w, h, j, rng):
                g = np.clip(fr.astype(np.float32) + rng.normal(0, args.grain, fr.shape[:2])[..., None], 0, 255).astype(np.uint8)
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(g), format="rgb24")
                vf.pts, vf.time_base = k, tb
                for p in vs.encode(vf):
                    out.mux(p)
                k += 1
        for p in vs.encode(None):
            out.mux(p)
        mux_tone(out, au, seconds=k / args.fps, hz=220, channels=1)
    print(f"{args.output}: {k} frames ({len(files)} shots of {n}), {w}x{h} at {args.fps} fps, with audio")


if __name__ == "__main__":
    main()

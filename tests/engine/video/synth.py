"""Synthetic test videos made with PyAV: a textured scene that pans, optional cut, audio track."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np


def scene(w: int, h: int, seed: int) -> np.ndarray:
    """A smooth grey texture with a few discs, larger than the frame so it can pan (uint8)."""
    rng = np.random.default_rng(seed)
    H, W = 2 * h, 2 * w
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    img = 128 + 50 * np.sin(xx / (5 + 4 * rng.random()) + rng.random() * 6) * np.cos(yy / (7 + 4 * rng.random()))
    for _ in range(4):
        cy, cx, r = rng.uniform(0, H), rng.uniform(0, W), rng.uniform(h / 8, h / 3)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(20, 235)
    return np.clip(img, 0, 255).astype(np.uint8)


def frames(n: int, w: int, h: int, *, cut_at: int | None = None, pan: float = 1.0, noise: float = 0.0, seed: int = 0, colour: bool = False):
    """``n`` RGB frames: a pan over one scene, switching to another scene at ``cut_at``."""
    rng = np.random.default_rng(seed + 100)
    scenes = [scene(w, h, seed), scene(w, h, seed + 1)]
    out = []
    for i in range(n):
        k = 1 if cut_at is not None and i >= cut_at else 0
        j = i - (cut_at if k else 0)
        x0, y0 = int(round(j * pan)) % w, int(round(j * pan * 0.5)) % h
        g = scenes[k][y0 : y0 + h, x0 : x0 + w].astype(np.float32)
        if noise:
            g = g + rng.normal(0, noise, g.shape)
        g = np.clip(g, 0, 255).astype(np.uint8)
        rgb = np.repeat(g[..., None], 3, axis=2)
        if colour:
            rgb[..., 0] = np.clip(rgb[..., 0].astype(int) + 40, 0, 255)
        out.append(rgb)
    return out


def write_video(path: Path, rgb_frames, *, fps: int = 24, codec: str = "libx264", pix_fmt: str = "yuv420p", audio: bool = True,
                pts: list[int] | None = None, time_base: Fraction | None = None, sar: Fraction | None = None, crf: int = 10, subtitles: bool = False,
                rotation: int = 0, bt709: bool = False, audio_codec: str = "aac") -> Path:
    """Encode frames (and a 440 Hz stereo AAC tone over the same duration) into ``path``."""
    import av

    h, w = rgb_frames[0].shape[:2]
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, pix_fmt
        tb = time_base or Fraction(1, fps * 100)
        vs.time_base = tb
        vs.codec_context.time_base = tb
        if sar:
            vs.codec_context.sample_aspect_ratio = sar
        if rotation:
            vs.set_display_rotation(rotation)
        if bt709:  # an HD source tagged as such (the frames converted with that matrix)
            cc = vs.codec_context
            cc.colorspace = cc.color_primaries = cc.color_trc = 1
            cc.color_range = 1
        if codec == "libx264":
            vs.codec_context.options = {"crf": str(crf), "preset": "ultrafast"}
        a = None
        if audio:
            a = out.add_stream(audio_codec, rate=48000, layout="stereo")
        if subtitles:  # remuxed from an .srt file (FFmpeg's subtitle encoders want more setup)
            srt = path.with_suffix(".srt")
            srt.write_text("1\n00:00:00,100 --> 00:00:00,400\nfirst line\n\n2\n00:00:00,500 --> 00:00:00,900\nsecond line\n\n")
            with av.open(str(srt)) as sin:
                ss = out.add_stream_from_template(sin.streams[0])
                for p in sin.demux():
                    if p.size:
                        p.stream = ss
                        out.mux(p)
        for i, rgb in enumerate(rgb_frames):
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            if bt709:
                f = f.reformat(format=pix_fmt, dst_colorspace="ITU709", dst_color_range=1)
            f.pts = pts[i] if pts is not None else round(i / fps / tb)
            f.time_base = tb
            for p in vs.encode(f):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)
        if a is not None:
            dur = (pts[-1] * tb + Fraction(1, fps)) if pts is not None else Fraction(len(rgb_frames), fps)
            n = int(dur * 48000)
            t = np.arange(n) / 48000.0
            tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            stereo = np.stack([tone, tone])
            for k in range(0, n, 1024):
                chunk = stereo[:, k : k + 1024]
                if audio_codec.startswith("pcm_s16"):  # packed 16-bit samples
                    af = av.AudioFrame.from_ndarray(np.ascontiguousarray((chunk.T.reshape(1, -1) * 32000).astype(np.int16)), format="s16", layout="stereo")
                else:
                    af = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="stereo")
                af.sample_rate = 48000
                af.pts = k
                for p in a.encode(af):
                    out.mux(p)
            for p in a.encode(None):
                out.mux(p)
    return path

"""Video containers: decode and re-encode keep frames, timestamps, size, aspect, audio, subtitles."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

pytest.importorskip("av")

from paracolor.engine.video.container import VideoError, VideoOptions, VideoSink, VideoSource, is_video_path, output_container, parse_bitrate  # noqa: E402
from paracolor.errors import ConfigError, MissingDependency  # noqa: E402

from .synth import frames, write_video  # noqa: E402


def _copy(src, dst, muxer, opts=None):
    """Re-encode every frame unchanged through VideoSource -> VideoSink."""
    s = VideoSource(src)
    it = s.frames()
    sink = None
    for pts, rgb in it:
        sink = sink or VideoSink(s, dst, muxer, opts or VideoOptions())
        sink.write(np.ascontiguousarray(rgb[..., ::-1]), pts)
    sink.finish()
    s.close()
    return sink


def _probe(path):
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        pts = [float(f.pts * v.time_base) for f in c.decode(v)]
        info = {"pts": pts, "size": (v.codec_context.width, v.codec_context.height), "sar": v.sample_aspect_ratio, "types": [s.type for s in c.streams]}
    packets = {}
    for kind in ("audio", "subtitle"):
        with av.open(str(path)) as c:  # one reader per stream: demuxing reads the file through
            st = [s for s in c.streams if s.type == kind]
            if st:
                packets[kind] = [(bytes(p), float(p.pts * p.time_base)) for p in c.demux(st[0]) if p.size]
    return info, packets


def test_recognised_by_container():
    assert all(is_video_path(f"a{e}") for e in (".mp4", ".MKV", ".mov", ".avi", ".webm"))
    assert not is_video_path("a.jpg")
    assert output_container(type(__import__("pathlib").Path())("x.webm")) == ("webm", ".webm")
    assert output_container(__import__("pathlib").Path("x.ogv")) == ("matroska", ".mkv")  # a container H.264 cannot go in


def test_variable_rate_timestamps_size_aspect_and_audio_kept(tmp_path):
    # variable frame rate: a longer gap every 7th frame; non-square pixels
    pts = [round(i * 1000 / 24) + (i // 7) * 13 for i in range(30)]
    src = write_video(tmp_path / "src.mp4", frames(30, 96, 64), pts=pts, time_base=Fraction(1, 1000), sar=Fraction(4, 3))
    _copy(src, tmp_path / "out.mp4", "mp4")
    a, pa = _probe(src)
    b, pb = _probe(tmp_path / "out.mp4")
    assert len(b["pts"]) == 30
    assert b["pts"] == pytest.approx(a["pts"], abs=1e-3)
    assert b["size"] == (96, 64) and b["sar"] == Fraction(4, 3)
    assert pb["audio"] == pa["audio"]  # every audio packet, byte for byte, at its time


def test_colour_tags_kept_and_used(tmp_path):
    fr = frames(8, 64, 48, colour=True)
    src = write_video(tmp_path / "hd.mp4", fr, bt709=True, crf=0, audio=False)
    _copy(src, tmp_path / "out.mp4", "mp4", VideoOptions(crf=0, pix_fmt="yuv444p"))
    a, b = VideoSource(src), VideoSource(tmp_path / "out.mp4")
    assert a.colour == b.colour and a.colour["colorspace"] == 1 and a.colour["color_range"] == 1
    fa, fb = [f for _, f in a.frames()], [f for _, f in b.frames()]
    # decoded with the BT.709 matrix and re-encoded with it: the same picture (a 601/709 mix-up
    # would shift this colourful test pattern by several levels)
    assert np.mean([np.abs(x.astype(int) - y).mean() for x, y in zip(fa, fb)]) < 1.0


def test_display_rotation_kept(tmp_path):
    src = write_video(tmp_path / "phone.mp4", frames(6, 64, 48), rotation=90, audio=False)
    _copy(src, tmp_path / "out.mp4", "mp4")
    for path in (src, tmp_path / "out.mp4"):
        s = VideoSource(path)
        list(s.frames())
        assert s.rotation == 90, path  # frames stay as stored; the display matrix says turn them


@pytest.mark.parametrize("name, vcodec, acodec", [("a.avi", "mpeg4", "pcm_s16le"), ("b.mov", "libx264", "aac"), ("c.webm", "libvpx-vp9", "libopus"), ("d.ts", "libx264", "aac"), ("e.flv", "libx264", "aac")])
def test_containers_round_trip(tmp_path, name, vcodec, acodec):
    from paracolor.engine.video.container import output_container

    src = write_video(tmp_path / name, frames(20, 64, 48), codec=vcodec, audio_codec=acodec)
    muxer, ext = output_container(src)
    assert ext == (".mkv" if name.endswith(".avi") else src.suffix)  # AVI: see OUTPUT_CONTAINERS
    _copy(src, tmp_path / f"out{ext}", muxer, VideoOptions(codec="libvpx-vp9" if muxer == "webm" else None, crf=40))
    (a, pa), (b, pb) = _probe(src), _probe(tmp_path / f"out{ext}")
    assert len(b["pts"]) == 20 and [d for d, _ in pb["audio"]] == [d for d, _ in pa["audio"]]
    # MPEG-TS and FLV shift every stream alike (FFmpeg avoids negative timestamps there, and
    # the encoder's B-frames start below zero): the timing relative to the video is the source's
    rel = lambda info, packets: [round(t - info["pts"][0], 3) for _, t in packets["audio"]]
    assert rel(b, pb) == pytest.approx(rel(a, pa), abs=2e-3)
    assert [round(t - b["pts"][0], 3) for t in b["pts"]] == pytest.approx([round(t - a["pts"][0], 3) for t in a["pts"]], abs=2e-3)


def test_subtitles_copied_in_matroska(tmp_path):
    src = write_video(tmp_path / "src.mkv", frames(24, 64, 64), subtitles=True, audio=True)
    _copy(src, tmp_path / "out.mkv", "matroska")
    _, pa = _probe(src)
    info, pb = _probe(tmp_path / "out.mkv")
    assert info["types"] == ["video", "audio", "subtitle"]
    assert pb["subtitle"] == pa["subtitle"] and [t for t, _ in pb["subtitle"]] == [b"first line", b"second line"]
    assert pb["audio"] == pa["audio"]


def test_lossless_rgb_output_is_exact(tmp_path):
    fr = frames(12, 64, 48, colour=True)
    src = write_video(tmp_path / "src.mkv", fr, audio=False)
    s = VideoSource(src)
    decoded = [rgb for _, rgb in s.frames()]
    s.close()
    _copy(src, tmp_path / "out.mkv", "matroska", VideoOptions(codec="ffv1", pix_fmt="bgr0"))
    again = [rgb for _, rgb in VideoSource(tmp_path / "out.mkv").frames()]
    assert len(again) == 12 and all(np.array_equal(x, y) for x, y in zip(decoded, again))


def test_lossless_encoders_default_to_rgb(tmp_path):
    src = write_video(tmp_path / "src.mkv", frames(4, 64, 48, colour=True), audio=False)
    assert _copy(src, tmp_path / "o1.mkv", "matroska", VideoOptions(codec="ffv1")).pix_fmt == "bgr0"
    assert _copy(src, tmp_path / "o2.mkv", "matroska", VideoOptions(codec="libx264rgb", crf=0)).pix_fmt == "bgr24"
    a = [f for _, f in VideoSource(tmp_path / "o1.mkv").frames()]
    b = [f for _, f in VideoSource(tmp_path / "o2.mkv").frames()]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))  # both exact copies of the same frames


def test_odd_size_keeps_its_size(tmp_path):
    src = write_video(tmp_path / "src.mkv", frames(6, 63, 45), codec="ffv1", pix_fmt="yuv444p", audio=False)
    sink = _copy(src, tmp_path / "out.mkv", "matroska")
    assert sink.pix_fmt == "yuv444p"  # 4:2:0 needs even sizes
    assert _probe(tmp_path / "out.mkv")[0]["size"] == (63, 45)


@pytest.mark.parametrize("ext", [".mkv", ".mp4"])
def test_truncated_video_is_reported(tmp_path, ext):
    src = write_video(tmp_path / f"src{ext}", frames(40, 64, 48, noise=20), crf=0)
    data = src.read_bytes()
    cut = tmp_path / f"cut{ext}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError, match="truncated|corrupt|not a readable video") as e:
        s = VideoSource(cut)
        for _ in s.frames():
            pass
    assert str(cut) in str(e.value)


def test_not_a_video(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"this is not a video" * 10)
    with pytest.raises(VideoError, match="not a readable video"):
        VideoSource(bad)
    with pytest.raises(VideoError, match="no such file"):
        VideoSource(tmp_path / "missing.mp4")


def test_options_checked():
    with pytest.raises(ConfigError, match="not both"):
        VideoOptions(crf=18, bitrate="4M")
    with pytest.raises(ConfigError, match="bitrate"):
        VideoOptions(bitrate="fast")
    assert parse_bitrate("4M") == 4_000_000 and parse_bitrate("800k") == 800_000


def test_missing_pyav_names_the_extra(monkeypatch, tmp_path):
    import sys

    from paracolor.engine.video import container

    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(MissingDependency, match=r"pip install 'paracolor\[video\]'"):
        container.require_av()

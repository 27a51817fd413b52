"""The video job: frames, timestamps and audio kept; L is the source's; stabilization works on a
real engine (the tiny model); cuts, truncated files and Ctrl-C are handled."""

from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np
import pytest

pytest.importorskip("av")

from paracolor.engine.batch import ColorizeConfig, colorize_files  # noqa: E402
from paracolor.engine.pipeline import Colorizer, EngineConfig  # noqa: E402
from paracolor.engine.video.container import VideoOptions, VideoSource  # noqa: E402
from paracolor.engine.video.job import VideoConfig, split_inputs  # noqa: E402
from paracolor.engine.video.temporal import TemporalConfig  # noqa: E402
from tests.conftest import write_photo  # noqa: E402

from .synth import frames, write_video  # noqa: E402

LOSSLESS = VideoOptions(codec="ffv1", pix_fmt="bgr0")  # the pipeline's frames, exactly


@pytest.fixture(scope="module")
def colorizer(tiny_model_dir):
    with Colorizer(EngineConfig(model_dir=str(tiny_model_dir))) as c:
        yield c


def _run(inputs, out, colorizer, temporal=True, encode=None, **kw):
    cfg = ColorizeConfig(inputs=[str(i) for i in inputs], output_dir=str(out), engine=colorizer.cfg, progress=False,
                         video=VideoConfig(encode or VideoOptions(), TemporalConfig(enabled=temporal)), **kw)
    return colorize_files(cfg, colorizer)


def _decode(path):
    s = VideoSource(path)
    got = list(s.frames())
    s.close()
    return [p for p, _ in got], [f for _, f in got]


def _L8(rgb):
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)[..., 0].astype(np.int16)


def _ab(rgb):
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)[..., 1:].astype(np.float32)


def _audio(path):
    import av

    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]


def test_default_codec_keeps_frames_timestamps_audio_and_lightness(tmp_path, colorizer):
    pts = [round(i * 1000 / 25) + (i // 5) * 7 for i in range(24)]  # variable frame rate
    src = write_video(tmp_path / "clip.mp4", frames(24, 96, 64, colour=False), pts=pts, time_base=Fraction(1, 1000), sar=Fraction(8, 9))
    s = _run([src], tmp_path / "out", colorizer, batch_size=5)
    assert s.ok and len(s.done) == 1, s.to_dict()
    out = tmp_path / "out" / "clip.mp4"
    assert s.done[0]["frames"] == 24 and s.done[0]["output"] == str(out)
    p_in, f_in = _decode(src)
    p_out, f_out = _decode(out)
    src_info, out_info = VideoSource(src), VideoSource(out)
    assert [float(p * out_info.time_base) for p in p_out] == pytest.approx([float(p * src_info.time_base) for p in p_in], abs=1e-3)
    assert [float(p * src_info.time_base) for p in p_in] == pytest.approx([t / 1000 for t in pts], abs=1e-3)
    assert (out_info.width, out_info.height, out_info.sample_aspect_ratio) == (96, 64, Fraction(8, 9))
    assert _audio(out) == _audio(src)
    # 4:2:0 shares one chroma sample among 2x2 pixels, and a decoded pixel's L depends on its
    # chroma: on these small textured frames even lossless 4:2:0 (crf 0) moves L8 by 1.6 levels
    # on average (99th percentile 3, max 4); crf 18 adds the codec's loss (1.8 / 5 / 10 measured
    # here). 4:4:4 lossless: 0.3 / 1 / 2, and the RGB path below is exact.
    d = np.abs(np.stack([_L8(a) - _L8(b) for a, b in zip(f_in, f_out)]))
    assert d.mean() < 2.5 and np.percentile(d, 99) <= 8
    assert max(_ab(f).std() for f in f_out) > 0.5  # and it is colorized
    assert not list((tmp_path / "out").glob(".*"))  # no temporary file left


def test_lossless_output_has_the_source_lightness_exactly(tmp_path, colorizer):
    src = write_video(tmp_path / "clip.mkv", frames(16, 80, 64, cut_at=8), audio=True)
    s = _run([src], tmp_path / "out", colorizer, encode=LOSSLESS)
    assert s.ok, s.to_dict()
    _, f_in = _decode(src)
    _, f_out = _decode(tmp_path / "out" / "clip.mkv")
    assert len(f_out) == 16
    for a, b in zip(f_in, f_out):
        # the photo path's guarantee: the 8-bit L merged back, then one Lab->BGR conversion
        assert np.abs(_L8(a) - _L8(b)).max() <= 2


def _chroma_change(path):
    _, fr = _decode(path)
    abs_ = [_ab(f) for f in fr]
    return [float(np.abs(b - a).mean()) for a, b in zip(abs_, abs_[1:])], abs_


class Flickering(Colorizer):
    """The tiny random model's colour barely reacts to grain; a trained one's does. This adds
    what per-frame colorization does to a film: a different colour cast every frame."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.rng = np.random.default_rng(0)

    def collect(self, ticket):
        out = super().collect(ticket)
        n, _, h, w = out["ab"].shape
        cast = self.rng.normal(0, 0.05, (n, 2, 1, 1)) + 0.03 * self.rng.normal(0, 1, (n, 2, h, w))
        return {**out, "ab": (out["ab"] + cast).astype(np.float32)}


def test_stabilization_calms_a_static_shot_and_keeps_cuts(tmp_path, tiny_model_dir):
    # a static shot with film grain, then a cut to another shot
    fr = frames(30, 96, 64, pan=0.0, noise=8.0, cut_at=18)
    src = write_video(tmp_path / "grain.mkv", fr, codec="ffv1", pix_fmt="yuv444p", audio=False)
    cfg = EngineConfig(model_dir=str(tiny_model_dir))
    with Flickering(cfg) as c:
        on = _run([src], tmp_path / "on", c, encode=LOSSLESS)
    with Flickering(cfg) as c:  # the same casts, frame for frame
        off = _run([src], tmp_path / "off", c, temporal=False, encode=LOSSLESS)
    assert on.done[0]["cuts"] == [18] and off.done[0]["cuts"] == []
    c_on, ab_on = _chroma_change(tmp_path / "on" / "grain.mkv")
    c_off, ab_off = _chroma_change(tmp_path / "off" / "grain.mkv")
    steady = lambda c: np.mean(c[5:16] + c[23:])  # within each shot, past the first frames
    assert steady(c_off) > 0.3  # the per-frame output does flicker
    assert steady(c_on) < 0.5 * steady(c_off)
    # the first frame of the new shot is its own colour: nothing carried over the cut
    assert np.abs(ab_on[18] - ab_off[18]).max() <= 1.0
    assert np.abs(ab_on[17] - ab_off[17]).mean() > 0.05  # while before it the average was at work


def test_gpu_schedule_gives_the_cpu_frames(tmp_path, colorizer, tiny_model_dir):
    """One batch in flight (the GPU schedules) through the host CUDA layer: identical video."""
    from tests.engine.test_batch import _host_gpu

    cfg = EngineConfig(model_dir=str(tiny_model_dir))
    src = write_video(tmp_path / "clip.mkv", frames(13, 64, 64, pan=2), audio=True)
    with Colorizer(cfg, _host_gpu(cfg, max_batch=2)) as gpu:
        assert gpu.in_flight == 1
        _run([src], tmp_path / "gpu", gpu, encode=LOSSLESS, batch_size=4)
    _run([src], tmp_path / "cpu", colorizer, encode=LOSSLESS, batch_size=4)
    a, b = _decode(tmp_path / "cpu" / "clip.mkv")[1], _decode(tmp_path / "gpu" / "clip.mkv")[1]
    assert len(a) == 13 and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_truncated_and_bad_videos_are_reported_and_the_batch_goes_on(tmp_path, colorizer):
    good = write_video(tmp_path / "in" / "good.mkv", frames(10, 64, 48), audio=False)
    whole = write_video(tmp_path / "whole.mkv", frames(40, 64, 48, noise=20), crf=0, audio=False).read_bytes()
    (tmp_path / "in" / "cut.mkv").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "in" / "junk.mp4").write_bytes(b"\x00" * 500)
    write_photo(tmp_path / "in" / "photo.png", 40, 30)
    s = _run([tmp_path / "in"], tmp_path / "out", colorizer)
    failed = {d["path"].split("/")[-1]: d["reason"] for d in s.failed}
    assert set(failed) == {"cut.mkv", "junk.mp4"}
    assert "truncated" in failed["cut.mkv"] and "not a readable video" in failed["junk.mp4"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.mkv", "photo.png"]  # nothing half-written
    assert str(good) in [d["path"] for d in s.done]


class Interrupting(Colorizer):
    """Raises KeyboardInterrupt at the n-th batch, as Ctrl-C would arrive mid-video."""

    def __init__(self, cfg, n):
        super().__init__(cfg)
        self.n = n

    def submit(self, L_batch):
        self.n -= 1
        if self.n == 0:
            raise KeyboardInterrupt
        return super().submit(L_batch)


def test_interrupt_leaves_no_partial_output_and_resume_restarts(tmp_path, tiny_model_dir, colorizer):
    src = write_video(tmp_path / "film.mp4", frames(40, 64, 48, pan=1), audio=True)
    with Interrupting(EngineConfig(model_dir=str(tiny_model_dir)), n=4) as c:
        s = _run([src], tmp_path / "out", c, batch_size=4)
    assert s.interrupted and not s.done
    assert list((tmp_path / "out").iterdir()) == []  # no clip, no hidden temporary file
    stale = tmp_path / "out" / ".film.mp4.x1.partial"  # what a killed (SIGKILL) run leaves
    stale.write_bytes(b"half")
    s = _run([src], tmp_path / "out", colorizer, resume=True)
    assert s.ok and s.done[0]["frames"] == 40
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["film.mp4"]
    s = _run([src], tmp_path / "out", colorizer, resume=True)
    assert s.skipped[0]["reason"] == "already done (resume)"


def test_inputs_are_split_by_container(tmp_path):
    write_video(tmp_path / "d" / "a.mp4", frames(2, 32, 32), audio=False)
    write_photo(tmp_path / "d" / "b.png", 20, 20)
    write_video(tmp_path / "v" / "c.mkv", frames(2, 32, 32), audio=False)
    videos, rest = split_inputs([tmp_path / "d", tmp_path / "v", tmp_path / "v" / "c.mkv", str(tmp_path / "d" / "*.mp4"), tmp_path / "nope"])
    assert [p.name for p, _ in videos] == ["a.mp4", "c.mkv"]
    assert rest == [str(tmp_path / "d"), str(tmp_path / "nope")]  # photos' folder; the missing path is reported there


def test_cli_colorizes_a_video(tmp_path, tiny_model_dir):
    from click.testing import CliRunner

    from paracolor.cli import main

    src = write_video(tmp_path / "clip.webm", frames(8, 64, 48), codec="libvpx-vp9", audio=False)
    res = CliRunner().invoke(main, ["colorize", str(src), "-o", str(tmp_path / "out"), "--model", str(tiny_model_dir), "--quiet", "--temporal", "off", "--crf", "40"])
    assert res.exit_code == 0, res.output
    out = VideoSource(tmp_path / "out" / "clip.webm")
    assert out.stream.codec_context.name == "vp9" and len(list(out.frames())) == 8
    res = CliRunner().invoke(main, ["colorize", str(src), "-o", str(tmp_path / "o2"), "--model", str(tiny_model_dir), "--video-codec", "nonesuch"])
    assert res.exit_code == 1 and "no such encoder" in res.output


def test_cli_writes_one_video_to_the_file_o_names(tmp_path, tiny_model_dir):
    """`colorize clip.mp4 -o colour.mkv` writes that file (a Matroska one), as -o result.png does
    for one photo; an image name for a video's output is refused with the reason."""
    from click.testing import CliRunner

    from paracolor.cli import main

    src = write_video(tmp_path / "clip.mp4", frames(6, 64, 48), audio=True)
    before = src.read_bytes()
    target = tmp_path / "films" / "colour.mkv"
    target.parent.mkdir()
    res = CliRunner().invoke(main, ["colorize", str(src), "-o", str(target), "--model", str(tiny_model_dir), "-q", "--temporal", "off"])
    assert res.exit_code == 0, res.output
    out = VideoSource(target)
    assert out.container.format.name.startswith("matroska") and len(list(out.frames())) == 6
    out.close()
    assert sorted(p.name for p in target.parent.iterdir()) == ["colour.mkv"] and src.read_bytes() == before
    res = CliRunner().invoke(main, ["colorize", str(src), "-o", str(tmp_path / "still.png"), "--model", str(tiny_model_dir), "-q"])
    assert res.exit_code == 1 and "is a video" in res.output and not (tmp_path / "still.png").exists()


def test_o_equal_to_the_input_folder_colorizes_its_videos_once(tmp_path, colorizer):
    """-o the input folder itself (with --suffix): its videos are colorized, and a re-run passes
    over this run's own outputs instead of colorizing them again."""
    vids = tmp_path / "vids"
    write_video(vids / "clip.mp4", frames(4, 32, 32), audio=False)
    first = _run([vids], vids, colorizer, temporal=False, suffix="_c")
    assert [d["output"] for d in first.done] == [str(vids / "clip_c.mp4")]
    again = _run([vids], vids, colorizer, temporal=False, suffix="_c", resume=True)
    assert not again.done and not again.failed
    assert any("not colorized again" in s["reason"] for s in again.skipped)


def test_report_never_replaces_a_video_output(tmp_path, colorizer):
    vids = tmp_path / "vids"
    write_video(vids / "clip.mp4", frames(3, 32, 32), audio=False)
    out = tmp_path / "out"
    summary = _run([vids], out, colorizer, temporal=False, report=str(out / "clip.mp4"))
    assert not summary.done and "the --report file" in summary.failed[0]["reason"]

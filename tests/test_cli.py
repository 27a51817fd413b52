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

"""The CLI bad-input matrix, second round: one test per defect class of issue 18.

Every case runs ``paracolor colorize`` through click and checks the exit status, the reason
given per file, that no input changed (hashed before and after) and that no temporary file is
left in the output folder. docs/reliability.md maps each class to its test here.
"""

import hashlib
import io
import json
import os
import shutil
import signal
import time
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import paracolor.engine.batch as batch
from paracolor.cli import main
from paracolor.engine.io import max_file_bytes
from paracolor.engine.outfolder import FolderLock
from paracolor.hashing import file_sha256
from tests.conftest import write_photo


def _hashes(*folders):
    out = {}
    for folder in folders:
        for p in Path(folder).rglob("*"):
            if p.is_file() and not p.is_symlink():
                out[p] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _temp_files(out: Path):
    return [p for p in out.rglob("*") if p.name.startswith(".")] if out.exists() else []


@contextmanager
def _deadline(seconds: int):
    """Fail a case that hangs instead of hanging the test suite."""

    def boom(*_):
        raise TimeoutError(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def colorize(model, *args, inputs_change=False, live_temp=False):
    """``paracolor colorize ARGS --model MODEL --quiet``, with the checks every case shares: no
    traceback, no input photo changed (every regular file named or inside a folder named,
    hashed before and after), and no temporary file left in the output folder."""
    args = [str(a) for a in args]
    out = Path(args[args.index("-o") + 1]) if "-o" in args else None
    first_option = next((i for i, a in enumerate(args) if a.startswith("-") and not os.path.exists(a)), len(args))
    named = [Path(a) for a in args[:first_option] if os.path.exists(a)]  # the inputs come first in every case
    before = _hashes(*[p for p in named if p.is_dir()]) | {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in named if p.is_file()}
    with _deadline(60):
        res = CliRunner().invoke(main, ["colorize", *args, "--model", str(model), "--quiet"])
    assert "Traceback" not in res.output, res.output
    if not inputs_change:
        for p, digest in before.items():
            assert p.is_file() and hashlib.sha256(p.read_bytes()).hexdigest() == digest, f"input {p} changed"
    if out is not None and not live_temp:
        assert not _temp_files(out), _temp_files(out)
    return res


def _report(path):
    data = json.loads(Path(path).read_text())
    return {os.path.basename(f["path"]): f["reason"] for f in data["failed"]}, {os.path.basename(s["path"]): s["reason"] for s in data["skipped"]}, data


@pytest.fixture
def photos(tmp_path):
    src = tmp_path / "in"
    for i, name in enumerate(("a.jpg", "b.jpg")):
        write_photo(src / name, 48, 40, seed=i)
    return src


# -- data loss ------------------------------------------------------------------------------


def test_report_never_replaces_an_input_or_an_unrelated_file(tiny_model_dir, photos, tmp_path):
    before = _hashes(photos)
    out = tmp_path / "out"
    # `--report *.jpg` in a shell: the first photo becomes the report's path, the rest inputs
    res = colorize(tiny_model_dir, photos / "b.jpg", "-o", out, "--report", photos / "a.jpg")
    assert res.exit_code == 1 and "a.jpg: exists and is not a paracolor report" in res.output
    res = colorize(tiny_model_dir, photos, "-o", out, "--report", photos / "a.jpg")
    assert res.exit_code == 1 and "is one of the inputs" in res.output
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": 1}')
    res = colorize(tiny_model_dir, photos, "-o", out, "--report", notes)
    assert res.exit_code == 1 and "not a paracolor report" in res.output and notes.read_text() == '{"mine": 1}'
    assert _hashes(photos) == before and not out.exists()  # refused before any work
    # a paracolor report is replaced by the next run's (that is what a re-run means)
    report = tmp_path / "r.json"
    assert colorize(tiny_model_dir, photos, "-o", out, "--report", report).exit_code == 0
    res = colorize(tiny_model_dir, photos, "-o", out, "--report", report)
    assert res.exit_code == 0 and _report(report)[2]["counts"]["skipped"] == 2


@pytest.mark.parametrize("overwrite", [False, True])
def test_stage_outputs_are_reserved_names(tiny_model_dir, tmp_path, overwrite):
    src = tmp_path / "in"
    write_photo(src / "a.jpg", seed=1)
    write_photo(src / "a_fg.jpg", seed=2)
    before = _hashes(src)
    out, report = tmp_path / "out", tmp_path / "r.json"
    res = colorize(tiny_model_dir, src, "-o", out, "--save-stages", "--report", report, *(["--overwrite"] if overwrite else []))
    failed, _, data = _report(report)
    assert res.exit_code == 1 and "same output name" in failed["a_fg.jpg"] and "the fg stage of" in failed["a_fg.jpg"]
    assert [os.path.basename(d["path"]) for d in data["done"]] == ["a.jpg"]
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "a_bg.jpg", "a_fg.jpg"]  # a's three, none overwritten
    assert _hashes(src) == before and not _temp_files(out)


def test_a_second_run_on_the_same_output_folder_is_refused(tiny_model_dir, photos, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    live = out / ".a.jpg.x1y2.partial"
    live.write_bytes(b"another run is writing this")
    with FolderLock(out):  # a live run (in this process: flock holds per open, as across processes)
        res = colorize(tiny_model_dir, photos, "-o", out, "--resume", live_temp=True)
        assert res.exit_code == 1 and "another paracolor run is writing" in res.output
        assert live.exists()  # its temporary file was not cleared
        res = colorize(tiny_model_dir, photos, "-o", out / "inner", live_temp=True)  # a folder inside the live run's
        assert res.exit_code == 1 and "which holds this output folder" in res.output
    res = colorize(tiny_model_dir, photos, "-o", out, "--resume")  # the run ended: now resume clears it
    assert res.exit_code == 0 and not live.exists() and not _temp_files(out)


# -- hangs and unbounded reads ---------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifos_devices_and_huge_files_are_refused_without_hanging(tiny_model_dir, photos, tmp_path):
    os.mkfifo(photos / "pipe.jpg")
    huge = photos / "huge.png"
    with open(huge, "wb") as f:  # sparse: no disk used
        f.truncate(max_file_bytes(1_000_000) + 1)
    before = _hashes(photos)
    out, report = tmp_path / "out", tmp_path / "r.json"
    t0 = time.monotonic()
    res = colorize(tiny_model_dir, photos, photos / "pipe.jpg", "/dev/zero", "-o", out, "--report", report, "--max-pixels", 1_000_000)
    failed, skipped, _ = _report(report)
    assert res.exit_code == 1 and time.monotonic() - t0 < 30
    assert "not a regular file (a FIFO)" in skipped["pipe.jpg"]  # met while walking the folder
    assert "not a regular file (a FIFO)" in failed["pipe.jpg"]  # named on the command line
    assert "not a regular file (a character device)" in failed["zero"]
    assert "above the" in failed["huge.png"] and "bytes" in failed["huge.png"]
    assert (out / "a.jpg").is_file() and _hashes(photos) == before and not _temp_files(out)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_input_swapped_for_a_fifo_during_the_run(tiny_model_dir, photos, tmp_path, monkeypatch):
    real = batch.plan_jobs

    def plan_then_swap(cfg, summary):
        jobs = real(cfg, summary)
        (photos / "b.jpg").unlink()
        os.mkfifo(photos / "b.jpg")  # after the listing, before the decoder opens it
        return jobs

    monkeypatch.setattr(batch, "plan_jobs", plan_then_swap)
    res = colorize(tiny_model_dir, photos, "-o", tmp_path / "out", inputs_change=True)  # the test swaps b.jpg itself
    assert res.exit_code == 1 and "b.jpg: not a regular file (a FIFO)" in res.output


# The child process of the real-SIGINT case: its read of b.jpg blocks (a stalled network mount) until
# the process ends; a hang dumps every thread's stack (faulthandler) instead of hanging CI. A suite
# started as a background job (nohup ... &) runs with SIGINT ignored, which children inherit and
# Python then leaves ignored: the child takes Python's own handler, as a process in a terminal has.
# (That inherited SIG_IGN was the cause of the hangs and crashes this case used to have in CI.)
_STUCK_READ_CHILD = """
import faulthandler, signal, sys, threading
from pathlib import Path
signal.signal(signal.SIGINT, signal.default_int_handler)
faulthandler.dump_traceback_later(45, exit=True)
import paracolor.engine.batch as b
real, flag = b.read_file_bytes, Path(sys.argv[1])
def read(path, max_bytes):
    if Path(path).name == "b.jpg":
        flag.write_text("stuck")
        threading.Event().wait()
    return real(path, max_bytes)
b.read_file_bytes = read
from paracolor.cli import main
main(sys.argv[2:], prog_name="paracolor")
"""


def _stop_cases():
    import importlib.util

    cases = [("onnxruntime", "SIGINT"), ("onnxruntime", "SIGTERM")]
    return cases + ([("openvino", "SIGINT")] if importlib.util.find_spec("openvino") else [])


@pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals")
@pytest.mark.parametrize("backend, signame", _stop_cases())
def test_ctrl_c_ends_the_run_while_a_read_blocks(tiny_model_dir, photos, tmp_path, backend, signame):
    """A decoder stuck in a read (a stalled network mount) does not keep Ctrl-C, or SIGTERM (docker
    stop, systemd, timeout), from ending the run: exit 130 / 143, no temporary file left.

    A real SIGINT to a real ``paracolor colorize`` process, as a terminal sends it (sent into the
    test process itself, the stuck decoder thread outlived the case)."""
    import subprocess
    import sys

    flag, out = tmp_path / "stuck", tmp_path / "out"
    cmd = [sys.executable, "-c", _STUCK_READ_CHILD, str(flag), "colorize", str(photos), "-o", str(out),
           "--model", str(tiny_model_dir), "--backend", backend, "--quiet"]
    child = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not flag.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert flag.exists(), f"the run never reached b.jpg (rc {child.poll()})"
        time.sleep(0.3)
        t0 = time.monotonic()
        child.send_signal(getattr(signal, signame))
        output, _ = child.communicate(timeout=50)  # the child's faulthandler dumps stacks at 45 s
        took = time.monotonic() - t0
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 128 + getattr(signal, signame) and "--resume" in output, output
    assert "Traceback" not in output, output
    assert took < 5, f"took {took:.1f} s after Ctrl-C"  # within a second or two
    assert not _temp_files(out)


# -- memory ------------------------------------------------------------------------------------


@pytest.mark.parametrize("args, why", [
    (["--size", "25600"], "size must be a multiple of 32 from 32 to 1024"),
    (["--batch-size", "100000"], "batch size must be 1 to 64"),
    (["--batch-size", "32", "--size", "1024"], "network pixels per batch"),
    (["--max-pixels", str(10**12)], "--max-pixels must be 1 to"),
    (["--queue-mb", "1"], "queue budget must be 16 MiB"),
])
def test_options_that_scale_memory_are_bounded(tiny_model_dir, photos, tmp_path, args, why):
    res = colorize(tiny_model_dir, photos, "-o", tmp_path / "out", *args)
    assert res.exit_code == 1 and why in res.output and not (tmp_path / "out").exists()


def _jpeg_declaring(w, h):
    data = bytearray(cv2.imencode(".jpg", np.full((64, 64), 128, np.uint8))[1].tobytes())
    i = data.find(b"\xff\xc0")
    data[i + 5 : i + 9] = h.to_bytes(2, "big") + w.to_bytes(2, "big")
    return bytes(data)


def test_small_jpeg_declaring_huge_dimensions_is_corrupt(tiny_model_dir, photos, tmp_path):
    (photos / "liar.jpg").write_bytes(_jpeg_declaring(12000, 12000))  # under --max-pixels; libjpeg would fill 144 MB grey
    res = colorize(tiny_model_dir, photos, "-o", tmp_path / "out")
    assert res.exit_code == 1 and "liar.jpg: corrupt JPEG: the header declares 12000x12000" in res.output
    assert "done 2" in res.output


# -- model integrity -----------------------------------------------------------------------------


def _model_copy(tiny_model_dir, tmp_path, edit=None):
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    if edit:
        card = json.loads((model / "model.json").read_text())
        edit(model, card)
        (model / "model.json").write_text(json.dumps(card))
    return model


def _rehash(model, card, role):
    card["models"][role]["sha256"] = file_sha256(model / card["models"][role]["file"])


def test_flipped_bytes_in_a_graph_are_caught(tiny_model_dir, photos, tmp_path):
    model = _model_copy(tiny_model_dir, tmp_path)
    g = model / "fp32" / "bg.onnx"
    data = bytearray(g.read_bytes())
    data[len(data) // 2] ^= 0x40  # inside the weights: still loads and runs, wrong colours
    g.write_bytes(bytes(data))
    res = colorize(model, photos, "-o", tmp_path / "out")
    assert res.exit_code == 1 and "bg.onnx: sha256" in res.output and "does not match" in res.output
    assert not list((tmp_path / "out").glob("*.jpg"))
    res = colorize(model, photos, "-o", tmp_path / "out", "--no-verify-model")  # the option skips it
    assert res.exit_code == 0


def _nan_fusion(path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    v = lambda n, c: helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", c, "H", "W"])  # noqa: E731
    nodes = [helper.make_node("Sub", ["ab_fg", "ab_fg"], ["z"]), helper.make_node("Div", ["z", "z"], ["q"]), helper.make_node("Add", ["q", "ab_bg"], ["ab"])]
    graph = helper.make_graph(nodes, "nan_fusion", [v("L", 1), v("ab_fg", 2), v("ab_bg", 2)], [v("ab", 2)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_nan_output_fails_each_photo_with_a_reason(tiny_model_dir, photos, tmp_path):
    def edit(model, card):
        _nan_fusion(model / "fp32" / "fusion.onnx")
        _rehash(model, card, "fusion")

    model = _model_copy(tiny_model_dir, tmp_path, edit)
    out = tmp_path / "out"
    res = colorize(model, photos, "-o", out)
    assert res.exit_code == 1 and res.output.count("NaN or infinite values (ab)") == 2
    assert not list(out.glob("*.jpg")) and not _temp_files(out)


@pytest.mark.parametrize("name, edit, why", [
    ("list", lambda m, c: c.clear(), None),
    ("missing key", lambda m, c: c["models"].pop("bg"), "no entry for ['bg']"),
    ("non-numeric size", lambda m, c: c.update(input_size="big"), "field 'input_size'"),
    ("entry not an object", lambda m, c: c["models"].update(fg=[1]), "field 'models.fg' is not an object"),
    ("missing file", lambda m, c: c["models"]["fg"].update(file="fp32/gone.onnx"), "models.fg.file is 'fp32/gone.onnx'"),
    ("file outside", lambda m, c: c["models"]["fg"].update(file="../x.onnx"), "field 'models.fg.file'"),
    ("bad hash", lambda m, c: c["models"]["fg"].update(sha256=12), "field 'models.fg.sha256'"),
    ("bad build size", lambda m, c: c.update(builds={"fp16": {"size": "256"}}), "field 'builds.fp16.size'"),
])
def test_malformed_model_json_is_one_clear_error(tiny_model_dir, photos, tmp_path, name, edit, why):
    model = _model_copy(tiny_model_dir, tmp_path, edit)
    if name == "list":
        (model / "model.json").write_text("[1, 2]")
        why = "expected a JSON object, found list"
    res = colorize(model, photos, "-o", tmp_path / "out")
    assert res.exit_code == 1 and "model.json" in res.output and why in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1


def test_model_json_not_utf8(tiny_model_dir, photos, tmp_path):
    model = _model_copy(tiny_model_dir, tmp_path)
    (model / "model.json").write_bytes(b'{"format": "\xff\xfe"}')
    res = colorize(model, photos, "-o", tmp_path / "out")
    assert res.exit_code == 1 and "model.json: not UTF-8 text" in res.output


def test_graph_with_wrong_input_fails_once_up_front(tiny_model_dir, photos, tmp_path, monkeypatch):
    onnx = pytest.importorskip("onnx")

    def edit(model, card):
        g = onnx.load(str(model / "fp32" / "fg.onnx"))
        old = g.graph.input[0].name
        g.graph.input[0].name = "X"
        for node in g.graph.node:
            node.input[:] = ["X" if i == old else i for i in node.input]
        onnx.save(g, str(model / "fp32" / "fg.onnx"))
        _rehash(model, card, "fg")

    model = _model_copy(tiny_model_dir, tmp_path, edit)
    monkeypatch.setattr(batch, "read_file_bytes", lambda *a: pytest.fail("a photo was read before the model was checked"))
    res = colorize(model, photos, "-o", tmp_path / "out")
    assert res.exit_code == 1 and "fg.onnx: graph inputs are ['X'], expected ['L']" in res.output
    assert len(res.output.strip().splitlines()) == 1


# -- outputs escaping -o, recursion ----------------------------------------------------------------


def test_suffix_cannot_leave_the_output_folder(tiny_model_dir, photos, tmp_path):
    for suffix in ("/../../escaped", "_x/..", ".."):
        res = colorize(tiny_model_dir, photos, "-o", tmp_path / "out", "--suffix", suffix)
        assert res.exit_code == 1 and "--suffix" in res.output and "path separators" in res.output
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob("*escaped*"))


def test_glob_with_dotdot_writes_inside_the_output_folder(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_photo(tmp_path / "deep" / "sub" / "x.jpg")
    write_photo(tmp_path / "top" / "y.jpg")
    before = set(tmp_path.rglob("*"))
    res = colorize(tiny_model_dir, "deep/*/../../top/*.jpg", "-o", "o/inner")
    assert res.exit_code == 0, res.output
    new = set(tmp_path.rglob("*")) - before
    assert new and all(p.resolve().is_relative_to((tmp_path / "o" / "inner").resolve()) or p == tmp_path / "o" for p in new), new


def test_output_folder_inside_an_input_folder_is_not_walked(tiny_model_dir, photos):
    out = photos / "colour"
    for _ in range(2):
        res = colorize(tiny_model_dir, photos, "-o", out)
        assert res.exit_code == 0
    assert "colour: the output folder of this run (not walked)" in res.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["a.jpg", "b.jpg"]  # no colour/colour/


def test_output_folder_equal_to_the_input_folder_with_suffix(tiny_model_dir, photos):
    before = _hashes(photos)
    for _ in range(3):
        res = colorize(tiny_model_dir, photos, "-o", photos, "--suffix", "_c")
        assert res.exit_code == 0
    assert "a_c.jpg: an output name of" in res.output
    assert sorted(p.name for p in photos.iterdir()) == ["a.jpg", "a_c.jpg", "b.jpg", "b_c.jpg"]  # no _c_c
    assert all(_hashes(photos)[p] == h for p, h in before.items())
    # a file found among the inputs is never replaced, even when it has an output's name: it
    # may be the user's own photo (a_c.jpg), so --overwrite does not reach it
    kept = _hashes(photos)
    res = colorize(tiny_model_dir, photos, "-o", photos, "--suffix", "_c", "--overwrite")
    assert res.exit_code == 1 and "a_c.jpg would replace a file found among the inputs" in res.output
    assert _hashes(photos) == kept


# -- check before working ------------------------------------------------------------------------


def test_unwritable_output_or_report_fails_before_any_inference(tiny_model_dir, photos, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(batch, "Colorizer", lambda *a, **k: pytest.fail("the model was loaded"))
    real = tempfile.mkstemp
    ro = tmp_path / "read-only"

    def mkstemp(*a, dir=None, **k):  # a read-only mount, as root sees it too
        if dir is not None and Path(dir).resolve().is_relative_to(ro.resolve()):
            raise PermissionError(13, "Permission denied", str(dir))
        return real(*a, dir=dir, **k)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    res = colorize(tiny_model_dir, photos, "-o", ro / "out")
    assert res.exit_code == 1 and "read-only/out: cannot write the output folder (Permission denied)" in res.output
    res = colorize(tiny_model_dir, photos, "-o", tmp_path / "out", "--report", ro / "r.json")
    assert res.exit_code == 1 and "cannot write the --report folder" in res.output


def test_report_that_fails_at_the_end_still_prints_the_summary(tiny_model_dir, photos, tmp_path, monkeypatch):
    def fail(*a):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(batch, "write_report", fail)
    res = colorize(tiny_model_dir, photos, "-o", tmp_path / "out", "--report", tmp_path / "r.json")
    assert res.exit_code == 1 and "done 2, skipped 0, failed 0" in res.output
    assert "report not written: [Errno 28] No space left on device" in res.output


def test_unreadable_folders_and_broken_links_are_reported(tiny_model_dir, photos, tmp_path, monkeypatch):
    locked = photos / "locked"
    write_photo(locked / "c.jpg")
    (photos / "dangling.jpg").symlink_to(tmp_path / "nowhere.jpg")
    real = os.scandir

    def scandir(path="."):  # as chmod 000 would, for users other than root
        if Path(path).resolve() == locked.resolve():
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    behind = tmp_path / "unsearchable" / "d.jpg"
    real_stat = Path.stat

    def stat(self, *a, **k):  # a named file in a folder that may not be entered
        if self == behind:
            raise PermissionError(13, "Permission denied", str(self))
        return real_stat(self, *a, **k)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(Path, "stat", stat)
    report = tmp_path / "r.json"
    res = colorize(tiny_model_dir, photos, locked, photos / "dangling.jpg", behind, "-o", tmp_path / "out", "--report", report)
    failed, skipped, _ = _report(report)
    assert res.exit_code == 1 and "permission denied" in failed["d.jpg"]
    assert failed["locked"].startswith("cannot read folder (permission denied)")  # walked and named: both reported
    assert sum("cannot read folder" in f["reason"] for f in json.loads(report.read_text())["failed"]) == 2
    assert "broken symbolic link" in skipped["dangling.jpg"] and "broken symbolic link" in failed["dangling.jpg"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder: the monkeypatched test above stands in")
def test_unreadable_folder_real_permissions(tiny_model_dir, photos, tmp_path):
    locked = photos / "locked"
    write_photo(locked / "c.jpg")
    locked.chmod(0)
    try:
        res = colorize(tiny_model_dir, photos, "-o", tmp_path / "out")
        assert res.exit_code == 1 and "cannot read folder (permission denied)" in res.output
    finally:
        locked.chmod(0o755)


# -- honest about what it did ----------------------------------------------------------------------


def test_dropped_frames_and_clipped_hdr_are_said_per_file(tiny_model_dir, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    frames = [Image.fromarray(np.full((20, 30, 3), 40 + i * 60, np.uint8)) for i in range(3)]
    for name, fmt in (("pages.tif", "TIFF"), ("anim.gif", "GIF")):
        b = io.BytesIO()
        frames[0].save(b, fmt, save_all=True, append_images=frames[1:])
        (src / name).write_bytes(b.getvalue())
    hdr = np.random.default_rng(0).uniform(0, 4, (20, 30, 3)).astype(np.float32)
    (src / "hdr.tif").write_bytes(cv2.imencode(".tif", hdr)[1].tobytes())
    report = tmp_path / "r.json"
    res = colorize(tiny_model_dir, src / "pages.tif", src / "anim.gif", src / "hdr.tif", "-o", tmp_path / "out", "--report", report)
    assert res.exit_code == 0, res.output
    assert "pages.tif: 3 pages: only the first was colorized" in res.output
    assert "anim.gif: 3 frames: only the first was colorized" in res.output
    assert "hdr.tif: high-dynamic-range float image" in res.output and "clipped" in res.output
    notes = {os.path.basename(d["path"]): d.get("notes") for d in json.loads(report.read_text())["done"]}
    assert notes["pages.tif"] and notes["anim.gif"] and notes["hdr.tif"]


def test_control_sequences_in_file_names_are_escaped(tiny_model_dir, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "evil\x1b]0;owned\x07\x1b[2J.jpg").write_bytes(b"not a photo")
    res = colorize(tiny_model_dir, src, "-o", tmp_path / "out")
    assert res.exit_code == 1 and "\x1b" not in res.output and "\x07" not in res.output
    assert "evil\\x1b]0;owned\\x07\\x1b[2J.jpg: not a decodable image" in res.output

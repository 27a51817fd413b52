"""Verbosity: paracolor's own records, libraries' records and prints, progress bars."""

import logging

import pytest

from paracolor import logs, progress


@pytest.fixture(autouse=True)
def _normal():
    yield
    logs.reset()
    logs.configure()


def _emit(capsys):
    logging.getLogger().warning("a library warns on the root logger")
    logging.getLogger("onnxruntime.quantization").info("a library's info")
    logging.getLogger("paracolor.build").warning("paracolor warns")
    logging.getLogger("paracolor.build").info("paracolor informs")
    logging.getLogger("somelib").error("a library error")
    return capsys.readouterr().err


def test_normal_shows_paracolor_warnings_and_library_errors_only(capsys):
    logs.configure(logs.NORMAL)
    err = _emit(capsys)
    assert "paracolor warns" in err and "a library error" in err
    assert "root logger" not in err and "informs" not in err and "library's info" not in err


def test_verbose_shows_library_messages(capsys):
    logs.configure(logs.VERBOSE)
    err = _emit(capsys)
    assert all(s in err for s in ("root logger", "library's info", "paracolor warns", "paracolor informs", "a library error"))
    assert logs.onnxruntime_severity() == 2


def test_quiet_hides_warnings_and_progress(capsys):
    logs.configure(logs.QUIET)
    err = _emit(capsys)
    assert "paracolor warns" not in err and "a library error" in err
    assert not logs.progress_enabled() and progress.bar(total=3).disable and logs.onnxruntime_severity() == 3


def test_library_prints_become_info_records(capsys):
    logs.configure(logs.NORMAL)
    with logs.library_prints("onnxruntime"):
        print("Collecting tensor data and making histogram ...")
        print("no newline at the end", end="")
    assert capsys.readouterr().out == ""  # hidden unless verbose
    logs.configure(logs.VERBOSE)
    with logs.library_prints("onnxruntime"):
        print("Number of tensors : 153")
    err = capsys.readouterr().err
    assert "INFO paracolor.lib.onnxruntime: Number of tensors : 153" in err


def test_onnxruntime_default_logger_follows_the_verbosity():
    ort = pytest.importorskip("onnxruntime")
    logs.configure(logs.VERBOSE)
    assert logs.quiet_onnxruntime() is ort


def test_library_warnings_become_info_records(capsys):
    import warnings

    logs.configure(logs.NORMAL)
    with logs.library_warnings("torch.onnx"):
        warnings.warn("Constant folding not applied", UserWarning)
    assert "Constant folding" not in capsys.readouterr().err
    logs.configure(logs.VERBOSE)
    with logs.library_warnings("torch.onnx"):
        warnings.warn("Constant folding not applied", UserWarning)
    assert "INFO paracolor.lib.torch.onnx: UserWarning: Constant folding not applied" in capsys.readouterr().err

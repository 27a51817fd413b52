"""How loud paracolor is: its own logging, the libraries' messages routed through it, and
whether progress bars show.

Three levels: quiet (-q: errors and results only, no progress bars), normal (paracolor's
warnings and progress bars) and verbose (-v: paracolor's info and every library's messages).
Libraries talk in three ways, each routed here:

- Python logging, often on the root logger (onnxruntime's quantizer warns "Please consider
  pre-processing before quantization" there): one handler shows a library's record only when
  verbose, or when it is an error.
- ``print`` to stdout (onnxruntime's calibrator prints its histogram steps):
  :func:`library_prints` turns those lines into info records of ``paracolor.lib.<name>``.
- Python warnings (torch's ONNX exporter): :func:`library_warnings` makes them info records.
- onnxruntime's C++ logger, which writes coloured lines to stderr itself (the graph optimizer's
  "UnsqueezeElimination cannot remove node"): :func:`quiet_onnxruntime` sets its severity,
  warnings only when verbose. It cannot be routed through Python logging.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import warnings

QUIET, NORMAL, VERBOSE = -1, 0, 1

_state = {"verbosity": NORMAL}
_FORMAT = "%(levelname)s %(name)s: %(message)s"


def verbosity() -> int:
    return _state["verbosity"]


def progress_enabled() -> bool:
    """Progress bars show unless quiet."""
    return _state["verbosity"] > QUIET


def reset() -> None:
    """Back to normal (a new command line starts here)."""
    _state["verbosity"] = NORMAL


class _Route(logging.Filter):
    """paracolor's records pass at the level set; a library's only when verbose or an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        ours = record.name == "paracolor" or (record.name.startswith("paracolor.") and not record.name.startswith("paracolor.lib."))
        if ours or record.levelno >= logging.ERROR:
            return True
        return _state["verbosity"] >= VERBOSE


class _Handler(logging.StreamHandler):
    """The one handler paracolor installs (found again and replaced on each configure)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr  # the current one: a test runner may have swapped it since
        super().emit(record)


def configure(level: int | None = None) -> None:
    """Set the verbosity (None: keep it) and install the routing handler on the root logger."""
    if level is not None:
        _state["verbosity"] = level
    v = _state["verbosity"]
    root = logging.getLogger()
    for h in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(h)
    handler = _Handler()  # the current sys.stderr
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(_Route())
    root.addHandler(handler)
    root.setLevel(logging.INFO if v >= VERBOSE else logging.WARNING)
    logging.getLogger("paracolor").setLevel(logging.INFO if v >= VERBOSE else logging.WARNING if v == NORMAL else logging.ERROR)
    if "onnxruntime" in sys.modules:  # imported already: apply now; else quiet_onnxruntime() does
        quiet_onnxruntime()


def onnxruntime_severity() -> int:
    """onnxruntime's logger severity: 2 (warnings) when verbose, else 3 (errors)."""
    return 2 if _state["verbosity"] >= VERBOSE else 3


def quiet_onnxruntime():
    """Apply the verbosity to onnxruntime's default logger (every session without its own
    level uses it: ours, and those onnx-graphsurgeon and the quantizer make); returns the module."""
    import onnxruntime as ort

    ort.set_default_logger_severity(onnxruntime_severity())
    return ort


class _LineLogger(io.TextIOBase):
    def __init__(self, logger: logging.Logger):
        self.logger, self.buf = logger, ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.buf += text
        *lines, self.buf = self.buf.split("\n")
        for line in lines:
            if line.strip():
                self.logger.info(line.rstrip())
        return len(text)

    def flush(self) -> None:
        if self.buf.strip():
            self.logger.info(self.buf.rstrip())
        self.buf = ""


@contextlib.contextmanager
def library_warnings(name: str):
    """Python warnings raised inside this block (torch's exporter warns about every Slice it
    cannot fold) become info records of ``paracolor.lib.<name>`` (shown with -v)."""
    log = logging.getLogger(f"paracolor.lib.{name}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for w in caught:
                log.info("%s: %s (%s:%s)", w.category.__name__, w.message, w.filename, w.lineno)


@contextlib.contextmanager
def library_prints(name: str):
    """Lines a library prints to stdout inside this block become info records of
    ``paracolor.lib.<name>`` (shown with -v). stdout is process-wide: use it around one
    library call, not around code that prints results."""
    sink = _LineLogger(logging.getLogger(f"paracolor.lib.{name}"))
    with contextlib.redirect_stdout(sink):
        try:
            yield
        finally:
            sink.flush()

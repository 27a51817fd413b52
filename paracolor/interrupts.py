"""SIGTERM ends a colorize run the way Ctrl-C does.

``docker stop``, Kubernetes, systemd, Slurm and ``timeout`` stop a job with SIGTERM (then SIGKILL
after a grace period). Python's default for SIGTERM is to die at once, which leaves hidden
temporary files and no summary; raised as KeyboardInterrupt instead, the run finishes the photo
in hand, removes its temporary files, prints its summary and exits 143 (128 + SIGTERM).
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


class Stop:
    """Which signal stopped the run (None: none did, or it was Ctrl-C)."""

    signum: int | None = None

    @property
    def exit_code(self) -> int:
        """The shell's code for a run ended by this signal: 130 for Ctrl-C, 143 for SIGTERM."""
        return 128 + (self.signum or signal.SIGINT)


@contextmanager
def sigterm_as_interrupt():
    """Within the block, the first SIGTERM raises KeyboardInterrupt in the main thread (later
    ones are ignored: the run is already stopping). Yields a :class:`Stop`. Outside the main
    thread, or where SIGTERM was ignored by the parent (``nohup``-style), nothing changes."""
    stop = Stop()
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        yield stop
        return

    def handler(signum, frame):
        if stop.signum is None:
            stop.signum = signum
            raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, old)

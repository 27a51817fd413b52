"""The output folder of a run: checked writable before any work, and locked against other runs.

Two runs on one output folder would delete each other's temporary files (``--resume`` clears
what it takes for a killed run's leftovers) and report each other's outputs as their own. A run
holds an exclusive ``flock`` on its output folder and a shared one on every folder above it,
so a second run on the same folder -- or on one inside or around it -- stops at once with a
clear message. The kernel drops the locks when a process ends, however it ends, so a killed
run never leaves a stale lock, and no lock file is written.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from ..errors import ConfigError
from .io import PARTIAL_SUFFIX

log = logging.getLogger(__name__)

try:
    import fcntl
except ImportError:  # not POSIX: no locking (said once in the log)
    fcntl = None


def check_writable(folder: Path, what: str = "output folder") -> None:
    """Create ``folder`` if needed and write (then remove) a file in it; a ConfigError if not.

    A real write rather than ``os.access``: access() says yes to root on a read-only mount and
    cannot see quotas or full disks.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".paracolor-check.", suffix=PARTIAL_SUFFIX, dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise ConfigError(f"{folder}: cannot write the {what} ({exc.strerror or exc}); nothing was colorized") from None


class FolderLock:
    """Exclusive lock on ``folder`` (shared on its ancestors) for the life of a run. ``shared``:
    a shared lock on ``folder`` too, for a run that writes only named files into a folder of the
    user's (``-o result.png``): such runs may share it, a folder run may not."""

    def __init__(self, folder: Path, shared: bool = False):
        self.folder = Path(folder).resolve()
        self.shared = shared
        self._fds: list[int] = []

    def __enter__(self) -> "FolderLock":
        if fcntl is None:
            log.warning("no file locking on this platform: do not run two jobs on %s at once", self.folder)
            return self
        try:
            self._lock(self.folder, fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX)
            for parent in self.folder.parents:
                self._lock(parent, fcntl.LOCK_SH)
        except BaseException:
            self.release()
            raise
        return self

    def _lock(self, folder: Path, how: int) -> None:
        try:
            fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            if how == fcntl.LOCK_EX:
                raise
            return  # an ancestor we may not open cannot hold another run's lock we could see
        try:
            fcntl.flock(fd, how | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            where = "this output folder" if folder == self.folder else f"{folder}, which holds this output folder"
            inner = " or a folder inside it" if how == fcntl.LOCK_EX else ""
            raise ConfigError(f"{self.folder}: another paracolor run is writing to {where}{inner}; wait for it to end or choose another -o") from None
        except OSError as exc:  # a filesystem without flock (some network mounts)
            os.close(fd)
            if how == fcntl.LOCK_EX:
                log.warning("%s: cannot lock the output folder (%s): do not run two jobs on it at once", folder, exc.strerror or exc)
            return
        self._fds.append(fd)

    def release(self) -> None:
        while self._fds:
            os.close(self._fds.pop())  # closing the descriptor drops its flock

    def __exit__(self, *exc) -> None:
        self.release()

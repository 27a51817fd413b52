"""fg, bg and fusion runners on the host as one :class:`~.base.Scheduler`.

``sequential``: fg, then bg, then fusion. ``parallel``: fg and bg at once in two threads
(onnxruntime and torch release the GIL), then fusion once both are done. ``merged``: one graph
holding both generators (built with ``paracolor build --merge-fg-bg``), whose backend schedules
the independent branches itself. The optional ``trace`` records stage start/end events, which
tests use to check ordering and overlap. ``submit`` computes the batch before it returns: every
core is busy with it, so there is nothing to overlap on the host.
"""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ...choices import SCHEDULES, check
from .base import Runner, Scheduler


class StageScheduler(Scheduler):
    """Runs L (N,1,S,S) through fg || bg -> fusion on host runners."""

    def __init__(self, fg: Runner, bg: Runner | None, fusion: Runner, schedule: str = "parallel", trace: list | None = None, preferred_batch: int | None = None):
        """For ``merged``, ``fg`` is the merged runner (outputs ab_fg and ab_bg) and ``bg`` is None."""
        super().__init__()
        if preferred_batch:
            self.preferred_batch = preferred_batch
        check("schedule", schedule, SCHEDULES)
        if (schedule == "merged") != (bg is None):
            raise ValueError("the merged schedule takes one merged generator runner and no bg runner")
        self.fg, self.bg, self.fusion = fg, bg, fusion
        self.backend, self.schedule = fusion.backend, schedule
        self.trace = trace
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="paracolor-bg") if schedule == "parallel" else None
        self._tickets = itertools.count()
        self._done: dict[int, dict[str, np.ndarray]] = {}

    def _mark(self, event: str, role: str):
        if self.trace is not None:
            with self._lock:
                self.trace.append((event, role, time.perf_counter()))

    def _gen(self, runner: Runner, L: np.ndarray) -> np.ndarray:
        self._mark("start", runner.role)
        out = runner.run({"L": L})["ab"]
        self._mark("end", runner.role)
        return out

    def _compute(self, L: np.ndarray) -> dict[str, np.ndarray]:
        t0 = time.perf_counter()
        if self.schedule == "merged":
            self._mark("start", "fg+bg")
            both = self.fg.run({"L": L})
            self._mark("end", "fg+bg")
            ab_fg, ab_bg = both["ab_fg"], both["ab_bg"]
        elif self._pool is not None:
            bg_future = self._pool.submit(self._gen, self.bg, L)
            ab_fg = self._gen(self.fg, L)
            ab_bg = bg_future.result()
        else:
            ab_fg = self._gen(self.fg, L)
            ab_bg = self._gen(self.bg, L)
        t1 = time.perf_counter()
        self._mark("start", "fusion")
        ab = self.fusion.run({"L": L, "ab_fg": ab_fg, "ab_bg": ab_bg})["ab"]
        self._mark("end", "fusion")
        self._timings = {"generators": t1 - t0, "fusion": time.perf_counter() - t1}
        return {"ab_fg": ab_fg, "ab_bg": ab_bg, "ab": ab}

    def submit(self, L: np.ndarray) -> int:
        ticket = next(self._tickets)
        self._done[ticket] = self._compute(L)
        return ticket

    def collect(self, ticket: int) -> dict[str, np.ndarray]:
        return self._done.pop(ticket)

    def describe(self) -> dict:
        stages = [r.describe() for r in (self.fg, self.bg, self.fusion) if r is not None]
        return {**super().describe(), "device": stages[-1].get("device", "cpu"), "stages": stages}

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        for r in (self.fg, self.bg, self.fusion):
            if r is not None:
                r.close()

"""A byte budget for the photos a folder job holds between decoding and writing.

The prefetch and write queues are bounded in items, which keeps memory flat over many small
photos; a budget in bytes keeps it bounded over large ones too (a queue of eight 24 MP photos
is 800 MB). The decoder takes a photo's bytes from the budget before decoding it (estimated from
its header, then corrected) and the writer gives them back once the photo is written, so every
photo being decoded, queued, batched or pending is counted. A photo larger than the whole budget
still runs, alone.
"""

from __future__ import annotations

import threading

import numpy as np


class ByteBudget:
    """Bytes that threads take before holding data and give back after; ``take`` waits."""

    def __init__(self, limit: int):
        self.limit = int(limit)
        self.used = 0
        self.peak = 0
        self._waiters = 0
        self._cond = threading.Condition()

    @property
    def blocked(self) -> bool:
        """Someone waits for bytes: whoever holds some should hand them on, not wait for more."""
        return self._waiters > 0

    def take(self, n: int, stop: threading.Event | None = None) -> bool:
        """Wait until ``n`` bytes fit (or nothing is held); False if ``stop`` was set meanwhile."""
        with self._cond:
            while self.used and self.used + n > self.limit:
                if stop is not None and stop.is_set():
                    return False
                self._waiters += 1
                try:
                    self._cond.wait(0.1)  # wakes on give(); the timeout re-checks ``stop``
                finally:
                    self._waiters -= 1
            self.used += n
            self.peak = max(self.peak, self.used)
            return True

    def adjust(self, delta: int) -> None:
        """Correct what one holder took (an estimate) by ``delta`` bytes, without waiting."""
        if delta > 0:
            with self._cond:
                self.used += delta
                self.peak = max(self.peak, self.used)
        elif delta < 0:
            self.give(-delta)

    def give(self, n: int) -> None:
        with self._cond:
            self.used = max(0, self.used - n)
            self._cond.notify_all()


def held_bytes(*arrays) -> int:
    """Bytes of memory behind arrays, counting each underlying buffer once (decoded photos are
    views: a grey photo's three channels are one plane, a colour photo's RGB is a view of BGR)."""
    seen: dict[int, int] = {}
    for a in arrays:
        if a is None:
            continue
        root = a
        while isinstance(getattr(root, "base", None), np.ndarray):
            root = root.base
        seen[id(root)] = root.nbytes if isinstance(root, np.ndarray) else a.nbytes
    return sum(seen.values())

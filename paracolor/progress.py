"""Progress bars for the long commands (colorize, evaluate, calibrate, build, bundle, bench):
one place that decides whether they show (not with -q; see :mod:`paracolor.logs`)."""

from __future__ import annotations

from . import logs


def bar(iterable=None, *, total: int | None = None, desc: str = "", unit: str = "it", disable: bool = False, **kw):
    """A tqdm bar on stderr, disabled when quiet (or ``disable``); usable as an iterable wrapper
    or by ``update``."""
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=disable or not logs.progress_enabled(), dynamic_ncols=True, **kw)

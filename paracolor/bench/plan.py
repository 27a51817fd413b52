"""What a benchmark run will do before it does it: the images each configuration times, an
estimate of the whole run's time from a short probe, and the skipped configurations grouped by
reason (one line each, instead of one line per configuration)."""

from __future__ import annotations

from collections import defaultdict

#: configuration keys in the order the matrix varies them (and the skip summary lists them)
KEYS = ("backend", "precision", "batch", "schedule", "cuda_graphs")


def images_timed(batch: int, num: int, warmup: int) -> int:
    """Images one configuration runs: ``num`` timed plus ``warmup`` batches."""
    return num + warmup * batch


def estimate_seconds(batches: list[int], num: int, warmup: int, load_s: float, s_per_image: float) -> float:
    """The run's time if every configuration loads like the probe and runs at its rate.

    Batched and INT8 configurations run faster than the probe (batch 1), so this errs long;
    the progress bar's own estimate corrects it as the run goes."""
    return sum(load_s + images_timed(b, num, warmup) * s_per_image for b in batches)


def configurations(n: int) -> str:
    return f"{n} configuration" + ("" if n == 1 else "s")


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _values(rows: list[dict], key: str) -> str:
    vals = sorted({r[key] for r in rows}, key=lambda v: (str(type(v)), v))
    if key == "cuda_graphs":
        return "CUDA graphs " + "/".join("on" if v else "off" for v in vals)
    if key == "batch":
        return "batch " + "/".join(str(v) for v in vals)
    return "/".join(str(v) for v in vals)


def skip_summary(skipped: list[dict]) -> list[str]:
    """One line per reason: how many configurations, which values they span, the reason."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for s in skipped:
        groups[s["reason"]].append(s)
    lines = []
    for reason, rows in sorted(groups.items(), key=lambda g: -len(g[1])):
        span = ", ".join(_values(rows, k) for k in KEYS)
        lines.append(f"{len(rows)} x {reason} ({span})")
    return lines

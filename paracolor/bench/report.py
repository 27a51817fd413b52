"""Benchmark outputs: JSON, a Markdown table in the paper's form, and a per-stage latency plot."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import MissingDependency
from ..extras import require
from .plan import configurations, skip_summary


def _label(r: dict) -> str:
    return f"{r['backend']} {r['precision']} bs{r['batch']} {r['schedule']}" + (" graphs" if r["cuda_graphs"] else "")


def markdown(data: dict) -> str:
    """The paper's per-stage analysis with this machine's figures beside it."""
    env, paper = data["environment"], data["paper"]
    gpu = env["gpu"]["name"] if env["gpu"] else "none"
    lines = [
        f"# Per-stage runtime, {env['date']}",
        "",
        f"Machine: {env['cpu']} ({env['cores']} cores), GPU: {gpu}; Python {env['python']}; "
        + ", ".join(f"{k} {v}" for k, v in env["libraries"].items()),
        f"Network input {data['network_size']}x{data['network_size']}; {data['config']['num']} images per configuration "
        f"({data['config']['images'] or 'synthetic photos'}); times in ms per image (mean; p90 in brackets).",
        "",
        "| configuration | decode + preprocess | parallel stage (fg ‖ bg) | fusion | networks total | postprocess | end to end | img/s | GFLOP/s (% of peak) | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| paper: {paper['device']}, batch {paper['batch']} | – | {paper['parallel_colorization']:.1f} | {paper['fusion']:.1f} | {paper['networks_total']:.1f} | – | – | – | – | – |",
    ]
    for r in data["results"]:
        s = r["stages_ms_per_image"]

        def cell(name):
            return f"{s[name]['mean']:.1f} ({s[name]['p90']:.1f})"

        lines.append(
            f"| {_label(r)} | {cell('decode_preprocess')} | {cell('parallel_colorization')} | {cell('fusion')} | "
            f"{r['networks_ms_per_image']:.1f} | {cell('postprocess')} | {cell('end_to_end')} | {r['throughput_img_s']:.2f} | "
            f"{_gflops(r['achieved_gflops_s'])} ({_percent(r['fraction_of_peak'])}) | {r['peak_rss_mb'] or 0:.0f} |"
        )
    if data["results"] and data["results"][0]["gflops_per_image"] is not None:
        r0 = data["results"][0]
        peaks = {r["peak_kind"]: r["peak_gflops_s"] for r in data["results"]}
        peak_text = "; ".join(f"{v:.0f} GFLOP/s, {k}" if v else k for k, v in peaks.items())
        lines += ["", f"FLOPs per image: {r0['gflops_per_image']:.2f} GFLOP ({data['flops_note']}). Peak: {peak_text}."]
    if data.get("video"):
        from .video import markdown as video_markdown

        lines += video_markdown(data["video"])
    if data["skipped"]:
        # one line per reason (the JSON lists every configuration)
        lines += ["", f"Skipped on this machine ({configurations(len(data['skipped']))}):", ""]
        lines += [f"- {line}" for line in skip_summary(data["skipped"])]
    if data.get("notes"):
        lines += ["", *(f"Note: {n}" for n in data["notes"])]
    return "\n".join(lines) + "\n"


def plot(data: dict, path: Path) -> None:
    """Stacked horizontal bars: per-stage ms per image for each configuration."""
    matplotlib = require("matplotlib", "the benchmark plot", "bench")

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = data["results"]
    stages = [("decode_preprocess", "decode + preprocess"), ("parallel_colorization", "fg ‖ bg"), ("fusion", "fusion"), ("postprocess", "postprocess")]
    labels = [_label(r) for r in rows] + [f"paper ({data['paper']['device']})"]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(labels) + 1.5))
    left = [0.0] * len(labels)
    for key, name in stages:
        vals = [r["stages_ms_per_image"][key]["mean"] for r in rows]
        vals.append({"parallel_colorization": data["paper"]["parallel_colorization"], "fusion": data["paper"]["fusion"]}.get(key, 0.0))
        ax.barh(labels, vals, left=left, label=name)
        left = [a + b for a, b in zip(left, vals)]
    ax.set_xlabel("ms per image (mean)")
    ax.set_title(f"paracolor per-stage latency, {data['environment']['date']}")
    ax.invert_yaxis()
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(data: dict, out: Path, machine: str, with_plot: bool = True) -> dict:
    """``<date>-<machine>-bench.{json,md,png}`` in ``out``; returns the paths."""
    stem = f"{data['environment']['date']}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', machine)}-bench"
    files = {"json": str(out / f"{stem}.json"), "markdown": str(out / f"{stem}.md")}
    if with_plot and data["results"]:
        try:
            plot(data, out / f"{stem}.png")
            files["png"] = str(out / f"{stem}.png")
        except MissingDependency as exc:  # the numbers stand without the picture
            data.setdefault("notes", []).append(f"no plot: {exc}")
    Path(files["markdown"]).write_text(markdown(data))
    Path(files["json"]).write_text(json.dumps({**data, "files": files}, indent=1, default=str))
    return files


def _gflops(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _percent(fraction: float | None) -> str:
    return "n/a" if fraction is None else f"{100 * fraction:.0f}%"

"""Benchmark harness reproducing the paper's per-stage runtime analysis (``paracolor bench``)."""

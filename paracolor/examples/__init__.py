"""Bundled greyscale example photos (from scikit-image's data set; public domain / CC0)."""

from pathlib import Path


def examples_dir() -> Path:
    """Folder of the bundled greyscale example photos."""
    return Path(__file__).resolve().parent / "grey"

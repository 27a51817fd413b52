"""File hashing (no heavy imports): source hashes in model metadata, engine sidecars, bundles."""

from __future__ import annotations

import hashlib


def file_sha256(path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()

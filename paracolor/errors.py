"""The errors meant for users: the CLI prints these as one line; anything else is a bug and
keeps its traceback.

Each concrete error also derives from the built-in type it replaced (``ValueError``,
``RuntimeError``, ``ImportError``), so callers catching those keep working.
"""

from __future__ import annotations


class ParacolorError(Exception):
    """Base of every error a user can fix (a bad option, a missing file, a missing extra)."""


class ConfigError(ParacolorError, ValueError):
    """An option or combination of options that cannot work."""


class MissingDependency(ParacolorError, ImportError):
    """An optional package (an extra, TensorRT, a CUDA binding) that this run needs is absent."""

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


def printable(text) -> str:
    """``text`` safe to print on a terminal: control characters (escape sequences, newlines,
    returns, bidirectional overrides) and undecodable bytes in file names are shown as escapes.

    A file named ``"\\x1b]0;owned\\x07.jpg"`` must not retitle or rewrite the user's terminal
    when a summary lists it. JSON reports keep the raw names (JSON escapes them itself).
    """
    out = []
    for ch in str(text):
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch.isprintable() and not 0x202A <= code <= 0x202E and not 0x2066 <= code <= 0x2069:
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape").decode("ascii") if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)

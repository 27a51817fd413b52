"""Model folders: the artifact the engine loads and the builder writes (no torch).

``model.json`` names the ONNX graph of each role per precision and carries the config, colour
constants and hashes written by the exporter, one entry per build (``builds``) and the sha256 of
every built graph (``graphs``). The bundled default model is one of these. Loading checks every
field it uses (one error naming model.json and the field), and each graph is checked against its
recorded sha256 before a backend loads it (once per file and process). The TensorRT engines a folder may hold are the engine cache's
(:mod:`paracolor.engine.engine_cache`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from .. import colorspace
from ..choices import PRECISIONS, ROLES, check
from ..errors import ParacolorError
from ..hashing import file_sha256
from .io import atomic_write

log = logging.getLogger(__name__)

MODEL_FORMAT = "paracolor-model-v1"
META_PREFIX = "paracolor."
#: input and output tensor names of each role's graph (every backend uses these)
IO_NAMES = {
    "fg": (("L",), ("ab",)),
    "bg": (("L",), ("ab",)),
    "fusion": (("L", "ab_fg", "ab_bg"), ("ab",)),
}


class ModelError(ParacolorError, ValueError):
    """A model folder or file that is missing, corrupt or does not match; names the file."""


def default_model_dir() -> Path:
    """The model folder shipped inside the package."""
    return Path(__file__).resolve().parent.parent / "weights" / "default"


def make_graphs_hint(precision: str, merged: bool = False) -> str:
    """The exact commands that make a model folder's missing graphs, and the extra they need
    (the light install has no builder). The bundled folder lives inside the installed package,
    so the graphs go to a folder of the user's, passed on with --model."""
    merge = " --merge-fg-bg" if merged else ""
    if precision == "int8":
        cmd = "'paracolor calibrate --images PHOTOS -o DIR --target cpu'" + (f", then 'paracolor build --model DIR -o DIR --precision int8{merge} --no-engines'" if merged else "")
    else:
        cmd = f"'paracolor build -o DIR --precision {precision}{merge}'"
    return f"make the graphs with {cmd} (the builder needs pip install 'paracolor[build]'), then pass --model DIR"


@dataclass
class ModelFolder:
    """A parsed model folder."""

    root: Path
    card: dict
    verify: bool = True  # check graphs against their recorded sha256 (onnx_path)

    @classmethod
    def load(cls, root=None, verify: bool = True) -> "ModelFolder":
        """Read ``root/model.json`` (the bundled default when ``root`` is None) and check it."""
        root = Path(root) if root is not None else default_model_dir()
        meta = root / "model.json"
        if not meta.is_file():
            hint = " (the bundled default is missing: reinstall paracolor)" if root == default_model_dir() else ""
            raise ModelError(f"{meta}: no model.json, so {root} is not a paracolor model folder{hint}")
        try:
            card = json.loads(meta.read_bytes().decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ModelError(f"{meta}: not UTF-8 text (byte {exc.start}); a model.json is JSON in UTF-8") from None
        except OSError as exc:
            raise ModelError(f"{meta}: cannot read ({exc.strerror or exc})") from None
        except json.JSONDecodeError as exc:
            raise ModelError(f"{meta}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
        validate_card(card, meta, verify)
        return cls(root, card, verify)

    def graph_sha256(self, path: Path) -> str | None:
        """The sha256 model.json records for a graph file of this folder, or None."""
        try:
            rel = path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return None
        recorded = self.card.get("graphs", {}).get(rel)
        if recorded:
            return recorded
        for entry in self.card["models"].values():
            if entry.get("file") == rel:
                return entry.get("sha256")
        return None

    def verified(self, path: Path) -> Path:
        """``path``, after checking it against its recorded sha256 (when :attr:`verify`)."""
        if self.verify:
            expected = self.graph_sha256(path)
            if expected is None:
                log.warning("%s: model.json records no sha256 for this graph; it is loaded unverified", path)
            else:
                verify_sha256(path, expected, self.root / "model.json")
        return path

    @property
    def input_size(self) -> int:
        return self.card["input_size"]

    def onnx_path(self, role: str, precision: str = "fp32") -> Path:
        """Path of the ONNX graph of ``role`` at ``precision``; a clear error if absent."""
        check("role", role, ROLES)
        check("precision", precision, PRECISIONS)
        if precision == "fp32":  # the exporter's entry names the file: use it, never a guess
            path = self.root / self.card["models"][role]["file"]
            if not path.is_file():
                raise ModelError(f"{self.root / 'model.json'}: models.{role}.file is {self.card['models'][role]['file']!r}, but {path} does not exist (re-export the model)")
            return self.verified(path)
        path = self.root / precision / f"{role}.onnx"
        if not path.is_file():
            how = make_graphs_hint(precision) if precision != "fp32" else "re-export the model with 'paracolor export'"
            raise ModelError(f"{path}: missing {precision} graph for {role}; {how}")
        return self.verified(path)

    def network_size(self, precision: str = "fp32") -> int:
        """Input size of the graphs at ``precision``: built graphs have static spatial sizes."""
        build = self.card.get("builds", {}).get(precision)
        return int(build["size"]) if build else self.input_size

    def copy_to(self, out) -> "ModelFolder":
        """This model (model.json, card, fp32/ graphs, checkpoints/) in folder ``out``, where a
        build adds its precision; ``out`` may be this folder itself. Returns the folder at ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        if out.resolve() != self.root.resolve():
            for name in ("fp32", "checkpoints"):
                if (self.root / name).is_dir():
                    shutil.copytree(self.root / name, out / name, dirs_exist_ok=True)
            for f in ("model.json", "MODEL_CARD.md"):
                if (self.root / f).is_file():
                    shutil.copy2(self.root / f, out / f)
        return ModelFolder.load(out)

    def record_build(self, precision: str, entry: dict) -> None:
        """Record in model.json (atomically: a reader sees the old card or the new) that the
        ``precision`` graphs were built with ``entry`` (size, attention, io, accuracy, ...)."""
        self.card.setdefault("builds", {})[precision] = entry
        graphs = self.card.setdefault("graphs", {})
        for path in sorted((self.root / precision).glob("*.onnx")):  # what this build wrote, and any earlier
            graphs[path.relative_to(self.root).as_posix()] = file_sha256(path)
        atomic_write(self.root / "model.json", json.dumps(self.card, indent=1).encode(), overwrite=True)

    def config(self, role: str) -> dict:
        return self.card["models"][role]["config"]

    def describe(self) -> dict:
        """A short summary for ``paracolor info`` (the full card is MODEL_CARD.md)."""
        trained = self.card.get("trained", {})
        summary = {
            "path": str(self.root),
            "input_size": self.input_size,
            "precisions": [p for p in PRECISIONS if (self.root / p / "fg.onnx").is_file()],
        }
        if trained:
            summary["trained"] = f"{trained.get('date')} on {trained.get('machine')}, {trained.get('recipe')}"
        for name, rows in self.card.get("validation", {}).items():
            m, g = rows["model"], rows["grey"]
            summary[f"validation {name}"] = (
                f"PSNR {m['psnr']:.2f} dB (grey {g['psnr']:.2f}), colourfulness {m['colourfulness']:.1f} "
                f"(truth {m['colourfulness_ref']:.1f}, gap {m['colourfulness_gap']:.1f} vs grey {g['colourfulness_gap']:.1f})"
            )
        if (self.root / "MODEL_CARD.md").is_file():
            summary["card"] = str(self.root / "MODEL_CARD.md")
        return summary


_HEX64 = re.compile(r"[0-9a-f]{64}")


def validate_card(card, meta: Path, verify: bool = True) -> None:
    """Every model.json field the engine reads, with one error naming the file and the field."""

    def bad(field: str, why: str):
        raise ModelError(f"{meta}: field {field!r} {why}")

    if not isinstance(card, dict):
        raise ModelError(f"{meta}: expected a JSON object, found {type(card).__name__}")
    if card.get("format") != MODEL_FORMAT:
        raise ModelError(f"{meta}: format {card.get('format')!r}, expected {MODEL_FORMAT!r}")
    consts = card.get("colorspace")
    if not isinstance(consts, dict):
        bad("colorspace", "is missing or not an object")
    ours = colorspace.constants()
    if any(consts.get(k) != v for k, v in ours.items()):
        raise ModelError(f"{meta}: colour constants {consts} do not match this paracolor's {ours}")
    size = card.get("input_size")
    if not _is_size(size):
        bad("input_size", f"must be a whole number of pixels, a multiple of 32 from 32 to 4096; found {size!r}")
    models = card.get("models")
    if not isinstance(models, dict):
        bad("models", "is missing or not an object")
    missing = [r for r in ROLES if r not in models]
    if missing:
        raise ModelError(f"{meta}: no entry for {missing} in field 'models'")
    for role in ROLES:
        entry = models[role]
        if not isinstance(entry, dict):
            bad(f"models.{role}", "is not an object")
        f = entry.get("file")
        if not isinstance(f, str) or not f or os.path.isabs(f) or ".." in Path(f).parts:
            bad(f"models.{role}.file", f"must name a graph inside the model folder, found {f!r}")
        sha = entry.get("sha256")
        if sha is None and verify:
            bad(f"models.{role}.sha256", "is missing (re-export the model, or skip the check with --no-verify-model)")
        if sha is not None and not (isinstance(sha, str) and _HEX64.fullmatch(sha)):
            bad(f"models.{role}.sha256", f"must be 64 hex digits, found {sha!r}")
        if "config" in entry and not isinstance(entry["config"], dict):
            bad(f"models.{role}.config", "is not an object")
    builds = card.get("builds", {})
    if not isinstance(builds, dict):
        bad("builds", "is not an object")
    for precision, build in builds.items():
        if not isinstance(build, dict):
            bad(f"builds.{precision}", "is not an object")
        if not _is_size(build.get("size")):
            bad(f"builds.{precision}.size", f"must be a whole number of pixels, a multiple of 32; found {build.get('size')!r}")
    graphs = card.get("graphs", {})
    if not isinstance(graphs, dict):
        bad("graphs", "is not an object")
    for rel, sha in graphs.items():
        if not (isinstance(sha, str) and _HEX64.fullmatch(sha)):
            bad(f"graphs.{rel}", f"must be 64 hex digits, found {sha!r}")


def _is_size(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 32 <= v <= 4096 and v % 32 == 0


#: (real path, size, mtime, inode) of graphs already checked in this process
_VERIFIED: set[tuple] = set()
_VERIFY_LOCK = threading.Lock()


def verify_sha256(path: Path, expected: str, meta: Path) -> None:
    """Check ``path`` against its recorded sha256, once per file version and process.

    About 0.1 s for the default model's 24 MB of FP32 graphs; a changed file (size, mtime or
    inode) is hashed again."""
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns, st.st_ino, expected)
    with _VERIFY_LOCK:
        if key in _VERIFIED:
            return
    actual = file_sha256(path)
    if actual != expected:
        raise ModelError(
            f"{path}: sha256 {actual[:12]}... does not match {expected[:12]}... recorded in {meta}: the graph is corrupt or was "
            "changed after export (re-export or rebuild it; --no-verify-model skips this check)"
        )
    with _VERIFY_LOCK:
        _VERIFIED.add(key)

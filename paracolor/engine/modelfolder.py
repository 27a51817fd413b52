"""Model folders: the artifact the engine loads and the builder writes (no torch).

``model.json`` names the ONNX graph of each role per precision and carries the config, colour
constants and hashes written by the exporter, and one entry per build (``builds``). The bundled
default model is one of these. The TensorRT engines a folder may hold are the engine cache's
(:mod:`paracolor.engine.engine_cache`).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from .. import colorspace
from ..choices import PRECISIONS, ROLES, check
from ..errors import ParacolorError
from .io import atomic_write

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

    @classmethod
    def load(cls, root=None) -> "ModelFolder":
        """Read ``root/model.json`` (the bundled default when ``root`` is None) and check it."""
        root = Path(root) if root is not None else default_model_dir()
        meta = root / "model.json"
        if not meta.is_file():
            hint = " (the bundled default is missing: reinstall paracolor)" if root == default_model_dir() else ""
            raise ModelError(f"{meta}: no model.json, so {root} is not a paracolor model folder{hint}")
        try:
            card = json.loads(meta.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"{meta}: unreadable model description ({exc})") from None
        if card.get("format") != MODEL_FORMAT:
            raise ModelError(f"{meta}: format {card.get('format')!r}, expected {MODEL_FORMAT!r}")
        consts = card.get("colorspace", {})
        ours = colorspace.constants()
        if any(consts.get(k) != v for k, v in ours.items()):
            raise ModelError(f"{meta}: colour constants {consts} do not match this paracolor's {ours}")
        missing = [r for r in ROLES if r not in card.get("models", {})]
        if missing:
            raise ModelError(f"{meta}: no entry for {missing}")
        return cls(root, card)

    @property
    def input_size(self) -> int:
        return int(self.card["input_size"])

    def onnx_path(self, role: str, precision: str = "fp32") -> Path:
        """Path of the ONNX graph of ``role`` at ``precision``; a clear error if absent."""
        check("role", role, ROLES)
        check("precision", precision, PRECISIONS)
        path = self.root / precision / f"{role}.onnx"
        if not path.is_file():
            how = make_graphs_hint(precision) if precision != "fp32" else "re-export the model with 'paracolor export'"
            raise ModelError(f"{path}: missing {precision} graph for {role}; {how}")
        return path

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

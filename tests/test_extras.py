"""The extras map and the one helper that turns a missing optional module into a message."""

import re
import sys
import tomllib
from pathlib import Path

import pytest

from paracolor.errors import MissingDependency
from paracolor.extras import EXTRA_MODULES, extra_for, missing, require

TRANSITIVE = {"pyarrow"}  # comes with ray[data]


def _dist_to_module(req: str) -> str:
    name = re.split(r"[<>=\[ ;]", req, maxsplit=1)[0]
    return name.lower().replace("-", "_")


def test_extra_modules_match_pyproject():
    extras = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for extra, modules in EXTRA_MODULES.items():
        declared = {_dist_to_module(r) for r in extras[extra]}
        assert set(modules) - TRANSITIVE <= declared, extra


def test_extra_for_prefers_the_commands_extra():
    assert extra_for("torch") == "train" and extra_for("torch", "build") == "build" and extra_for("torch", "eval") == "eval"
    assert extra_for("scipy.linalg") == "eval" and extra_for("onnx_graphsurgeon") == "build" and extra_for("numpy") is None


def test_require_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingDependency, match=r"the plot needs matplotlib, which is not installed: pip install 'paracolor\[bench\]'"):
        require("matplotlib", "the plot")
    assert isinstance(missing("torch", "x"), ImportError) and "whl/cpu" in str(missing("torch", "x"))
    assert require("json", "x").dumps([]) == "[]"


def test_require_keeps_a_broken_module_a_bug(monkeypatch, tmp_path):
    (tmp_path / "half_installed.py").write_text("import numpy\nimport no_such_module_inside\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as info:
        require("half_installed", "x")
    assert not isinstance(info.value, MissingDependency)

"""The backend registry: the one place that picks a backend, and clear refusals before loading."""

import importlib.util
import sys

import numpy as np
import pytest

from paracolor.choices import BACKENDS
from paracolor.engine import backends
from paracolor.engine.pipeline import Colorizer, EngineConfig
from paracolor.errors import ConfigError, MissingDependency, ParacolorError
from tests.conftest import HAS_TORCH


def test_registry_names_are_the_backend_choices():
    assert set(backends.REGISTRY) == set(BACKENDS) - {"auto"}
    for module, _ in backends.REGISTRY.values():
        assert importlib.util.find_spec(f"paracolor.engine.backends.{module}") is not None


def test_choose(monkeypatch):
    monkeypatch.setattr(backends, "_x86", lambda: False)  # where openvino is not auto's choice
    assert backends.choose(EngineConfig()) == "onnxruntime"
    assert backends.choose(EngineConfig(engines="x")) == "tensorrt"  # auto with engines
    assert backends.choose(EngineConfig(backend="onnxruntime", engines="x")) == "onnxruntime"
    assert backends.choose(EngineConfig(backend="torch")) == "torch"
    with pytest.raises(ConfigError, match="needs --engines"):
        EngineConfig(backend="tensorrt")
    with pytest.raises(ConfigError, match="unknown backend"):
        EngineConfig(backend="tflite")


def test_colorizer_says_which_backend_runs(tiny_model_dir):
    with Colorizer(EngineConfig(model_dir=str(tiny_model_dir), backend="onnxruntime")) as col:
        d = col.describe()
        assert col.backend == d["backend"] == "onnxruntime" and col.max_batch is None and col.in_flight == 0
        assert d["precision"] == "fp32" and d["size"] == 64 and d["device"] == "cpu"
        col.infer(np.zeros((1, 1, 64, 64), np.float32))
        assert set(col.timings) == {"generators", "fusion"}


@pytest.mark.skipif(not HAS_TORCH, reason="needs torch")
def test_torch_backend_on_the_cpu_and_merged_refused_before_loading(tiny_model_dir, monkeypatch):
    with Colorizer(EngineConfig(model_dir=str(tiny_model_dir), backend="torch", device="cpu")) as col:
        assert col.backend == "torch" and col.describe()["stages"][0]["device"] == "cpu"
    from paracolor.engine.backends import torch as torch_backend

    monkeypatch.setattr(torch_backend, "load_role", lambda *a: pytest.fail("models loaded before the refusal"))
    with pytest.raises(ConfigError, match="merged fg\\+bg graph"):
        Colorizer(EngineConfig(model_dir=str(tiny_model_dir), backend="torch", schedule="merged"))


def test_missing_framework_is_a_user_error(tiny_model_dir, monkeypatch):
    monkeypatch.delitem(sys.modules, "paracolor.engine.backends.torch", raising=False)
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    with pytest.raises(MissingDependency, match="the torch backend needs torch, which is not installed: pip install 'paracolor\\[train\\]'"):
        Colorizer(EngineConfig(model_dir=str(tiny_model_dir), backend="torch"))
    monkeypatch.delitem(sys.modules, "paracolor.engine.backends.openvino", raising=False)
    monkeypatch.setitem(sys.modules, "openvino", None)
    with pytest.raises(MissingDependency, match="the openvino backend needs openvino: pip install 'paracolor\\[openvino\\]'"):
        Colorizer(EngineConfig(model_dir=str(tiny_model_dir), backend="openvino"))
    if importlib.util.find_spec("tensorrt") is None:
        with pytest.raises(MissingDependency, match="TensorRT's Python bindings"):
            Colorizer(EngineConfig(model_dir=str(tiny_model_dir), engines=str(tiny_model_dir)))
    assert issubclass(MissingDependency, ParacolorError) and issubclass(MissingDependency, ImportError)

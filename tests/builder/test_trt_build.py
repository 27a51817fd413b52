"""Engine-cache bookkeeping and the build call sequence.

TEST DOUBLE: ``FakeTensorRT`` below stands in for the tensorrt module to check bookkeeping
only (profile shapes, timing-cache round trip, parser error text, sidecar); it says nothing
about TensorRT's behaviour, which is verified only by benchmarks/trt_check.py on a machine
with TensorRT.
"""

import sys
import types

import pytest

pytest.importorskip("torch")

from paracolor.builder import trt as trtmod  # noqa: E402


def _opts(**kw):
    return trtmod.TrtBuildOptions(max_batch=8, **kw)


def test_profile_validation():
    with pytest.raises(ValueError):
        trtmod.TrtBuildOptions(min_batch=4, max_batch=2).profile()
    assert trtmod.TrtBuildOptions(max_batch=16, opt_batch=4).profile() == (1, 4, 16)


class FakeTensorRT(types.ModuleType):
    """TEST DOUBLE for bookkeeping only: records calls, builds nothing."""

    __version__ = "11.4.0.106"

    def __init__(self, parse_ok=True):
        super().__init__("tensorrt")
        self.calls = []
        fake = self

        class Logger:
            WARNING = 2

            def __init__(self, sev):
                pass

        class Tensor:
            name, shape = "L", (-1, 1, 64, 64)

        class Network:
            num_inputs = 1

            def get_input(self, i):
                return Tensor()

        class Err:
            def node_name(self):
                return "/attention.8/Attention"

            def node_operator(self):
                return "Attention"

            def desc(self):
                return "unsupported"

        class Parser:
            num_errors = 0 if parse_ok else 1

            def __init__(self, network, logger):
                pass

            def parse_from_file(self, path):
                return parse_ok

            def get_error(self, i):
                return Err()

        class Profile:
            def set_shape(self, name, lo, opt, hi):
                fake.calls.append(("profile", name, lo, opt, hi))

        class Cache:
            def serialize(self):
                return b"timing-cache"

        class Config:
            builder_optimization_level = None
            max_aux_streams = None

            def set_memory_pool_limit(self, pool, size):
                fake.calls.append(("workspace", size))

            def add_optimization_profile(self, p):
                pass

            def create_timing_cache(self, data):
                fake.calls.append(("cache_in", data))
                return Cache()

            def set_timing_cache(self, cache, ignore):
                pass

            def get_timing_cache(self):
                return Cache()

        class Builder:
            num_DLA_cores = 0

            def __init__(self, logger):
                pass

            def create_network(self, flags):
                fake.calls.append(("flags", flags))
                return Network()

            def create_builder_config(self):
                return Config()

            def create_optimization_profile(self):
                return Profile()

            def build_serialized_network(self, network, config):
                return b"serialized-engine"

        self.Logger, self.Builder, self.OnnxParser = Logger, Builder, Parser
        self.NetworkDefinitionCreationFlag = types.SimpleNamespace(STRONGLY_TYPED=0)
        self.MemoryPoolType = types.SimpleNamespace(WORKSPACE=0)


def test_build_call_sequence_with_test_double(tmp_path, monkeypatch):
    fake = FakeTensorRT()
    monkeypatch.setitem(sys.modules, "tensorrt", fake)
    gpu = {"name": "Fake GPU", "compute_capability": "9.0"}
    onnx_file = tmp_path / "fg.onnx"
    onnx_file.write_bytes(b"graph")
    cache = tmp_path / "timing.cache"
    opts = trtmod.TrtBuildOptions(min_batch=1, opt_batch=4, max_batch=8, timing_cache=str(cache), workspace_mb=64)
    plan, status = trtmod.cached_build(onnx_file, tmp_path / "eng", "fg", "fp16", opts, gpu)
    assert status.startswith("built (no engine built yet")
    assert plan.read_bytes() == b"serialized-engine" and cache.read_bytes() == b"timing-cache"
    assert ("profile", "L", (1, 1, 64, 64), (4, 1, 64, 64), (8, 1, 64, 64)) in fake.calls
    assert ("flags", 1) in fake.calls and ("workspace", 64 << 20) in fake.calls
    plan2, status2 = trtmod.cached_build(onnx_file, tmp_path / "eng", "fg", "fp16", opts, gpu)
    assert status2 == "reused"
    assert ("cache_in", b"timing-cache") not in fake.calls  # reuse did not rebuild


def test_parser_errors_name_the_node(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", FakeTensorRT(parse_ok=False))
    onnx_file = tmp_path / "fg.onnx"
    onnx_file.write_bytes(b"graph")
    with pytest.raises(trtmod.TrtBuildError, match=r"/attention.8/Attention \(Attention\): unsupported"):
        trtmod.build_engine(onnx_file, tmp_path / "fg.plan", "fp16", _opts(), {"name": "Fake GPU", "compute_capability": "9.0"})


def test_builder_sidecar_records_profile_and_options_without_the_timing_cache(tmp_path):
    onnx_file = tmp_path / "fg.onnx"
    onnx_file.write_bytes(b"graph")
    side = trtmod.expected_sidecar(onnx_file, "fp16", _opts(timing_cache="x.cache"), {"name": "GPU A", "compute_capability": "8.7"}, "10.3.0")
    assert side["profile"] == [1, 8, 8] and side["gpu"] == "GPU A"
    assert "timing_cache" not in side["options"] and side["options"]["max_batch"] == 8

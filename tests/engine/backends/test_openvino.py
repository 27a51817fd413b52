"""The OpenVINO backend on the tiny models: same results as onnxruntime at fp32, every schedule,
bf16 and int8 close to fp32, the model cache, the role check, and auto's choice."""

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("openvino", reason="the openvino backend needs openvino: pip install 'paracolor[openvino]'")

from paracolor.engine import backends  # noqa: E402
from paracolor.engine.backends import openvino as ov_backend  # noqa: E402
from paracolor.engine.modelfolder import ModelError, ModelFolder  # noqa: E402
from paracolor.engine.pipeline import Colorizer, EngineConfig  # noqa: E402
from paracolor.errors import ConfigError  # noqa: E402


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Each test compiles into its own model cache."""
    d = tmp_path / "cache"
    monkeypatch.setenv(ov_backend.CACHE_ENV, str(d))
    return d / "openvino"


def _L(n=2, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, 1, 64, 64)).astype(np.float32)


def _run(model_dir, **kw):
    with Colorizer(EngineConfig(model_dir=str(model_dir), **kw)) as col:
        return col.infer(_L()), col.describe()


@pytest.mark.parametrize("schedule", ["parallel", "sequential", "merged"])
def test_fp32_matches_onnxruntime_on_every_schedule(tiny_model_dir, schedule):
    ref, _ = _run(tiny_model_dir, backend="onnxruntime", schedule="sequential")
    out, d = _run(tiny_model_dir, backend="openvino", schedule=schedule)
    assert d["backend"] == "openvino" and d["schedule"] == schedule and d["device"] == "cpu"
    assert all(s["inference_precision"] == "f32" for s in d["stages"])  # not the CPU's bf16 default
    for k in ("ab_fg", "ab_bg", "ab"):
        assert out[k].shape == ref[k].shape and out[k].dtype == np.float32
        np.testing.assert_allclose(out[k], ref[k], atol=2e-4)


def test_parallel_threads_split_the_cores(tiny_model_dir):
    # (OpenVINO caps threads at the physical cores: CI machines have at least two)
    _, d = _run(tiny_model_dir, backend="openvino", threads=2)
    assert [s["threads"] for s in d["stages"]] == [1, 1, 2]
    _, d = _run(tiny_model_dir, backend="openvino", threads=2, schedule="merged")
    assert [s["role"] for s in d["stages"]] == ["fg+bg", "fusion"] and [s["threads"] for s in d["stages"]] == [2, 2]


def test_results_do_not_alias_the_next_inference(tiny_model_dir):
    with Colorizer(EngineConfig(model_dir=str(tiny_model_dir), backend="openvino", schedule="sequential")) as col:
        first = col.infer(_L(seed=1))
        kept = {k: v.copy() for k, v in first.items()}
        col.infer(_L(seed=2))
        for k in kept:
            assert np.array_equal(first[k], kept[k])


@pytest.mark.skipif(not ov_backend.has_bf16(), reason="this CPU has no bf16 for OpenVINO")
def test_bf16_runs_the_fp32_graphs_in_bf16(tiny_model_dir):
    ref, _ = _run(tiny_model_dir, backend="openvino")
    out, d = _run(tiny_model_dir, backend="openvino", precision="bf16")
    assert d["precision"] == "bf16" and all(s["inference_precision"] == "bf16" for s in d["stages"])
    assert all("/fp32/" in s["path"] for s in d["stages"])
    err = np.abs(out["ab"] - ref["ab"])
    assert 0 < err.max() < 0.1 and err.mean() < 0.01  # bf16 keeps 8 mantissa bits: close, not equal


def test_bf16_refused_where_it_cannot_run(tiny_model_dir, monkeypatch):
    for backend in ("onnxruntime", "torch"):
        with pytest.raises(ConfigError, match=f"the {backend} backend cannot compute bf16; use --backend openvino"):
            EngineConfig(backend=backend, precision="bf16")
    assert backends.choose(EngineConfig(precision="bf16")) == "openvino"
    monkeypatch.setattr(ov_backend, "has_bf16", lambda: False)
    with pytest.raises(ConfigError, match="no bf16 support"):
        Colorizer(EngineConfig(model_dir=str(tiny_model_dir), backend="openvino", precision="bf16"))


def test_model_cache_is_written_once_and_reused(tiny_model_dir, cache, monkeypatch):
    _run(tiny_model_dir, backend="openvino", schedule="sequential")
    blobs = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.blob")}
    assert len(blobs) == 3  # fg, bg, fusion
    _run(tiny_model_dir, backend="openvino", schedule="sequential")
    assert {p.name: p.stat().st_mtime_ns for p in cache.glob("*.blob")} == blobs  # imported, not recompiled
    monkeypatch.setenv(ov_backend.CACHE_ENV, "off")
    assert ov_backend.cache_dir() is None
    _run(tiny_model_dir, backend="openvino", schedule="sequential")
    assert len(list(cache.glob("*.blob"))) == 3


def test_wrong_role_and_bad_file_are_model_errors(tiny_model_dir, tmp_path):
    folder = ModelFolder.load(tiny_model_dir)
    with pytest.raises(ModelError, match="graph of role 'fg' loaded as 'bg'"):
        ov_backend.OvRunner(folder.onnx_path("fg"), "bg")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a graph")
    with pytest.raises(ModelError, match="bad.onnx: cannot load the ONNX graph"):
        ov_backend.OvRunner(bad, "fg")


def test_auto_picks_openvino_on_x86_when_installed(monkeypatch):
    monkeypatch.setattr(backends, "_x86", lambda: True)
    monkeypatch.setattr(backends, "_has_onnxruntime_gpu", lambda: False)
    assert backends.choose(EngineConfig()) == "openvino"
    assert backends.choose(EngineConfig(precision="int8")) == "openvino"
    assert backends.choose(EngineConfig(device="cuda")) == "onnxruntime"
    assert backends.choose(EngineConfig(engines="x")) == "tensorrt"
    monkeypatch.setattr(backends, "_has_onnxruntime_gpu", lambda: True)
    assert backends.choose(EngineConfig()) == "onnxruntime"  # CUDA through onnxruntime-gpu
    monkeypatch.setattr(backends, "_has_onnxruntime_gpu", lambda: False)
    monkeypatch.setattr(backends, "_x86", lambda: False)
    assert backends.choose(EngineConfig()) == "onnxruntime"  # Arm (Jetson): not measured there
    monkeypatch.setattr(backends, "_x86", lambda: True)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else real(name, *a))
    assert backends.choose(EngineConfig()) == "onnxruntime"


def test_parallel_schedule_in_a_fresh_process(tiny_model_dir, tmp_path):
    """The first numpy conversion of OpenVINO's bindings must not happen in two threads at once
    (it deadlocked before the runner touched a tensor in its constructor)."""
    script = f"""
import numpy as np
from paracolor.engine.pipeline import Colorizer, EngineConfig
with Colorizer(EngineConfig(model_dir={str(tiny_model_dir)!r}, backend="openvino")) as col:
    print(col.infer(np.zeros((1, 1, 64, 64), np.float32))["ab"].shape)
"""
    env = {**__import__("os").environ, ov_backend.CACHE_ENV: str(tmp_path / "c")}
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "(1, 2, 64, 64)"


@pytest.fixture(scope="module")
def int8_models(tiny_model_dir, photo_dir, tmp_path_factory):
    """The tiny model calibrated for each target (U8S8 for the CPU, S8S8 for TensorRT)."""
    pytest.importorskip("onnx_graphsurgeon")
    from paracolor.builder.calib.calibrate import calibrate
    from paracolor.builder.calib.qdq import CalibConfig

    out = {}
    for target in ("cpu", "tensorrt"):
        out[target] = tmp_path_factory.mktemp("int8") / target
        calibrate(CalibConfig(images=str(photo_dir), out_dir=str(out[target]), model_dir=str(tiny_model_dir), method="minmax", num=4, target=target))
    return out


@pytest.mark.parametrize("target", ["cpu", "tensorrt"])
def test_int8_graphs_of_either_target_run_close_to_onnxruntime(int8_models, target):
    ref, _ = _run(int8_models[target], backend="onnxruntime", precision="int8", schedule="sequential")
    fp32, _ = _run(int8_models[target], backend="onnxruntime", schedule="sequential")
    out, d = _run(int8_models[target], backend="openvino", precision="int8")
    assert all("/int8/" in s["path"] for s in d["stages"])
    # OpenVINO and onnxruntime round int8 differently; both stay near the fp32 result
    assert np.abs(out["ab"] - ref["ab"]).mean() < 0.02
    assert np.abs(out["ab"] - fp32["ab"]).mean() < 2 * np.abs(ref["ab"] - fp32["ab"]).mean() + 0.01
    merged, _ = _run(int8_models[target], backend="openvino", precision="int8", schedule="merged")
    # (one thread per generator against two: other kernels, so a few requantizations round apart)
    assert np.abs(merged["ab"] - out["ab"]).max() < 5e-3


def test_colorize_cli_with_openvino_bf16(tiny_model_dir, photo_dir, tmp_path):
    from click.testing import CliRunner

    from paracolor.cli import main

    precision = "bf16" if ov_backend.has_bf16() else "fp32"
    res = CliRunner().invoke(main, ["colorize", str(photo_dir), "-o", str(tmp_path / "out"), "--model", str(tiny_model_dir), "--backend", "openvino", "--precision", precision, "--quiet"])
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "out").glob("*.jpg"))) == 8


def test_info_shows_the_runtime_and_autos_choice(monkeypatch):
    from paracolor.info import collect_info

    monkeypatch.setattr(backends, "_x86", lambda: True)
    monkeypatch.setattr(backends, "_has_onnxruntime_gpu", lambda: False)
    info = collect_info()
    assert info["backends"]["auto"] == "openvino"
    assert info["backends"]["openvino"].startswith(ov_backend.ov.get_version().split("-")[0]) and "FP32" in info["backends"]["openvino"]
    assert "openvino" in info["versions"]

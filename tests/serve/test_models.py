"""The served models' callables on plain numpy, the stub environment's pieces and the config."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from paracolor.engine.config import EngineConfig
from paracolor.engine.io import read_image
from paracolor.engine.pipeline import Colorizer
from paracolor.errors import ConfigError, MissingDependency
from paracolor.serve import stub
from paracolor.serve.config import ServeConfig
from paracolor.serve.models import AbModel, ColorizeModel
from tests.conftest import write_photo


@pytest.fixture(scope="module")
def colorizer(tiny_model_dir):
    with Colorizer(EngineConfig(model_dir=str(tiny_model_dir))) as c:
        yield c


def test_items_of_several_requests_are_answered_each(colorizer, tmp_path):
    good = [write_photo(tmp_path / f"g{i}.png", seed=i, ext=".png").read_bytes() for i in range(2)]
    model = ColorizeModel(colorizer, max_pixels=100_000)
    try:
        huge = cv2.imencode(".png", np.zeros((400, 400), np.uint8))[1].tobytes()
        out = model([
            {"image": np.array([[good[0]], [b"junk"]], dtype=object)},
            {"image": np.array([[huge], [good[1]]], dtype=object), "format": np.array([[b"png"], [b"JPEG"]], dtype=object)},
        ])
    finally:
        model.close()
    assert [r["image"].shape for r in out] == [(2, 1), (2, 1)]
    errors = [[e.decode() for e in r["error"][:, 0]] for r in out]
    assert errors[0][0] == "" and "not a decodable image" in errors[0][1]
    assert "above the limit of 100,000" in errors[1][0] and errors[1][1] == ""
    assert out[1]["image"][1, 0][:3] == b"\xff\xd8\xff"
    # the good item equals the engine's own result for that photo alone
    want = colorizer.colorize([read_image(tmp_path / "g0.png")])[0].bgr
    got = cv2.imdecode(np.frombuffer(out[0]["image"][0, 0], np.uint8), cv2.IMREAD_UNCHANGED)
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1


def test_a_request_of_only_bad_items_runs_no_batch(colorizer):
    model = ColorizeModel(colorizer)
    try:
        out = model([{"image": np.array([[b""], [b"\xff\xd8\xff"]], dtype=object)}])
    finally:
        model.close()
    assert [e.decode() for e in out[0]["error"][:, 0]] == ["item 0: no image bytes", "item 1: truncated JPEG (no end-of-image marker after the image data)"]


def test_ab_model(colorizer):
    S = colorizer.size
    L = np.random.default_rng(0).uniform(-1, 1, (3, 1, S, S)).astype(np.float32)
    ab = AbModel(colorizer)(L)["ab"]
    assert ab.shape == (3, 2, S, S) and ab.dtype == np.float32
    assert np.allclose(ab, colorizer.infer(L)["ab"], atol=1e-6)
    with pytest.raises(ValueError, match="must be"):
        AbModel(colorizer)(np.zeros((1, 1, S + 32, S), np.float32))


def test_library_env_puts_the_interpreters_libdir_first(monkeypatch, tmp_path):
    (tmp_path / "libpython3.99.so.1.0").write_bytes(b"")
    values = {"LIBDIR": str(tmp_path), "INSTSONAME": "libpython3.99.so.1.0"}
    monkeypatch.setattr(stub.sysconfig, "get_config_var", values.get)
    assert stub.library_env({"LD_LIBRARY_PATH": f"/x:{tmp_path}"})["LD_LIBRARY_PATH"] == f"{tmp_path}:/x"
    assert stub.library_env({})["LD_LIBRARY_PATH"] == str(tmp_path)
    values["INSTSONAME"] = "libpython3.99.a"  # a static interpreter: nothing to fix
    assert "LD_LIBRARY_PATH" not in stub.library_env({})


def test_missing_extra_names_the_install(monkeypatch):
    with pytest.raises(MissingDependency, match=r"paracolor\[serve\]"):
        stub.require("no_such_module_paracolor")


def test_config_checks():
    with pytest.raises(ConfigError, match="must differ"):
        ServeConfig(http_port=9000, grpc_port=9000)
    with pytest.raises(ConfigError, match="max batch"):
        ServeConfig(max_batch=0)
    with pytest.raises(ConfigError, match="1-65535"):
        ServeConfig(metrics_port=70000)


def test_serve_modules_import_no_pytriton():
    code = "import sys, paracolor.serve.server, paracolor.serve.repo; print(sorted(m for m in ('pytriton', 'tritonclient', 'torch') if m in sys.modules))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


def test_a_busy_port_is_refused_at_once():
    import socket

    from paracolor.serve.server import check_ports

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(ConfigError, match=f"HTTP port 127.0.0.1:{port} is not free"):
            check_ports(ServeConfig(http_port=port, grpc_port=port + 1 if port < 65535 else 1025, metrics_port=1026 if port != 1026 else 1027))


def test_serve_without_the_extra_is_one_line(monkeypatch):
    from types import SimpleNamespace

    from click.testing import CliRunner

    from paracolor.cli import main

    monkeypatch.setattr(stub, "importlib", SimpleNamespace(util=SimpleNamespace(find_spec=lambda name: None)))
    res = CliRunner().invoke(main, ["serve", "--http-port", "18990", "--grpc-port", "18991", "--metrics-port", "18992"])
    assert res.exit_code == 1
    assert "pip install 'paracolor[serve]'" in res.output and "Traceback" not in res.output

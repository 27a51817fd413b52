"""A real Triton server (``paracolor serve`` in a subprocess) queried with tritonclient over HTTP and gRPC."""

from __future__ import annotations

import struct
import threading
import time
import urllib.request
import zlib
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

import cv2
import numpy as np
import pytest

from tests.conftest import write_photo

from .conftest import ServeProcess

pytestmark = pytest.mark.slow


def _client(server, protocol):
    if protocol == "http":
        import tritonclient.http as mod

        return mod, mod.InferenceServerClient(server.http_url, network_timeout=120)
    import tritonclient.grpc as mod

    return mod, mod.InferenceServerClient(server.grpc_url)


def _colorize(server, protocol, blobs, formats=None):
    mod, client = _client(server, protocol)
    with closing(client):
        inputs = [mod.InferInput("image", [len(blobs), 1], "BYTES")]
        inputs[0].set_data_from_numpy(np.array([[b] for b in blobs], dtype=object))
        if formats is not None:
            inputs.append(mod.InferInput("format", [len(blobs), 1], "BYTES"))
            inputs[1].set_data_from_numpy(np.array([[f.encode()] for f in formats], dtype=object))
        result = client.infer("paracolor", inputs)
        return [v[0] for v in result.as_numpy("image")], [e[0].decode() for e in result.as_numpy("error")]


def _decode(blob: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_UNCHANGED)
    assert img is not None
    return img


def _bomb_png(w=40000, h=40000) -> bytes:
    """A PNG whose header claims w x h pixels (1.6 G), with almost no data: a decompression bomb's shape."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    d = tmp_path_factory.mktemp("serve-photos")
    return [write_photo(d / f"s{i}.png", w=120 + 8 * i, h=90, seed=10 + i, ext=".png") for i in range(3)]


@pytest.fixture(scope="module")
def reference(photos, tiny_model_dir, tmp_path_factory):
    """``paracolor colorize --format png`` of the same photos: what the server must return."""
    from click.testing import CliRunner

    from paracolor.cli import main

    out = tmp_path_factory.mktemp("serve-ref")
    res = CliRunner().invoke(main, ["colorize", *map(str, photos), "-o", str(out), "--model", str(tiny_model_dir), "--format", "png", "--quiet"])
    assert res.exit_code == 0, res.output
    return [_decode((out / p.name).read_bytes()) for p in photos]


def _assert_close(got: np.ndarray, want: np.ndarray):
    assert got.shape == want.shape
    # batch composition may move a network output by float rounding: at most one 8-bit level
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1


def test_ready_and_config(server):
    import tritonclient.http as httpclient

    with closing(httpclient.InferenceServerClient(server.http_url)) as c:
        assert c.is_server_live() and c.is_server_ready()
        cfg = c.get_model_config("paracolor")
        assert cfg["max_batch_size"] == 8
        assert int(cfg["dynamic_batching"]["max_queue_delay_microseconds"]) == 300000
        assert {i["name"]: i["data_type"] for i in cfg["input"]} == {"image": "TYPE_STRING", "format": "TYPE_STRING"}
        assert {o["name"] for o in c.get_model_config("paracolor_ab")["output"]} == {"ab"}


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_colorized_photo_matches_colorize(server, protocol, photos, reference):
    blobs = [p.read_bytes() for p in photos]
    images, errors = _colorize(server, protocol, blobs)
    assert errors == ["", "", ""]
    for blob, want in zip(images, reference):
        _assert_close(_decode(blob), want)


def test_formats(server, photos, reference):
    blob = photos[0].read_bytes()
    images, errors = _colorize(server, "http", [blob, blob, blob, blob], ["jpeg", "webp", "png", "gif"])
    assert errors[:3] == ["", "", ""] and "unknown format 'gif'" in errors[3]
    assert images[0][:3] == b"\xff\xd8\xff" and images[1][8:12] == b"WEBP" and images[2][:4] == b"\x89PNG"
    assert images[3] == b""
    assert _decode(images[0]).shape == reference[0].shape


def test_bad_items_do_not_fail_their_neighbours(server, photos, reference):
    huge = cv2.imencode(".png", np.full((500, 500, 3), 128, np.uint8))[1].tobytes()  # 250,000 px > --max-pixels 200,000
    good = photos[1].read_bytes()
    images, errors = _colorize(server, "grpc", [b"not an image", good, _bomb_png(), huge, good[: len(good) // 2], good])
    assert "not a decodable image" in errors[0]
    assert "above the limit of 200,000" in errors[2] and "decompression bomb" in errors[2]
    assert "above the limit of 200,000" in errors[3]
    assert "truncated PNG" in errors[4]
    assert errors[1] == errors[5] == ""
    _assert_close(_decode(images[1]), reference[1])
    _assert_close(_decode(images[5]), reference[1])


def test_concurrent_requests_share_a_batch(server, photos, reference):
    """Six clients at once: the batcher (300 ms delay) groups them; the bad ones fail alone."""
    def stats():  # from the Prometheus metrics (PyTriton restricts the statistics API to its token)
        text = urllib.request.urlopen(f"http://127.0.0.1:{server.metrics}/metrics", timeout=30).read().decode()
        value = {line.split("{")[0]: float(line.split()[-1]) for line in text.splitlines() if line.startswith("nv_inference_") and 'model="paracolor"' in line}
        return value["nv_inference_count"], value["nv_inference_exec_count"]

    count0, exec0 = stats()
    blobs = [photos[i % 3].read_bytes() if i % 2 == 0 else b"\x89PNG\r\n\x1a\ngarbage" for i in range(6)]
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda b: _colorize(server, "http", [b]), blobs))
    for i, (images, errors) in enumerate(results):
        if i % 2 == 0:
            assert errors == [""]
            _assert_close(_decode(images[0]), reference[i % 3])
        else:
            assert errors[0] and images == [b""]
    count1, exec1 = stats()
    assert count1 - count0 == 6
    assert exec1 - exec0 < 6  # at least two requests met in one call


def test_ab_model_matches_the_engine(server, photos, tiny_model_dir):
    import tritonclient.grpc as grpcclient

    from paracolor.engine.config import EngineConfig
    from paracolor.engine.io import read_image
    from paracolor.engine.pipeline import Colorizer

    with Colorizer(EngineConfig(model_dir=str(tiny_model_dir))) as col:
        L = np.stack([col.prepare(read_image(p)).L_net for p in photos])
        want = col.infer(L)["ab"]
    with closing(grpcclient.InferenceServerClient(server.grpc_url)) as c:
        x = grpcclient.InferInput("L", list(L.shape), "FP32")
        x.set_data_from_numpy(L)
        got = c.infer("paracolor_ab", [x]).as_numpy("ab")
        assert got.shape == want.shape and np.abs(got - want).max() < 1e-5
        wrong = grpcclient.InferInput("L", [1, 1, 32, 32], "FP32")
        wrong.set_data_from_numpy(np.zeros((1, 1, 32, 32), np.float32))
        from tritonclient.utils import InferenceServerException

        with pytest.raises(InferenceServerException):
            c.infer("paracolor_ab", [wrong])
        assert c.is_server_ready()


def test_metrics(server):
    text = urllib.request.urlopen(f"http://127.0.0.1:{server.metrics}/metrics", timeout=30).read().decode()
    assert 'nv_inference_request_success{model="paracolor"' in text


def test_sigterm_lets_in_flight_requests_finish(serve_runs, tiny_model_dir, tmp_path, photos, reference):
    """A request held by the batcher (2 s queue delay) when SIGTERM arrives still gets its photo."""
    proc = ServeProcess(tiny_model_dir, tmp_path / "serve.log", "--max-queue-delay-us", "2000000")  # two instances (the default)
    try:
        proc.wait_ready()
        out = {}
        t = threading.Thread(target=lambda: out.update(zip(("images", "errors"), _colorize(proc, "http", [photos[2].read_bytes()]))))
        t.start()
        time.sleep(0.5)
        proc.proc.send_signal(__import__("signal").SIGTERM)
        t.join(120)
        assert out.get("errors") == [""], proc.log()
        _assert_close(_decode(out["images"][0]), reference[2])
    finally:
        code = proc.stop()
    assert code == 0, proc.log()


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_example_client(server, protocol, photos, reference, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "examples" / "client.py"
    url = server.http_url if protocol == "http" else server.grpc_url
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a photo")
    res = subprocess.run([sys.executable, str(script), str(photos[0]), str(bad), "-o", str(tmp_path / "out"), "--protocol", protocol, "--url", url], capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and "FAILED" in res.stderr and str(bad) in res.stderr
    _assert_close(_decode((tmp_path / "out" / f"{photos[0].stem}.png").read_bytes()), reference[0])
    res = subprocess.run([sys.executable, str(script), str(photos[0]), "-o", str(tmp_path / "ab"), "--protocol", protocol, "--url", url, "--ab"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    ab_out = _decode((tmp_path / "ab" / f"{photos[0].stem}.png").read_bytes())
    # the client's float pipeline against the server's 8-bit one: close, not equal
    assert ab_out.shape == reference[0].shape and np.abs(ab_out.astype(int) - reference[0].astype(int)).mean() < 3


def test_a_bind_lost_to_the_handshake_race_is_retried_once_on_a_fresh_server(monkeypatch, tmp_path):
    """PyTriton's proxy can knock on its handshake socket before anyone listens ('Connection refused'):
    the first such bind failure starts a fresh tritonserver; any other error, or a second one, is raised."""
    import contextlib

    from paracolor.serve import server

    class FakeTriton:
        made = []

        def __init__(self, config, workspace):
            self.exited = False
            FakeTriton.made.append(self)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.exited = True

    race = RuntimeError("load failed for model 'paracolor': ... get_config_from_handshake_server ... ConnectionRefusedError: [Errno 111] Connection refused")
    errors = []
    monkeypatch.setattr(server, "_triton_config", lambda cfg: None)

    def fake_bind(triton, *args):
        if errors:
            raise errors.pop(0)

    monkeypatch.setattr(server, "_bind", fake_bind)
    for first, raised in ((race, None), (race, race), (ValueError("bad config"), ValueError)):
        FakeTriton.made.clear()
        errors[:] = [first] + ([race] if raised is race else [])
        with contextlib.ExitStack() as stack:
            if raised is None:
                triton = server._bound_triton(FakeTriton, stack, None, None, [], None)
                assert triton is FakeTriton.made[-1] and len(FakeTriton.made) == 2
                assert FakeTriton.made[0].exited and not triton.exited  # the lost one is stopped, the bound one kept
            else:
                with pytest.raises(RuntimeError if raised is race else ValueError):
                    server._bound_triton(FakeTriton, stack, None, None, [], None)
                assert len(FakeTriton.made) == (2 if raised is race else 1) and all(t.exited for t in FakeTriton.made)
        assert all(t.exited for t in FakeTriton.made)  # the stack stops the bound one too

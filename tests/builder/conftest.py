"""Fixtures for the graph-pass tests: exported tiny graphs, and an ORT helper."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnx_graphsurgeon")


def run_onnx(model, feeds):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


@pytest.fixture(scope="session")
def graphs(tiny_model_dir):
    return {r: onnx.load(str(tiny_model_dir / "fp32" / f"{r}.onnx")) for r in ("fg", "bg", "fusion")}


@pytest.fixture
def feeds64():
    rng = np.random.default_rng(0)
    L = rng.uniform(-1, 1, (2, 1, 64, 64)).astype(np.float32)
    return {
        "gen": {"L": L},
        "fusion": {"L": L, "ab_fg": rng.uniform(-0.5, 0.5, (2, 2, 64, 64)).astype(np.float32), "ab_bg": rng.uniform(-0.5, 0.5, (2, 2, 64, 64)).astype(np.float32)},
    }

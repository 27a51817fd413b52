"""Model folders: graphs verified against model.json once per file and process; builds record
their graphs' hashes."""

import json
import shutil

import pytest

import paracolor.engine.modelfolder as mf
from paracolor.engine.modelfolder import ModelError, ModelFolder


@pytest.fixture
def model(tiny_model_dir, tmp_path):
    shutil.copytree(tiny_model_dir, tmp_path / "m")
    return tmp_path / "m"


def test_each_graph_is_hashed_once_per_process(model, monkeypatch):
    calls = []
    real = mf.file_sha256
    monkeypatch.setattr(mf, "file_sha256", lambda p: calls.append(p) or real(p))
    monkeypatch.setattr(mf, "_VERIFIED", set())
    for _ in range(3):
        ModelFolder.load(model).onnx_path("fg")
    assert len(calls) == 1
    g = model / "fp32" / "fg.onnx"
    g.write_bytes(g.read_bytes() + b"\0")  # a changed file is hashed again, and refused
    with pytest.raises(ModelError, match="does not match"):
        ModelFolder.load(model).onnx_path("fg")
    assert ModelFolder.load(model, verify=False).onnx_path("fg") == g


def test_record_build_records_the_graphs_hashes(model):
    (model / "fp16").mkdir()
    shutil.copy(model / "fp32" / "fg.onnx", model / "fp16" / "fg.onnx")
    ModelFolder.load(model).record_build("fp16", {"size": 64})
    card = json.loads((model / "model.json").read_text())
    assert card["graphs"] == {"fp16/fg.onnx": card["models"]["fg"]["sha256"]}
    assert ModelFolder.load(model).onnx_path("fg", "fp16") == model / "fp16" / "fg.onnx"
    (model / "fp16" / "fg.onnx").write_bytes(b"changed after the build")
    with pytest.raises(ModelError, match="fp16/fg.onnx: sha256"):
        ModelFolder.load(model).onnx_path("fg", "fp16")


def test_the_bundled_model_verifies():
    folder = ModelFolder.load()
    for precision in folder.describe()["precisions"]:
        for role in ("fg", "bg", "fusion"):
            assert folder.graph_sha256(folder.onnx_path(role, precision)), (role, precision)

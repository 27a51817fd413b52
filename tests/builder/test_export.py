import json

import numpy as np
import pytest

pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from paracolor.builder.export import ExportConfig, export_model_folder  # noqa: E402


def test_exported_folder_metadata_and_dynamic_batch(tiny_model_dir):
    card = json.loads((tiny_model_dir / "model.json").read_text())
    assert card["input_size"] == 64 and card["colorspace"]["ab_scale"] == 110.0
    for role in ("fg", "bg", "fusion"):
        entry = card["models"][role]
        assert entry["verification"]["max_abs"] <= 1e-4 and entry["verification"]["real_images"] > 0
        model = onnx.load(str(tiny_model_dir / entry["file"]))
        assert model.opset_import[0].version >= 17
        meta = {p.key: p.value for p in model.metadata_props}
        assert meta["paracolor.role"] == role and len(meta["paracolor.source_sha256"]) == 64
        assert json.loads(meta["paracolor.config"])["kind"] in ("generator", "fusion")
        assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def test_dynamic_batch_runs(tiny_model_dir):
    import onnxruntime as ort

    sess = ort.InferenceSession(str(tiny_model_dir / "fp32" / "fg.onnx"), providers=["CPUExecutionProvider"])
    for n in (1, 5):
        out = sess.run(None, {"L": np.zeros((n, 1, 64, 64), np.float32)})[0]
        assert out.shape == (n, 2, 64, 64)


def test_export_rejects_above_tolerance_and_leaves_nothing(tiny_checkpoints, tmp_path):
    out = tmp_path / "m"
    cfg = ExportConfig(**{k: str(v) for k, v in tiny_checkpoints.items()}, out_dir=str(out), size=64, tolerance=0.0)
    with pytest.raises(RuntimeError, match="export rejected"):
        export_model_folder(cfg)
    assert not out.exists() or not any(out.iterdir())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".m.")]  # staging removed


def test_export_keeps_other_files_in_folder(tiny_checkpoints, tmp_path):
    out = tmp_path / "m"
    out.mkdir()
    (out / "MODEL_CARD.md").write_text("card")
    export_model_folder(ExportConfig(**{k: str(v) for k, v in tiny_checkpoints.items()}, out_dir=str(out), size=64, check=False))
    assert (out / "MODEL_CARD.md").read_text() == "card"
    assert sorted(p.name for p in (out / "fp32").iterdir()) == ["bg.onnx", "fg.onnx", "fusion.onnx"]

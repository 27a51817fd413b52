import pytest

torch = pytest.importorskip("torch")

from paracolor.models.checkpoint import CheckpointError, load_model, load_state, read_metadata, save_model, save_state  # noqa: E402
from paracolor.models.fusion import DenseFuse  # noqa: E402
from paracolor.models.generator import ResUNet  # noqa: E402
from tests.conftest import tiny_generator_config  # noqa: E402


def test_roundtrip_identical_outputs(tmp_path):
    m = ResUNet(tiny_generator_config(True)).eval()
    m.attention["8"].gamma.data.fill_(0.3)
    p = save_model(tmp_path / "g.safetensors", m, meta={"epoch": 3})
    back = load_model(p)  # config comes from the file
    x = torch.rand(1, 1, 64, 64)
    with torch.no_grad():
        assert torch.equal(m(x), back(x))
    assert read_metadata(p)["epoch"] == "3"


def test_fp16_storage_is_close(tmp_path):
    m = DenseFuse().eval()
    p = save_model(tmp_path / "f.safetensors", m, fp16=True)
    back = load_model(p, expect_kind="fusion")
    assert next(back.parameters()).dtype == torch.float32
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(m(x), back(x), atol=1e-2)


def test_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="bad.safetensors"):
        load_model(bad)
    p = save_model(tmp_path / "f.safetensors", DenseFuse())
    with pytest.raises(CheckpointError, match="holds a fusion, expected a generator"):
        load_model(p, expect_kind="generator")
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_model(tmp_path / "missing.safetensors")


def test_training_state_loads_weights_only(tmp_path):
    p = save_state(tmp_path / "s.pt", {"step": 5, "w": torch.ones(2)})
    assert load_state(p)["step"] == 5

    class Evil:
        def __reduce__(self):
            return (print, ("pickled code ran",))

    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="evil.pt"):
        load_state(tmp_path / "evil.pt")

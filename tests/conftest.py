"""Shared fixtures: tiny random-weight models, a tiny model folder, synthetic photos."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

HAS_TORCH = importlib.util.find_spec("torch") is not None
TINY_SIZE = 64


@pytest.fixture(autouse=True)
def _normal_verbosity():
    """Each test starts at normal verbosity: a CLI test's -q or -v must not carry over (the
    CLI resets it per command line; library calls in tests would otherwise inherit it)."""
    from paracolor import logs

    logs.reset()
    yield
    logs.reset()


def tiny_generator_config(attention: bool):
    from paracolor.models.config import GeneratorConfig

    return GeneratorConfig(encoder_width=0.25, decoder_channels=(32, 32, 16, 16, 8), attention_stride=8 if attention else 0)


def write_photo(path: Path, w: int = 96, h: int = 80, seed: int = 0, ext: str = ".jpg") -> Path:
    """A smooth colourful synthetic photo (gradients and a disc) written with OpenCV."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(40, 215, 3)
    img = np.stack([base[c] + 40 * np.sin(xx / (7 + 3 * c) + yy / (11 + c)) for c in range(3)], axis=2)
    cy, cx, r = h / 2, w / 2, min(h, w) / 4
    img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0, 255, 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.clip(img, 0, 255).astype(np.uint8))
    return path


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory) -> Path:
    """Eight small colour photos."""
    d = tmp_path_factory.mktemp("photos")
    for i in range(8):
        write_photo(d / f"p{i}.jpg", seed=i)
    return d


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory):
    """fg (with attention, gamma non-zero), bg and fusion weights with random init."""
    if not HAS_TORCH:
        pytest.skip("needs torch")
    import torch

    from paracolor.models.checkpoint import save_model
    from paracolor.models.fusion import DenseFuse
    from paracolor.models.generator import ResUNet

    d = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    fg = ResUNet(tiny_generator_config(True))
    fg.attention["8"].gamma.data.fill_(0.7)  # so the attention path matters in comparisons
    bg = ResUNet(tiny_generator_config(False))
    for m in (fg, bg):  # non-trivial batch-norm statistics, as after training
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
    paths = {"fg": save_model(d / "fg.safetensors", fg), "bg": save_model(d / "bg.safetensors", bg)}
    paths["fusion"] = save_model(d / "fusion.safetensors", DenseFuse())
    return paths


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_checkpoints, photo_dir) -> Path:
    """A verified model folder (fp32 ONNX + checkpoints) of the tiny models at 64 px."""

    from paracolor.builder.export import ExportConfig, export_model_folder

    out = tmp_path_factory.mktemp("model") / "tiny"
    export_model_folder(
        ExportConfig(**{k: str(v) for k, v in tiny_checkpoints.items()}, out_dir=str(out), size=TINY_SIZE, check_images=[str(photo_dir)])
    )
    assert (out / "checkpoints").is_dir()
    return out


@pytest.fixture
def true_fp32():
    """GPU results compared with the CPU in FP32: no TF32 convolutions or matrix products."""
    import torch

    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@pytest.fixture(scope="session", autouse=True)
def _openvino_model_cache(tmp_path_factory):
    """OpenVINO's compiled-model cache in a temporary folder, not the user's ~/.cache."""
    import os

    saved = os.environ.get("PARACOLOR_CACHE_DIR")
    os.environ["PARACOLOR_CACHE_DIR"] = str(tmp_path_factory.mktemp("paracolor-cache"))
    yield
    if saved is None:
        os.environ.pop("PARACOLOR_CACHE_DIR", None)
    else:
        os.environ["PARACOLOR_CACHE_DIR"] = saved

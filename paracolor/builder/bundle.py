"""``paracolor bundle``: a self-contained folder to copy to a device (Jetson) and build there.

TensorRT engines are specific to the GPU and TensorRT version, so they are built on the device
itself from the verified ONNX graphs in the bundle (``paracolor build --bundle DIR``). The bundle
holds no PyTorch: its requirements are the device-side ones only.

Layout::

    bundle.json                 manifest: precision, files and their SHA-256, paracolor version
    model.json, MODEL_CARD.md   the model's description and card
    fp32/*.onnx                 the FP32 graphs (onnxruntime fallback on the device)
    <precision>/*.onnx          the verified graphs to build engines from (+ build_report.json)
    calib_cache/*.json          INT8 only: the calibration ranges
    requirements-device.txt     device-side Python dependencies (no torch)
    README.md                   how to install, build and run on the device
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .. import __version__, progress
from ..choices import PRECISIONS, ROLES, check
from ..engine.io import atomic_write
from ..engine.modelfolder import ModelError, ModelFolder
from ..errors import ConfigError
from ..hashing import file_sha256
from .trt import TrtBuildError, TrtBuildOptions, build_engines, tensorrt_available

DEVICE_REQUIREMENTS = """\
# Device-side dependencies of a paracolor bundle (no PyTorch).
# On Jetson: TensorRT and its Python bindings come with JetPack (10.x on JetPack 6, 11.x on
# JetPack 7); OpenCV may come with JetPack too (then drop opencv-python-headless).
numpy>=1.24
opencv-python-headless>=4.8
onnxruntime>=1.17
click>=8.1
tqdm>=4.60
pillow>=10
# exact fast Lab conversions for large photos (aarch64 wheels exist; without it OpenCV's are used)
numba>=0.59
# one CUDA binding: cuda-python installs from wheels (aarch64 included); pycuda needs the CUDA headers
cuda-python>=12
"""

BUNDLE_README = """\
# paracolor deploy bundle ({precision})

Copy this folder to the device, then:

    python3 -m pip install -r requirements-device.txt
    python3 -m pip install --no-deps paracolor-{version}-py3-none-any.whl   # or the paracolor source tree
    paracolor build --bundle .            # builds the TensorRT engines on this device (minutes)
    paracolor colorize photos/ -o out/ --engines .

JetPack 6 ships TensorRT 10.3, whose ONNX parser has no `Attention` operator: make the bundle with
`--attention matmul` for it. JetPack 7 (TensorRT 11) takes either form.
Without TensorRT, `paracolor colorize photos/ -o out/ --model .` runs the FP32 graphs with onnxruntime.
"""


def make_bundle(out_dir, precision: str = "fp16", model_dir=None, attention: str = "fused", report_images=None) -> dict:
    """Write a bundle for ``precision`` (building the graphs first when the model lacks them)."""
    check("precision", precision, PRECISIONS)
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"{out}: not empty; choose a new folder for the bundle")
    from .build import BuildConfig, build  # onnx and the passes: not needed on the device

    src = ModelFolder.load(model_dir)
    have = _built_with(src.root / precision / "build_report.json", attention)
    if not have:
        if precision == "int8":
            raise ConfigError(f"{src.root}: no INT8 graphs built with --attention {attention}; run 'paracolor calibrate --attention {attention}' and 'paracolor build --precision int8' first")
        # build into the bundle itself (it copies fp32/, checkpoints/, model.json first)
        build(BuildConfig(out_dir=str(out), model_dir=str(src.root), precision=precision, attention=attention, report_images=list(report_images or []), build_engines=False))
        shutil.rmtree(out / "checkpoints", ignore_errors=True)  # PyTorch weights stay behind
        built = ModelFolder.load(out)
    else:
        out.mkdir(parents=True, exist_ok=True)
        shutil.copytree(src.root / "fp32", out / "fp32")
        shutil.copytree(src.root / precision, out / precision, ignore=shutil.ignore_patterns("*.plan"))
        shutil.copy2(src.root / "model.json", out / "model.json")
        if precision == "int8" and (src.root / "calib_cache").is_dir():
            shutil.copytree(src.root / "calib_cache", out / "calib_cache")
        built = src
    for name in ("MODEL_CARD.md",):
        if (built.root / name).is_file() and not (out / name).is_file():
            shutil.copy2(built.root / name, out / name)
        elif (src.root / name).is_file() and not (out / name).is_file():
            shutil.copy2(src.root / name, out / name)
    (out / "requirements-device.txt").write_text(DEVICE_REQUIREMENTS)
    (out / "README.md").write_text(BUNDLE_README.format(precision=precision, version=__version__))
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "bundle.json")
    manifest = {
        "format": "paracolor-bundle-v1",
        "paracolor_version": __version__,
        "precision": precision,
        "roles": list(ROLES),
        "files": {str(p.relative_to(out)): file_sha256(p) for p in progress.bar(files, desc="bundle checksums", unit="file", leave=False)},
    }
    atomic_write(out / "bundle.json", json.dumps(manifest, indent=1).encode(), overwrite=True)
    return manifest


def _built_with(report_path: Path, attention: str) -> bool:
    """Whether the folder's graphs at this precision exist and were built with ``attention``
    (JetPack 6 needs the MatMul form: fused graphs copied there would not parse)."""
    if not report_path.is_file():
        return False
    return json.loads(report_path.read_text()).get("config", {}).get("attention", "fused") == attention


def load_bundle(path) -> dict:
    """Read and verify a bundle's manifest (every file present with its recorded hash)."""
    root = Path(path)
    man_path = root / "bundle.json"
    if not man_path.is_file():
        raise ModelError(f"{man_path}: missing; {root} is not a paracolor bundle")
    manifest = json.loads(man_path.read_text())
    for rel, digest in manifest["files"].items():
        f = root / rel
        if not f.is_file():
            raise ModelError(f"{f}: listed in bundle.json but missing")
        if file_sha256(f) != digest:
            raise ModelError(f"{f}: content differs from bundle.json (corrupt copy?)")
    return manifest


def build_bundle_engines(bundle_dir, opts: TrtBuildOptions, dla_roles: tuple[str, ...] = ()) -> dict:
    """On the device: TensorRT engines from a bundle's verified graphs (engine cache applies).

    ``dla_roles`` places those stages on DLA core ``opts.dla_core`` (GPU fallback on); the
    others are built for the GPU.
    """
    manifest = load_bundle(bundle_dir)
    if not tensorrt_available():
        raise TrtBuildError("TensorRT is not importable on this machine: build the engines on the target device (JetPack ships it)")
    precision = manifest["precision"]
    return build_engines(Path(bundle_dir) / precision, Path(bundle_dir), manifest["roles"], precision, opts, dla_roles)

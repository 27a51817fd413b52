"""INT8 by explicit quantization: Q/DQ graphs from real photos (onnxruntime static quantization).

TensorRT 11 has no calibrators; INT8 exists only where the ONNX graph holds QuantizeLinear /
DequantizeLinear pairs. The graphs written here are what TensorRT requires: QDQ format,
symmetric int8 with zero point 0, per-channel weights. Sensitive layers stay in float.
The same graphs run on the CPU with onnxruntime's int8 kernels.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from ...choices import ATTENTION, CALIB_METHODS, CALIB_TARGETS, check
from ...engine.io import ImageError, find_images, read_image
from ...engine.pipeline import network_L
from ...errors import ConfigError, ParacolorError
from ...logs import library_prints, quiet_onnxruntime
from ..passes.concat_conv import FINE_DECODER

log = logging.getLogger("paracolor.calib")


class CalibrationError(ParacolorError, ValueError):
    """Bad calibration input (empty folder, no decodable images, ...)."""


@dataclass
class CalibConfig:
    """Options of ``paracolor calibrate``."""

    images: str
    out_dir: str
    model_dir: str | None = None
    method: str = "entropy"
    num: int = 64
    size: int | None = None
    attention: str = "fused"
    default_sensitive: bool = True  # attention, first/last convs, fusion decoder output
    keep_float: list[str] = field(default_factory=list)  # extra node-name regexes kept in float
    auto_sensitivity: int = 0  # also keep the K most harmful layers (measured) in float
    force: bool = False  # ignore the calibration cache
    eval_images: str | None = None  # held-out photos for the accuracy report
    eval_limit: int = 100
    #: "tensorrt": symmetric int8 activations, zero point 0 (what TensorRT requires);
    #: "cpu": uint8 asymmetric activations, onnxruntime's fast x86 path (VNNI/AMX), not for TensorRT
    target: str = "tensorrt"

    def __post_init__(self):
        check("target", self.target, CALIB_TARGETS)
        check("method", self.method, CALIB_METHODS)
        check("attention", self.attention, ATTENTION)
        if self.num < 1:
            raise ConfigError("--num must be at least 1")


def load_calibration_L(images: str, num: int, size: int) -> tuple[np.ndarray, str, list[str]]:
    """L at network size for up to ``num`` decodable photos; also a hash of the image set.

    Raises :class:`CalibrationError` naming the folder when nothing usable is there; files
    that fail to decode are skipped and reported.
    """
    try:
        paths = [p for p, _ in find_images([images])]
    except ImageError as exc:
        raise CalibrationError(f"calibration images: {exc}") from None
    if not paths:
        raise CalibrationError(f"{images}: no image files to calibrate on")
    Ls, used, skipped = [], [], []
    h = hashlib.sha256()
    for p in paths:
        if len(used) >= num:
            break
        try:
            img = read_image(p)
        except ImageError as exc:
            skipped.append(str(exc))
            continue
        Ls.append(network_L(img, size)[0])  # exactly the inference preprocessing
        used.append(str(p))
        h.update(p.name.encode())
        h.update(p.read_bytes())
    if not Ls:
        raise CalibrationError(f"{images}: none of the {len(paths)} files could be decoded ({skipped[0]})")
    return np.stack(Ls).astype(np.float32), h.hexdigest(), skipped


def sensitive_nodes(model: onnx.ModelProto, role: str, target: str = "tensorrt") -> list[str]:
    """Default float-kept nodes.

    All networks: attention, the first and last convolutions (for fusion: its encoder input
    conv and decoder output conv). Generators also keep depthwise convolutions (per-channel
    ranges vary too much for int8, a known MobileNet weakness; they are cheap; measured with
    them quantized: 34.7 dB and colourfulness change -2.0, and no faster).

    The two full-resolution decoder stages, whose errors reach the output unfiltered, depend
    on the target. TensorRT (symmetric int8: a post-ReLU tensor uses 7 of its 8 bits) keeps
    every node of them float: quantized, the default model fell to 34.2 dB (300 COCO photos),
    under the 35 dB floor. The CPU target (uint8, asymmetric) quantizes them: 39.1 dB and
    colourfulness change -0.35, against 41.1 / -0.49 float, and the INT8 chain runs 1.87x
    instead of 1.47x the FP32 speed at batch 1; their Concat of L with features keeps per-input scales
    (see :func:`concat_range_overrides`).
    """
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    names = [convs[0].name, convs[-1].name] if convs else []
    names += [n.name for n in model.graph.node if "attention" in n.name.lower() or n.op_type in ("Attention", "Softmax")]
    if role in ("fg", "bg"):
        names += [n.name for n in convs if next((a.i for a in n.attribute if a.name == "group"), 1) > 1]
        if target == "tensorrt":
            names += [n.name for n in model.graph.node if any(s in n.name for s in FINE_DECODER)]
    return sorted(set(names))


class _Reader:
    """onnxruntime CalibrationDataReader over prepared feeds (batch of 1 per call)."""

    def __init__(self, feeds: dict[str, np.ndarray]):
        self.feeds = feeds
        self.n = len(next(iter(feeds.values())))
        self.i, self.end = 0, self.n

    def get_next(self):
        if self.i >= self.end:
            return None
        item = {k: v[self.i : self.i + 1] for k, v in self.feeds.items()}
        self.i += 1
        return item

    def rewind(self):
        self.i, self.end = 0, self.n

    def __len__(self):
        return self.n

    def set_range(self, start_index, end_index):  # onnxruntime's strided calibration
        self.i, self.end = start_index, min(end_index, self.n)


def quantize(model: onnx.ModelProto, feeds: dict[str, np.ndarray], method: str, exclude: list[str], cache_path: Path, target: str = "tensorrt") -> onnx.ModelProto:
    """Static QDQ quantization with a range cache file; per-channel symmetric int8 weights.

    Activations: symmetric int8 with zero point 0 for TensorRT; uint8 asymmetric for the CPU,
    where onnxruntime's x86 kernels (U8S8) run about 2.3x faster than FP32 while its S8S8 path
    is slower than FP32 (measured on this project's generators, 2-core Xeon with VNNI/AMX).
    """
    cpu = target == "cpu"
    first = _quantize_static(model, feeds, method, exclude, cache_path, cpu, overrides=None)
    overrides = concat_range_overrides(model, first)
    if not overrides:
        return first
    return _quantize_static(model, feeds, method, exclude, cache_path, cpu, overrides)


def concat_range_overrides(model: onnx.ModelProto, quantized: onnx.ModelProto, max_widening: float = 2.5) -> dict:
    """One shared range for every quantized channel Concat's inputs and output.

    A Concat whose inputs carry different int8 scales runs as a requantizing QLinearConcat
    (measured 4x slower than the plain copy onnxruntime does when all scales match; three such
    Concats in the fusion network's dense block cost 7.5 ms of its 28 ms). The union of the
    calibrated ranges is given to all of them when it is at most ``max_widening`` times any
    member's own range: sharing costs the narrower inputs resolution, and a Concat that joins
    tensors of very different ranges (L with decoder features: 2 against 20) keeps its
    requantization. Concats sharing a tensor get one range together. Measured on the default model (CPU target, 60 COCO photos): 2.5 shares the
    fusion network's dense-block Concats (2.2x apart) and gives the same accuracy as 2.0
    (39.3 dB) with the fusion 2 ms faster; 3.0 also shares generator Concats and is no faster.
    The accuracy report checks the result.
    """
    from onnx import numpy_helper

    inits = {i.name: numpy_helper.to_array(i) for i in quantized.graph.initializer}
    ranges = {}
    for n in quantized.graph.node:
        if n.op_type != "QuantizeLinear" or n.input[1] not in inits:
            continue
        scale = float(np.asarray(inits[n.input[1]]).reshape(-1)[0])
        zp_arr = inits.get(n.input[2]) if len(n.input) > 2 else None
        zp = int(np.asarray(zp_arr).reshape(-1)[0]) if zp_arr is not None else 0
        lo, hi = (0, 255) if zp_arr is not None and zp_arr.dtype == np.uint8 else (-127, 127)
        ranges[n.input[0]] = ((lo - zp) * scale, (hi - zp) * scale)
    groups: list[set] = []  # Concats that share a tensor must share one range: merged groups
    for n in model.graph.node:
        if n.op_type != "Concat":
            continue
        names = set(n.input) | set(n.output)
        if not all(t in ranges for t in names):
            continue
        lo = min(ranges[t][0] for t in names)
        hi = max(ranges[t][1] for t in names)
        if (hi - lo) > max_widening * min(ranges[t][1] - ranges[t][0] for t in names):
            continue
        for g in [g for g in groups if g & names]:
            names |= g
            groups.remove(g)
        groups.append(names)
    overrides: dict = {}
    for g in groups:
        # onnxruntime takes numpy scalars here (it reads their dtype)
        shared = {"rmin": np.float32(min(ranges[t][0] for t in g)), "rmax": np.float32(max(ranges[t][1] for t in g))}
        overrides.update({t: [dict(shared)] for t in g})
    return overrides


def _quantize_static(model, feeds, method, exclude, cache_path, cpu: bool, overrides: dict | None) -> onnx.ModelProto:
    import tempfile

    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    methods = {"entropy": CalibrationMethod.Entropy, "percentile": CalibrationMethod.Percentile, "minmax": CalibrationMethod.MinMax}
    extra = {
        "ActivationSymmetric": not cpu,
        "WeightSymmetric": True,
        "CalibMovingAverage": False,
        # onnxruntime keeps every intermediate output of one collection pass in memory
        # (the fusion network's full-size 64-channel maps are ~0.4 GB per image), so
        # collect in slices; histograms and ranges merge across slices
        "CalibStridedMinMax": _stride(len(next(iter(feeds.values())))),
    }
    if overrides:
        extra["TensorQuantOverrides"] = overrides
    quiet_onnxruntime()
    # the quantizer prints its steps and warns on the root logger: shown with -v
    with tempfile.TemporaryDirectory(prefix="paracolor-q-") as tmp, library_prints("onnxruntime"):
        src, dst = Path(tmp) / "in.onnx", Path(tmp) / "out.onnx"
        onnx.save(model, str(src))
        quantize_static(
            str(src),
            str(dst),
            _Reader(feeds),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8 if cpu else QuantType.QInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=exclude,
            calibrate_method=methods[method],
            extra_options=extra,
            calibration_cache_path=str(cache_path),
        )
        return onnx.load(str(dst))


def _stride(n: int, most: int = 4) -> int:
    """Largest slice size <= ``most`` dividing ``n`` (onnxruntime requires an exact division)."""
    return next(s for s in range(min(most, n), 0, -1) if n % s == 0)


def int8_graph_path(folder, role: str) -> Path:
    """Where ``paracolor calibrate`` writes the Q/DQ graph of ``role``."""
    path = Path(folder) / "int8" / f"{role}.onnx"
    if not path.is_file():
        raise CalibrationError(f"{path}: no INT8 graph; run 'paracolor calibrate' first")
    return path


def cache_key(model: onnx.ModelProto, method: str, images_hash: str, target: str = "tensorrt") -> str:
    """Cache file stem: model hash, method, target and image-set hash.

    The cached tensor ranges do not depend on which nodes stay float, so one calibration
    serves every exclusion set (auto-sensitivity probes reuse it).
    """
    mh = hashlib.sha256(model.SerializeToString()).hexdigest()[:16]
    return f"{mh}-{method}-{'' if target == 'tensorrt' else target + '-'}{images_hash[:16]}"


def float_nodes(model: onnx.ModelProto) -> list[str]:
    """Compute nodes left in float.

    A Conv/Gemm runs in INT8 only when its weights come through a DequantizeLinear (an excluded
    conv may still read a shared, dequantized activation: it then computes in float); a MatMul
    only when both operands do. Attention is never quantized here.
    """
    dq_out = {n.output[0] for n in model.graph.node if n.op_type == "DequantizeLinear"}
    floats = []
    for n in model.graph.node:
        if n.op_type in ("Conv", "Gemm") and n.input[1] not in dq_out:
            floats.append(n.name)
        elif n.op_type == "MatMul" and not (n.input[0] in dq_out and n.input[1] in dq_out):
            floats.append(n.name)
        elif n.op_type == "Attention":
            floats.append(n.name)
    return floats


def matching(model: onnx.ModelProto, patterns: list[str]) -> list[str]:
    """Node names matching any of the regexes."""
    regs = [re.compile(p) for p in patterns]
    return [n.name for n in model.graph.node if any(r.search(n.name) for r in regs)]


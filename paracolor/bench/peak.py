"""The CPU's peak FLOP/s at a precision, for the bench's "% of peak" column.

Two figures, and the column divides by the larger, so it cannot pass 100%:

- the ISA bound: FLOPs per cycle per core that the CPU's widest units of that precision allow
  (from its flags: AMX, AVX-512 BF16/FP16/VNNI, AVX-512, AVX2 FMA), times cores, times clock
  (the cpufreq maximum where the kernel shows it; else the clock /proc/cpuinfo reports, which
  under a hypervisor can be below the turbo clock, hence the second figure);
- the runtime's own large MatMul at that precision (onnxruntime, or OpenVINO with its precision
  hint), which is the best a runtime does on this machine: numpy's GEMM, the old peak, ran slower
  than the networks themselves here (190-390% "of peak").
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

#: FLOPs per cycle per core (2 per multiply-add) of the widest unit for each precision, assuming
#: two FMA ports where a CPU may have them: an upper bound, which is what a peak must be
_PER_CYCLE = {
    "fp32": (("avx512f", 64), ("fma", 32), ("avx", 16), ("sse2", 8)),
    "bf16": (("amx_bf16", 1024), ("avx512_bf16", 128)),
    "fp16": (("amx_fp16", 1024), ("avx512_fp16", 128)),
    "int8": (("amx_int8", 2048), ("avx512_vnni", 256), ("avx_vnni", 128), ("avx2", 64)),
}


def _cpuinfo() -> tuple[set[str], float | None]:
    flags, mhz = set(), []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
            elif line.startswith("cpu MHz"):
                mhz.append(float(line.split(":", 1)[1]))
    except OSError:
        pass
    try:
        mhz.append(int(Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text()) / 1000)
    except (OSError, ValueError):
        pass
    return flags, max(mhz) if mhz else None


def isa_peak_gflops(precision: str, flags: set[str] | None = None, mhz: float | None = None, cores: int | None = None) -> tuple[float | None, str]:
    """(GFLOP/s, how it was found) of the CPU's widest units at ``precision``; None if unknown.

    A graph of one precision also runs layers at fp32 (int8 and bf16 graphs keep some float), so
    the bound is the larger of the precision's and fp32's."""
    if flags is None or mhz is None:
        found_flags, found_mhz = _cpuinfo()
        flags, mhz = flags if flags is not None else found_flags, mhz or found_mhz
    cores = cores or os.cpu_count() or 1
    if not flags or not mhz:
        return None, "unknown (no /proc/cpuinfo)"
    fp32 = next((n for f, n in _PER_CYCLE["fp32"] if f in flags), 8)
    per, unit = fp32, "fp32 FMA"
    for flag, n in _PER_CYCLE.get(precision, ()):
        if flag in flags:
            if n > per:
                per, unit = n, flag
            break
    return per * cores * mhz / 1000, f"{per} FLOP/cycle/core ({unit}) x {cores} cores x {mhz:.0f} MHz"


def _matmul_onnx(n: int, precision: str, path: Path) -> None:
    """A float (n x n) @ (n x n) MatMul graph; int8: the Q/DQ form the networks' graphs use (uint8
    activations, int8 weights: onnxruntime's fast x86 path; OpenVINO takes it as well)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = rng.standard_normal((n, n)).astype(np.float32)
    nodes, inits = [], []
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, n])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])
    if precision == "int8":
        inits += [
            numpy_helper.from_array(rng.integers(-127, 127, (n, n), dtype=np.int8), "wq"),
            numpy_helper.from_array(np.array(0.01, np.float32), "ws"),
            numpy_helper.from_array(np.array(0, np.int8), "wz"),
            numpy_helper.from_array(np.array(0.02, np.float32), "xs"),
            numpy_helper.from_array(np.array(128, np.uint8), "xz"),
        ]
        nodes += [
            helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
            helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
            helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wd"]),
            helper.make_node("MatMul", ["xd", "wd"], ["y"]),
        ]
    else:
        inits.append(numpy_helper.from_array(w, "w"))
        nodes.append(helper.make_node("MatMul", ["x", "w"], ["y"]))
    model = helper.make_model(helper.make_graph(nodes, "peak", [x], [y], inits), opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))


def runtime_gemm_gflops(backend: str, precision: str, n: int = 2048, seconds: float = 0.5, threads: int | None = None) -> float:
    """Throughput of one large MatMul in ``backend`` (onnxruntime or openvino) at ``precision``
    (fp32, bf16: OpenVINO's hint on the fp32 graph, int8: Q/DQ) with all cores."""
    threads = threads or os.cpu_count() or 1
    x = np.random.default_rng(1).standard_normal((n, n)).astype(np.float32)
    with tempfile.TemporaryDirectory(prefix="paracolor-peak-") as tmp:
        path = Path(tmp) / "matmul.onnx"
        _matmul_onnx(n, "int8" if precision == "int8" else "fp32", path)
        if backend == "openvino":
            import openvino as ov

            hint = "bf16" if precision == "bf16" else "f32"
            compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": hint, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads})
            request = compiled.create_infer_request()
            run = lambda: request.infer({0: x})
        elif backend == "onnxruntime":
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.log_severity_level = 3
            session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            run = lambda: session.run(None, {"x": x})
        else:
            raise ValueError(f"no runtime GEMM for backend {backend!r}")
        run()
        t0, reps = time.perf_counter(), 0
        while time.perf_counter() - t0 < seconds or reps < 2:
            run()
            reps += 1
        return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def cpu_peak(backend: str, precision: str) -> dict:
    """The peak a CPU row is measured against: the larger of the ISA bound and the runtime's own
    MatMul (a runtime that cannot do the precision, or is missing, leaves the ISA bound)."""
    isa, how = isa_peak_gflops(precision)
    try:
        gemm = runtime_gemm_gflops(backend, precision)
    except Exception as exc:  # e.g. the runtime or onnx is missing, or has no kernel for it
        gemm, why = None, f"{type(exc).__name__}: {exc}"
    else:
        why = f"{backend} {precision} 2048^3 MatMul"
    peak = max(v for v in (isa, gemm) if v is not None) if (isa or gemm) else None
    return {"peak_gflops_s": peak, "isa_gflops_s": isa, "isa_how": how, "runtime_gemm_gflops_s": gemm, "runtime_gemm_how": why}

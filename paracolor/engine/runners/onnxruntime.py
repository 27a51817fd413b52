"""ONNX Runtime runner: CPU everywhere, CUDA when onnxruntime-gpu is installed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..modelfolder import ModelError
from .base import Runner, TensorSpec

_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16"}


def available_providers() -> list[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())


def pick_providers(device: str = "auto") -> list[str]:
    """CUDA first when asked for (or on auto, when present), CPU always as the fallback."""
    have = available_providers()
    if device in ("auto", "cuda") and "CUDAExecutionProvider" in have:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "cuda":
        raise RuntimeError("the CUDA provider is not available: install onnxruntime-gpu")
    return ["CPUExecutionProvider"]


class OrtRunner(Runner):
    """One ONNX graph in an ``onnxruntime.InferenceSession``."""

    backend = "onnxruntime"

    def __init__(self, path, role: str, providers=None, threads: int = 0):
        super().__init__(role)
        import onnxruntime as ort

        ort.set_default_logger_severity(3)  # graph-optimizer notices are not the user's concern
        self.path = Path(path)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads  # 0: onnxruntime's default (all cores)
        opts.inter_op_num_threads = 1
        # three sessions take turns on the same cores: a finished session's pool must not spin
        # while the next one runs (measured: 127 -> 105 ms per image, two-thread schedule)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(self.path), opts, providers=providers or pick_providers())
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{self.path}: cannot load the ONNX graph ({first})") from None
        self._inputs = [TensorSpec(i.name, _TYPES.get(i.type, i.type), tuple(i.shape)) for i in self.session.get_inputs()]
        self._outputs = [TensorSpec(o.name, _TYPES.get(o.type, o.type), tuple(o.shape)) for o in self.session.get_outputs()]
        self._names = [o.name for o in self._outputs]
        meta = self.session.get_modelmeta().custom_metadata_map
        stored = meta.get("paracolor.role")
        if stored is not None and stored != role:
            raise ModelError(f"{self.path}: graph of role {stored!r} loaded as {role!r}")

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(self._names, self.session.run(self._names, feeds)))

    def describe(self):
        return {**super().describe(), "path": str(self.path), "providers": self.session.get_providers()}

"""The one runner interface every backend implements (ONNX Runtime, TensorRT, PyTorch).

A runner wraps one network (fg, bg or fusion): it reports its named inputs and outputs and
runs a batch. On the CPU it takes and returns numpy arrays by name; float32 in and out
whatever the graph's own I/O types (FP16 graphs are cast at the boundary).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TensorSpec:
    """Name, element type ("float32", "float16") and shape (None for dynamic axes)."""

    name: str
    dtype: str
    shape: tuple


class TensorIO:
    """Named inputs and outputs, filled by subclasses into ``_inputs`` and ``_outputs``."""

    _inputs: list[TensorSpec]
    _outputs: list[TensorSpec]

    @property
    def inputs(self) -> list[TensorSpec]:
        return self._inputs

    @property
    def outputs(self) -> list[TensorSpec]:
        return self._outputs


class Runner(TensorIO, ABC):
    """One network on one backend."""

    backend: str = "abstract"

    def __init__(self, role: str):
        self.role = role

    @abstractmethod
    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one batch: ``{input name: array}`` -> ``{output name: float32 array}``."""
        names = {s.name for s in self.inputs}
        if set(feeds) != names:
            raise KeyError(f"{self.role} runner expects inputs {sorted(names)}, got {sorted(feeds)}")
        cast = {
            s.name: np.ascontiguousarray(feeds[s.name], dtype=np.dtype(s.dtype)) for s in self.inputs
        }
        out = self._run(cast)
        return {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}

    def close(self) -> None:
        """Release the backend's resources."""

    def describe(self) -> dict:
        return {"role": self.role, "backend": self.backend}

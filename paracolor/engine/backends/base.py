"""The two interfaces of a backend (modelled on Polygraphy's base runner).

A :class:`Runner` wraps one network (fg, bg or fusion) on the host: named numpy arrays in and
out, float32 whatever the graph's own I/O types (FP16 graphs are cast at the boundary).
A :class:`Scheduler` is what a backend's loader returns and the only thing the engine talks to:
fg || bg -> fusion for one batch of L, with submit/collect so that a caller can keep batches in
flight while it finishes others on the host.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
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


def check_io(runner: "TensorIO", inputs: dict[str, int], outputs: dict[str, int], size: int, where) -> None:
    """Raise ``ValueError`` (the loader wraps it) unless the graph's declared inputs and outputs
    have exactly these names, shape (N, channels, size, size) and a float type. A mis-built
    graph then fails once, at load, instead of on every batch. Dynamic axes match any size."""

    def fits(spec: TensorSpec, channels: int) -> str | None:
        shape = tuple(spec.shape)
        if len(shape) != 4:
            return f"{spec.name!r} has {len(shape)} dimensions, expected 4 (N, {channels}, {size}, {size})"
        want = (None, channels, size, size)
        for axis, (have, exp) in enumerate(zip(shape, want)):
            if exp is not None and isinstance(have, int) and have > 0 and have != exp:
                return f"{spec.name!r} has shape {shape}, expected (N, {channels}, {size}, {size}) (axis {axis})"
        if spec.dtype not in ("float32", "float16"):
            return f"{spec.name!r} is {spec.dtype}, expected float32 or float16"
        return None

    for kind, specs, expected in (("inputs", runner.inputs, inputs), ("outputs", runner.outputs, outputs)):
        names = [s.name for s in specs]
        if sorted(names) != sorted(expected):
            raise ValueError(f"{where}: graph {kind} are {names}, expected {sorted(expected)}")
        for spec in specs:
            why = fits(spec, expected[spec.name])
            if why:
                raise ValueError(f"{where}: graph input {why}" if kind == "inputs" else f"{where}: graph output {why}")


#: channels of each tensor name the networks use (N, C, S, S)
IO_CHANNELS = {"L": 1, "ab": 2, "ab_fg": 2, "ab_bg": 2}


def check_role_io(runner: "TensorIO", role: str, size: int, where) -> None:
    """:func:`check_io` for the tensors of ``role`` ("fg", "bg", "fusion" or merged "fg+bg"),
    raising the user-facing ``ModelError`` every backend reports a mis-built graph with."""
    from ..modelfolder import IO_NAMES, ModelError

    ins, outs = (("L",), ("ab_fg", "ab_bg")) if role == "fg+bg" else IO_NAMES[role]
    try:
        check_io(runner, {n: IO_CHANNELS[n] for n in ins}, {n: IO_CHANNELS[n] for n in outs}, size, where)
    except ValueError as exc:
        raise ModelError(f"{exc} (the {role} graph does not fit this engine: re-export or rebuild it)") from None


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
        cast = {s.name: np.ascontiguousarray(feeds[s.name], dtype=np.dtype(s.dtype)) for s in self.inputs}
        out = self._run(cast)
        return {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}

    def close(self) -> None:
        """Release the backend's resources."""

    def describe(self) -> dict:
        return {"role": self.role, "backend": self.backend}


class Scheduler(ABC):
    """fg || bg -> fusion on L (N,1,S,S); every result holds ab_fg, ab_bg and the fused ab.

    ``max_batch``: the largest batch one submit takes (None: any). ``preferred_batch``: the batch a
    folder job uses when not told (each backend's is measured: benchmarks/cpu_batch_memory.py for
    the CPU ones). ``in_flight``: how many
    submitted batches may run on while the caller finishes an earlier one; 0 where submit itself
    computes the batch (the CPU), so keeping a batch back would only delay its results.
    """

    backend: str = "abstract"
    schedule: str = "parallel"
    max_batch: int | None = None
    preferred_batch: int = 4
    in_flight: int = 0

    def __init__(self):
        self._timings: dict[str, float] = {}

    @abstractmethod
    def submit(self, L: np.ndarray) -> int:
        """Start one batch; returns a ticket for :meth:`collect`."""

    @abstractmethod
    def collect(self, ticket: int) -> dict[str, np.ndarray]:
        """The submitted batch's outputs (float32 arrays the caller owns)."""

    @property
    def timings(self) -> dict[str, float]:
        """Seconds the last collected batch spent in the generators and in fusion."""
        return dict(self._timings)

    def run(self, L: np.ndarray) -> dict[str, np.ndarray]:
        """One batch, synchronously."""
        return self.collect(self.submit(L))

    def run_many(self, batches):
        """Yields each batch's outputs in order, keeping ``in_flight`` batches submitted ahead."""
        pending: deque = deque()
        for L in batches:
            pending.append(self.submit(L))
            while len(pending) > self.in_flight:
                yield self.collect(pending.popleft())
        while pending:
            yield self.collect(pending.popleft())

    def describe(self) -> dict:
        """What runs where, for ``paracolor info``, bench reports and evaluation labels."""
        return {"backend": self.backend, "schedule": self.schedule, "max_batch": self.max_batch, "preferred_batch": self.preferred_batch, "in_flight": self.in_flight}

    def close(self) -> None:
        """Release the stages and buffers."""

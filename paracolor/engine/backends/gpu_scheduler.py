"""Two-stream scheduling of fg, bg and fusion on a GPU, shared by every GPU backend.

Per batch: L is copied host-to-device once on stream A and an event marks the copy; the
foreground runs on stream A and the background on stream B after waiting on that event;
fusion runs on A after waiting on B's completion event; then the device-to-host copy on A.
Buffers are allocated once for the largest batch, in ``slots`` sets (double buffering): batch
k+1's copy and generators are enqueued while batch k is still in fusion and copy-back, and a
slot is reused only after its previous batch's completion event.

With ``memory_mode="zero-copy"`` (integrated GPUs) L and the outputs live in mapped pinned
host memory that the kernels read and write directly: no copies are enqueued.
Stream A, which carries the critical path, gets the device's highest stream priority.
Stages implement :class:`GpuStage`; the CUDA layer is any :class:`~..cuda.base.CudaApi`.
``in_flight`` is one: a caller submits batch k+1 before it collects batch k, so the host's
decode and finishing overlap the GPU's work.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from ...choices import SCHEDULES, check
from ..cuda.base import CudaApi, DeviceBuffer
from .base import Scheduler, TensorIO, TensorSpec


class GpuStage(TensorIO, ABC):
    """One network enqueued on a stream with device buffers (TensorRT engine, torch module).

    Tensor shapes exclude the batch axis.
    """

    role: str

    @abstractmethod
    def enqueue(self, api: CudaApi, batch: int, stream, buffers: dict[str, DeviceBuffer]) -> None:
        """Enqueue the network for ``batch`` items reading/writing ``buffers`` by tensor name."""

    def close(self) -> None:
        pass


@dataclass
class _Slot:
    A: object
    B: object
    copied: object
    bg_done: object
    done: object
    t0: object
    t1: object
    t2: object
    host_in: object
    host_out: dict
    dev: dict
    batch: int = 0
    busy: bool = False
    #: id(stage) -> its tensor names -> this slot's buffers (a generator's "ab" is ab_fg/ab_bg),
    #: built once: submit runs per batch
    stage_buffers: dict = field(default_factory=dict)


class StreamScheduler(Scheduler):
    """fg || bg -> fusion on CUDA streams (the GPU schedule of every GPU backend)."""

    def __init__(self, api: CudaApi, fg: GpuStage, bg: GpuStage | None, fusion: GpuStage, max_batch: int, schedule: str = "parallel", slots: int = 2, memory_mode: str = "device", priorities: bool = True, backend: str = "gpu"):
        super().__init__()
        check("schedule", schedule, SCHEDULES)
        if (schedule == "merged") != (bg is None):
            raise ValueError("the merged schedule takes one merged generator stage and no bg stage")
        if memory_mode not in ("device", "zero-copy"):
            raise ValueError(f"unknown memory mode {memory_mode!r}")
        self.api, self.fg, self.bg, self.fusion, self.backend = api, fg, bg, fusion, backend
        self.max_batch, self.schedule, self.memory_mode, self.priorities = max_batch, schedule, memory_mode, priorities
        self.specs = self._tensor_specs()
        self.slots = [self._make_slot() for _ in range(slots)]
        self.in_flight = slots - 1
        self.next_slot = 0

    def _tensor_specs(self) -> dict[str, TensorSpec]:
        specs: dict[str, TensorSpec] = {}
        stages = [self.fg] + ([self.bg] if self.bg is not None else []) + [self.fusion]
        gen_outputs = {"ab_fg", "ab_bg"}
        for stage in stages:
            for s in stage.inputs + stage.outputs:
                name = s.name
                if stage is not self.fusion and name == "ab":  # a generator's "ab" is its own output
                    name = f"ab_{stage.role}"
                if name in specs and (specs[name].dtype != s.dtype or specs[name].shape != s.shape):
                    raise ValueError(f"tensor {name}: {stage.role} uses {s.dtype}{s.shape}, another stage {specs[name].dtype}{specs[name].shape}")
                specs[name] = TensorSpec(name, s.dtype, tuple(s.shape))
        missing = gen_outputs - set(specs)
        if missing:
            raise ValueError(f"generators do not produce {sorted(missing)}")
        return specs

    def _nbytes(self, name: str) -> int:
        s = self.specs[name]
        return self.max_batch * int(np.prod(s.shape)) * np.dtype(s.dtype).itemsize

    def _make_slot(self) -> _Slot:
        api = self.api
        mapped = self.memory_mode == "zero-copy"
        L = self.specs["L"]
        host_in = api.host_alloc((self.max_batch, *L.shape), L.dtype, mapped=mapped)
        outs = ("ab", "ab_fg", "ab_bg")
        host_out = {n: api.host_alloc((self.max_batch, *self.specs[n].shape), self.specs[n].dtype, mapped=mapped) for n in outs}
        dev = {}
        for name in self.specs:
            if mapped and name == "L":
                dev[name] = DeviceBuffer(host_in.device_ptr, self._nbytes(name))
            elif mapped and name in host_out:
                dev[name] = DeviceBuffer(host_out[name].device_ptr, self._nbytes(name))
            else:
                dev[name] = api.device_alloc(self._nbytes(name))
        # A carries the critical path (fg, then fusion after the join): with priorities on, its
        # kernels go first when bg's compete for the SMs, so the join waits less
        A, B = api.stream(high_priority=self.priorities), api.stream()
        ev = [api.event() for _ in range(3)] + [api.event(timing=True) for _ in range(3)]
        slot = _Slot(A, B, *ev, host_in, host_out, dev)
        for stage in (self.fg, self.bg, self.fusion):
            if stage is not None:
                slot.stage_buffers[id(stage)] = {
                    s.name: dev[f"ab_{stage.role}" if (stage is not self.fusion and s.name == "ab") else s.name] for s in stage.inputs + stage.outputs
                }
        return slot

    def submit(self, L: np.ndarray) -> int:
        """Enqueue one batch without waiting; returns a ticket for :meth:`collect`."""
        n = L.shape[0]
        if n > self.max_batch:
            raise ValueError(f"batch of {n} exceeds the buffers' maximum of {self.max_batch}")
        index = self.next_slot
        slot = self.slots[index]
        if slot.busy:
            raise RuntimeError(f"all {len(self.slots)} buffer slots hold uncollected batches: collect one first")
        api = self.api
        slot.host_in.array[:n] = L.astype(slot.host_in.array.dtype, copy=False)
        nb = n * int(np.prod(self.specs["L"].shape)) * np.dtype(self.specs["L"].dtype).itemsize
        if self.memory_mode == "device":
            api.copy_htod(slot.dev["L"], slot.host_in, nb, slot.A)
        api.record(slot.copied, slot.A)
        api.record(slot.t0, slot.A)
        if self.schedule == "merged":
            self.fg.enqueue(api, n, slot.A, slot.stage_buffers[id(self.fg)])
        elif self.schedule == "sequential":
            self.fg.enqueue(api, n, slot.A, slot.stage_buffers[id(self.fg)])
            self.bg.enqueue(api, n, slot.A, slot.stage_buffers[id(self.bg)])
        else:
            api.wait(slot.B, slot.copied)
            self.fg.enqueue(api, n, slot.A, slot.stage_buffers[id(self.fg)])
            self.bg.enqueue(api, n, slot.B, slot.stage_buffers[id(self.bg)])
            api.record(slot.bg_done, slot.B)
            api.wait(slot.A, slot.bg_done)
        api.record(slot.t1, slot.A)
        self.fusion.enqueue(api, n, slot.A, slot.stage_buffers[id(self.fusion)])
        api.record(slot.t2, slot.A)
        if self.memory_mode == "device":
            for name in ("ab", "ab_fg", "ab_bg"):
                size = n * int(np.prod(self.specs[name].shape)) * np.dtype(self.specs[name].dtype).itemsize
                api.copy_dtoh(slot.host_out[name], slot.dev[name], size, slot.A)
        api.record(slot.done, slot.A)
        slot.batch, slot.busy = n, True
        self.next_slot = (index + 1) % len(self.slots)
        return index

    def _wait(self, slot: _Slot) -> None:
        self.api.event_synchronize(slot.done)

    def collect(self, ticket: int) -> dict[str, np.ndarray]:
        """Wait for a submitted batch and return copies of its outputs (float32)."""
        slot = self.slots[ticket]
        self._wait(slot)
        n = slot.batch
        out = {k: np.array(v.array[:n], dtype=np.float32) for k, v in slot.host_out.items()}
        self._timings = {"generators": self.api.elapsed_ms(slot.t0, slot.t1) / 1000.0, "fusion": self.api.elapsed_ms(slot.t1, slot.t2) / 1000.0}
        slot.busy = False
        return out

    def describe(self) -> dict:
        props = self.api.properties()
        return {**super().describe(), "device": f"{props['name']} (sm {props['compute_capability']})", "cuda": self.api.name, "memory_mode": self.memory_mode}

    def close(self):
        for slot in self.slots:
            if slot.busy:
                self._wait(slot)
            for buf in list(slot.dev.values()) + [slot.host_in] + list(slot.host_out.values()):
                buf.free()
        for stage in (self.fg, self.bg, self.fusion):
            if stage is not None:
                stage.close()

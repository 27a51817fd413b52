"""The PyTorch backend behind the engine's runner interface (eager, CPU or CUDA).

It lives with the models, not in ``paracolor.engine``, so that the engine never imports torch;
the engine loads it lazily when ``--backend torch`` is asked for.
"""

from __future__ import annotations

import numpy as np
import torch

from ..engine.modelfolder import IO_NAMES, ModelError, ModelFolder
from ..engine.runners.base import Runner, TensorSpec
from .checkpoint import load_model
from .fusion import DenseFuse, FusionHead


class TorchRunner(Runner):
    """One network as a PyTorch module; numpy in, numpy out."""

    backend = "torch"

    def __init__(self, module: torch.nn.Module, role: str, precision: str = "fp32", device: str = "auto"):
        super().__init__(role)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        if precision not in ("fp32", "fp16"):
            raise ValueError(f"the torch backend runs fp32 or fp16, not {precision}")
        if precision == "fp16" and self.device.type != "cuda":
            raise ValueError("fp16 with the torch backend needs a CUDA device")
        self.dtype = torch.float16 if precision == "fp16" else torch.float32
        if isinstance(module, DenseFuse):
            module = FusionHead(module)
        self.module = module.eval().to(self.device, self.dtype)
        ins, outs = IO_NAMES[role]
        self._inputs = [TensorSpec(n, "float32", (None, 1 if n == "L" else 2, None, None)) for n in ins]
        self._outputs = [TensorSpec(n, "float32", (None, 2, None, None)) for n in outs]

    @classmethod
    def from_folder(cls, folder: ModelFolder, role: str, precision: str = "fp32", device: str = "auto"):
        """Load ``checkpoints/<role>.safetensors`` of a model folder."""
        path = folder.root / "checkpoints" / f"{role}.safetensors"
        if not path.is_file():
            raise ModelError(f"{path}: missing; the torch backend needs the PyTorch weights in the model folder")
        kind = "fusion" if role == "fusion" else "generator"
        return cls(load_model(path, expect_kind=kind), role, precision, device)

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        args = [torch.from_numpy(feeds[s.name]).to(self.device, self.dtype) for s in self._inputs]
        with torch.inference_mode():
            out = self.module(*args)
        return {"ab": out.float().cpu().numpy()}

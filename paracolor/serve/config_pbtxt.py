"""Triton model configurations (``config.pbtxt``) as plain data, written in protobuf text format.

Written without tritonclient, so ``paracolor triton-repo`` runs on a workstation without the
``[serve]`` extra; the tests parse every file with Triton's own ``ModelConfig`` protobuf.
Values: ``str`` becomes a quoted string, :class:`Enum` a bare enum name, ``bool`` and numbers as
they are, ``dict`` a message, ``list`` a repeated field (one entry per element).
"""

from __future__ import annotations

import json


class Enum(str):
    """An enum value (``TYPE_FP32``, ``KIND_GPU``): written without quotes."""


#: numpy-style names of the tensors' types -> Triton's data types
DATA_TYPES = {"fp32": Enum("TYPE_FP32"), "fp16": Enum("TYPE_FP16"), "bytes": Enum("TYPE_STRING")}


def _scalar(value) -> str:
    if isinstance(value, Enum):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a double-quoted string with escapes protobuf's text format reads
    raise TypeError(f"cannot write {value!r} in a model config")


def _fields(message: dict, indent: int) -> list[str]:
    pad = "  " * indent
    lines = []
    for key, value in message.items():
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, dict):
                lines += [f"{pad}{key} {{", *_fields(v, indent + 1), f"{pad}}}"]
            else:
                lines.append(f"{pad}{key}: {_scalar(v)}")
    return lines


def to_pbtxt(config: dict) -> str:
    """``config`` (a ModelConfig as nested dicts and lists) in protobuf text format."""
    return "\n".join(_fields(config, 0)) + "\n"


def tensor(name: str, dtype: str, dims: list[int]) -> dict:
    return {"name": name, "data_type": DATA_TYPES[dtype], "dims": list(dims)}


def batching(max_batch: int, max_queue_delay_us: int) -> dict:
    """``max_batch_size`` and dynamic batching, for a model or (max_batch_size only) an ensemble."""
    return {"max_batch_size": max_batch, "dynamic_batching": {"max_queue_delay_microseconds": max_queue_delay_us}}


def instance_group(count: int, kind: str) -> dict:
    return {"instance_group": [{"count": count, "kind": Enum(f"KIND_{kind.upper()}")}]}

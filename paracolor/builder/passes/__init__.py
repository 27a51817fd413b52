"""Graph passes, each ONNX ModelProto -> ModelProto (onnx-graphsurgeon)."""

from .attention import fuse_attention
from .cleanup import cleanup, fix_input_shapes
from .fusion_batch import batch_fusion_encoders
from .merge import merge_generators

__all__ = ["batch_fusion_encoders", "cleanup", "fix_input_shapes", "fuse_attention", "merge_generators"]

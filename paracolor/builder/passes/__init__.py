"""Graph passes, each ONNX ModelProto -> ModelProto (onnx-graphsurgeon)."""

from .attention import fuse_attention
from .cleanup import cleanup, fix_input_shapes
from .concat_conv import FINE_DECODER, split_concat_convs
from .fusion_batch import batch_fusion_encoders
from .merge import merge_generators

__all__ = ["FINE_DECODER", "batch_fusion_encoders", "cleanup", "fix_input_shapes", "fuse_attention", "merge_generators", "split_concat_convs"]

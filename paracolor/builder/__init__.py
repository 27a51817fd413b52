"""ONNX export, graph passes, precision passes and the TensorRT build (torch/onnx extras).

Every precision and graph decision lives in the ONNX graph, so onnxruntime can check it on a
CPU against the FP32 PyTorch model even where TensorRT cannot run.
"""

"""INT8 calibration, a build step: Q/DQ ONNX graphs from real photos, a range cache, accuracy reports."""

"""INT8 calibration: Q/DQ ONNX graphs from real photos, a range cache, accuracy reports."""

"""paracolor: TensorRT-optimised edge inference engine for ParaColorizer.

Importing the package is cheap and needs no torch, TensorRT or CUDA: heavy and optional
libraries are imported lazily by the modules that use them.
"""

__version__ = "0.1.0"

"""Serving: the colorizer behind a Triton Inference Server (``paracolor serve``, through PyTriton)
and Triton model repositories for NVIDIA's containers (``paracolor triton-repo``).

Nothing here is imported by ``import paracolor``; PyTriton and tritonclient load only inside the
functions that need them (the ``[serve]`` extra).
"""

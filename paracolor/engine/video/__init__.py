"""Video: containers through PyAV (``container``), temporal chroma stabilization (``temporal``)
and the per-file job that runs the engine over a video's frames (``job``).

Nothing here imports PyAV at import time: ``av`` is loaded when a video is opened.
"""

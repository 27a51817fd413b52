"""``paracolor serve``: the colorizer as two models of a real Triton Inference Server (PyTriton).

Order of events: load the engine, warm it (a full batch through the networks and one large photo
through decoding, finishing and encoding, so the first client does not pay for graph
optimisation or the lookup-table kernels), then start tritonserver and bind the models; Triton
reports ready only once both are loaded. SIGTERM or Ctrl-C stops the server: tritonserver stops
taking requests and lets in-flight ones finish (up to ``exit_timeout_s``) before the engine closes.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import tempfile
import threading
from pathlib import Path
from typing import Callable

import numpy as np

from ..engine.pipeline import Colorizer
from ..errors import ConfigError, ParacolorError
from .config import ServeConfig
from .models import AbModel, ColorizeModel
from .stub import ensure_stub_env, require, use_stub_env_in_pytriton

log = logging.getLogger(__name__)


class ServeError(ParacolorError, RuntimeError):
    """tritonserver did not start or stopped on its own."""


def check_ports(cfg: ServeConfig) -> None:
    """Refuse a port someone already listens on, at once (tritonserver would fail after a long timeout)."""
    for name, port in (("HTTP", cfg.http_port), ("gRPC", cfg.grpc_port), ("metrics", cfg.metrics_port)):
        with socket.socket(socket.AF_INET6 if ":" in cfg.host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers are no conflict
            try:
                s.bind((cfg.host, port))
            except OSError as exc:
                raise ConfigError(f"the {name} port {cfg.host}:{port} is not free ({exc.strerror}); pick another with --{name.lower()}-port") from None

IMAGE_MODEL = "paracolor"
AB_MODEL = "paracolor_ab"


def warm(colorizer: Colorizer, max_batch: int) -> None:
    """Run what the first requests would otherwise pay for: a full batch, and one 1.5 MP photo
    (above the size where finishing switches to the compiled lookup tables; not bound by
    --max-pixels, which is for clients' photos)."""
    S = colorizer.size
    colorizer.infer(np.zeros((max_batch, 1, S, S), np.float32))
    import cv2

    yy, xx = np.mgrid[0:1000, 0:1500]
    photo = np.dstack([(xx % 256), (yy % 256), ((xx + yy) % 256)]).astype(np.uint8)
    ok, png = cv2.imencode(".png", photo)
    model = ColorizeModel(colorizer, workers=1)
    try:
        out = model([{"image": np.array([[png.tobytes()]], dtype=object)}])[0]
    finally:
        model.close()
    if out["error"][0, 0]:
        raise RuntimeError(f"warm-up failed: {out['error'][0, 0].decode()}")


def _triton_config(cfg: ServeConfig):
    from pytriton.triton import TritonConfig

    return TritonConfig(
        http_address=cfg.host, http_port=cfg.http_port, grpc_address=cfg.host, grpc_port=cfg.grpc_port,
        metrics_address=cfg.host, metrics_port=cfg.metrics_port, exit_timeout_secs=cfg.exit_timeout_s,
        log_verbose=cfg.log_verbose or None, allow_sagemaker=False, allow_vertex_ai=False,
    )


def _bind(triton, cfg: ServeConfig, colorizer: Colorizer, image_models: list[ColorizeModel], lock: threading.Lock) -> None:
    from pytriton.decorators import batch
    from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor

    batcher = DynamicBatcher(max_queue_delay_microseconds=cfg.max_queue_delay_us)
    S = colorizer.size
    triton.bind(
        IMAGE_MODEL, image_models,
        inputs=[Tensor(name="image", dtype=np.bytes_, shape=(1,)), Tensor(name="format", dtype=np.bytes_, shape=(1,), optional=True)],
        outputs=[Tensor(name="image", dtype=np.bytes_, shape=(1,)), Tensor(name="error", dtype=np.bytes_, shape=(1,))],
        config=ModelConfig(max_batch_size=cfg.max_batch, batcher=batcher), strict=False,
    )
    ab = batch(AbModel(colorizer, lock))
    triton.bind(
        AB_MODEL, ab,
        inputs=[Tensor(name="L", dtype=np.float32, shape=(1, S, S))],
        outputs=[Tensor(name="ab", dtype=np.float32, shape=(2, S, S))],
        config=ModelConfig(max_batch_size=cfg.max_batch, batcher=batcher), strict=True,
    )


def _is_handshake_race(exc: BaseException) -> bool:
    """PyTriton's proxy model (inside tritonserver) may connect to its handshake socket after the file appears but
    before the Python side listens on it: 'Connection refused' from get_config_from_handshake_server."""
    msg = str(exc)
    return "handshake" in msg and "Connection refused" in msg


def _bound_triton(triton_cls, stack: contextlib.ExitStack, cfg: ServeConfig, colorizer: Colorizer, image_models, lock) -> object:
    """A Triton (its workspace and its exit on ``stack``) with both models bound. A bind lost to PyTriton's
    handshake race (seen once in some dozens of starts here) is retried once on a fresh tritonserver."""
    for attempt in (1, 2):
        inner = contextlib.ExitStack()
        workspace = inner.enter_context(tempfile.TemporaryDirectory(prefix="paracolor-triton-"))
        triton = inner.enter_context(triton_cls(config=_triton_config(cfg), workspace=Path(workspace) / "ws"))
        try:
            _bind(triton, cfg, colorizer, image_models, lock)
        except Exception as exc:
            inner.close()
            if attempt == 2 or not _is_handshake_race(exc):
                raise
            log.warning("tritonserver's first handshake with a model was refused (a PyTriton start-up race): starting it again")
            continue
        stack.enter_context(inner)
        return triton


def serve(cfg: ServeConfig, stop: threading.Event | None = None, on_ready: Callable[[dict], None] | None = None) -> None:
    """Serve until ``stop`` is set, SIGTERM/SIGINT arrive (main thread only) or tritonserver dies."""
    require("pytriton")
    require("tritonclient")
    use_stub_env_in_pytriton(ensure_stub_env(cfg.stub_env))
    from pytriton.triton import Triton

    check_ports(cfg)
    stop = stop or threading.Event()
    lock = threading.Lock()  # one engine, shared by every instance of both models
    with Colorizer(cfg.engine) as colorizer:
        image_models = [ColorizeModel(colorizer, cfg.max_pixels, cfg.quality, lock=lock) for _ in range(cfg.instances)]
        try:
            warm(colorizer, cfg.max_batch)
            handlers = _install_signal_handlers(stop)
            try:
                with contextlib.ExitStack() as stack:
                    triton = _bound_triton(Triton, stack, cfg, colorizer, image_models, lock)
                    try:
                        triton.run()
                    except (TimeoutError, RuntimeError) as exc:
                        raise ServeError(f"tritonserver did not start ({type(exc).__name__}: {exc}); run 'paracolor -v serve --log-verbose 1' to see its log") from None
                    info = {"http": f"{cfg.host}:{cfg.http_port}", "grpc": f"{cfg.host}:{cfg.grpc_port}", "metrics": f"http://{cfg.host}:{cfg.metrics_port}/metrics", "models": [IMAGE_MODEL, AB_MODEL], "engine": colorizer.describe()}
                    log.info("ready: %s", info)
                    if on_ready:
                        on_ready(info)
                    while not stop.wait(0.5):
                        if not triton.is_alive():
                            raise ServeError("tritonserver stopped unexpectedly; run 'paracolor -v serve --log-verbose 1' to see its log")
                    log.info("stopping: in-flight requests finish first (up to %d s)", cfg.exit_timeout_s)
            finally:
                _restore_signal_handlers(handlers)
        finally:
            for m in image_models:
                m.close()


def _install_signal_handlers(stop: threading.Event) -> dict:
    if threading.current_thread() is not threading.main_thread():
        return {}
    saved = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        saved[sig] = signal.signal(sig, lambda *_: stop.set())
    return saved


def _restore_signal_handlers(saved: dict) -> None:
    for sig, handler in saved.items():
        signal.signal(sig, handler)

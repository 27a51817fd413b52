"""A real ``paracolor serve`` (tritonserver through PyTriton) on free localhost ports, on the tiny model."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

HAVE_SERVE = all(importlib.util.find_spec(m) is not None for m in ("pytriton", "tritonclient"))
needs_serve = pytest.mark.skipif(not HAVE_SERVE, reason="needs the [serve] extra (pytriton, tritonclient)")


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def tritonserver_runs() -> str | None:
    """None if the bundled tritonserver binary runs on this machine, else why not."""
    from paracolor.serve.stub import library_env, tritonserver_dist

    binary, _, stub, libs = tritonserver_dist()
    env = library_env()
    env["LD_LIBRARY_PATH"] = f"{env.get('LD_LIBRARY_PATH', '')}:{libs}"
    try:
        res = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=60, env=env)
    except OSError as exc:
        return f"the bundled tritonserver cannot start here ({exc})"
    if "--model-repository" not in res.stdout + res.stderr:
        return f"the bundled tritonserver does not run here: {(res.stderr or res.stdout).strip()[-300:]}"
    if not stub.is_file():
        return f"PyTriton has no Python-backend stub for Python {sys.version_info[0]}.{sys.version_info[1]}"
    return None


class ServeProcess:
    """``python -m paracolor.cli serve`` in a subprocess; stopped with SIGTERM."""

    def __init__(self, model_dir: Path, log_path: Path, *extra: str):
        self.http, self.grpc, self.metrics = free_ports(3)
        cmd = [sys.executable, "-m", "paracolor.cli", "serve", "--model", str(model_dir), "--http-port", str(self.http), "--grpc-port", str(self.grpc), "--metrics-port", str(self.metrics), *extra]
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def http_url(self) -> str:
        return f"127.0.0.1:{self.http}"

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def wait_ready(self, timeout: float = 240) -> None:
        import tritonclient.http as httpclient

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"paracolor serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with closing(httpclient.InferenceServerClient(self.http_url)) as c:
                    if c.is_server_ready() and c.is_model_ready("paracolor") and c.is_model_ready("paracolor_ab"):
                        return
            except Exception:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"paracolor serve not ready after {timeout} s:\n{self.log()}")

    def stop(self, timeout: float = 90) -> int:
        """SIGTERM, then the exit status (killed after ``timeout``: a test failure, not a leak)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(30)
        self._log.close()
        return self.proc.returncode


@pytest.fixture(scope="session")
def serve_runs():
    if not HAVE_SERVE:
        pytest.skip("needs the [serve] extra (pytriton, tritonclient)")
    why = tritonserver_runs()
    if why:
        pytest.skip(why)


@pytest.fixture(scope="module")
def server(serve_runs, tiny_model_dir, tmp_path_factory):
    """One server for a module's tests: small --max-pixels (a 'huge' photo is cheap to make), and
    a 300 ms queue delay so that concurrent requests meet in one batch."""
    proc = ServeProcess(tiny_model_dir, tmp_path_factory.mktemp("serve") / "serve.log", "--max-batch", "8", "--max-queue-delay-us", "300000", "--max-pixels", "200000", "--instances", "1")
    try:
        proc.wait_ready()
        yield proc
    finally:
        code = proc.stop()
        assert code == 0, f"paracolor serve exited with {code}:\n{proc.log()}"

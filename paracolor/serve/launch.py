"""``paracolor serve`` as a child process on free localhost ports: for tests, benchmarks and scripts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports free on 127.0.0.1 now (the OS picks them)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class ServeProcess:
    """``python -m paracolor.cli serve ARGS`` on free localhost ports; :meth:`stop` sends SIGTERM."""

    def __init__(self, args: list[str], log_path: Path):
        self.http, self.grpc, self.metrics = free_ports(3)
        cmd = [sys.executable, "-m", "paracolor.cli", "serve", "--host", "127.0.0.1", "--http-port", str(self.http), "--grpc-port", str(self.grpc), "--metrics-port", str(self.metrics), *args]
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def http_url(self) -> str:
        return f"127.0.0.1:{self.http}"

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def metrics_text(self) -> str:
        import urllib.request

        return urllib.request.urlopen(f"http://127.0.0.1:{self.metrics}/metrics", timeout=30).read().decode()

    def wait_ready(self, timeout: float = 300) -> None:
        """Until Triton reports both models ready (the engine is loaded and warm by then)."""
        import tritonclient.http as httpclient

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"paracolor serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with closing(httpclient.InferenceServerClient(self.http_url)) as c:
                    if c.is_server_ready() and c.is_model_ready("paracolor") and c.is_model_ready("paracolor_ab"):
                        return
            except Exception:  # not listening yet
                pass
            time.sleep(0.5)
        raise TimeoutError(f"paracolor serve not ready after {timeout} s:\n{self.log()}")

    def stop(self, timeout: float = 90) -> int:
        """SIGTERM, then the exit status; the process group is killed after ``timeout``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(30)
        self._log.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

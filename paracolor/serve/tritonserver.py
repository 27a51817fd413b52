"""Run the tritonserver that PyTriton bundles on a model repository (``triton-repo --platform python``).

That build has only the Python backend, so it serves Python-backend repositories; TensorRT plans
and onnxruntime_onnx models need NVIDIA's containers. The stub gets the same environment fixes
as ``paracolor serve`` (:mod:`paracolor.serve.stub`).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import closing, contextmanager
from pathlib import Path

from .stub import ensure_stub_env, library_env, tritonserver_dist


@contextmanager
def run_repository(repo, http_port: int, grpc_port: int, metrics_port: int, host: str = "127.0.0.1", log_path=None, ready_timeout: float = 240):
    """tritonserver on ``repo`` until the block ends (then SIGINT: in-flight requests finish)."""
    binary, backend, stub, libs = tritonserver_dist()
    env_dir = ensure_stub_env()
    with tempfile.TemporaryDirectory(prefix="paracolor-tritonserver-") as tmp:
        backends = Path(tmp) / "backends"
        shutil.copytree(backend, backends / "python")
        shutil.copy2(stub, backends / "python" / "triton_python_backend_stub")
        env = library_env()
        env["LD_LIBRARY_PATH"] = f"{env['LD_LIBRARY_PATH']}:{libs}" if env.get("LD_LIBRARY_PATH") else str(libs)
        env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"  # the stub's interpreter
        cmd = [
            str(binary), f"--model-repository={Path(repo).resolve()}", f"--backend-directory={backends}",
            f"--http-address={host}", f"--http-port={http_port}", f"--grpc-address={host}", f"--grpc-port={grpc_port}",
            f"--metrics-address={host}", f"--metrics-port={metrics_port}", "--allow-sagemaker=false", "--allow-vertex-ai=false",
            "--exit-timeout-secs=30", "--strict-model-config=true",
        ]
        log = open(log_path or Path(tmp) / "tritonserver.log", "wb")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            _wait_ready(proc, f"{host}:{http_port}", ready_timeout, log.name)
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(30)
            log.close()


def _wait_ready(proc, url: str, timeout: float, log_name: str) -> None:
    import tritonclient.http as httpclient

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"tritonserver exited with {proc.returncode}:\n{Path(log_name).read_text(errors='replace')[-3000:]}")
        try:
            with closing(httpclient.InferenceServerClient(url)) as c:
                if c.is_server_ready():
                    return
        except Exception:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"tritonserver not ready after {timeout} s:\n{Path(log_name).read_text(errors='replace')[-3000:]}")

"""A real ``paracolor serve`` (tritonserver through PyTriton) on free localhost ports, on the tiny model."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from paracolor.serve.launch import ServeProcess as _ServeProcess
from paracolor.serve.launch import free_ports  # noqa: F401  (the tests' import)

HAVE_SERVE = all(importlib.util.find_spec(m) is not None for m in ("pytriton", "tritonclient"))
needs_serve = pytest.mark.skipif(not HAVE_SERVE, reason="needs the [serve] extra (pytriton, tritonclient)")


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


class ServeProcess(_ServeProcess):
    """The server on the tiny model (a model folder first, then extra options)."""

    def __init__(self, model_dir: Path, log_path: Path, *extra: str):
        super().__init__(["--model", str(model_dir), *extra], log_path)


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

"""The bundled tritonserver and the environment of its Python-backend stub.

PyTriton (``nvidia-pytriton``) ships a ``tritonserver`` binary whose Python backend runs each
model in a stub process that embeds libpython. Two things break it on common machines, both
measured here (PyTriton 0.7.0, tritonserver 2.51, pyenv's Python 3.11.7 beside Debian's 3.11.2):

1. The stub links ``libpython3.X.so.1.0`` by name, and the loader finds the system's copy before
   the interpreter's: model loading then fails with ``'_thread.RLock' object has no attribute
   '_recursion_count'``. The interpreter's own library folder (``sysconfig`` ``LIBDIR``) first on
   ``LD_LIBRARY_PATH`` fixes it (:func:`library_env`).
2. The stub's pybind11 predates NumPy 2's ABI. Under numpy 2 it hands BYTES tensors to Python with
   zero strides (every byte reads as the first one), so an encoded image arrives as garbage and the
   stub aborts. PyTriton declares ``numpy<2`` for this reason, but the engine's OpenCV 5 and Ray's
   pandas 3 need numpy 2. So the stub runs in a small environment of its own
   (:func:`ensure_stub_env`): a venv holding only numpy<2, whose ``.pth`` file then appends this
   environment's site-packages (pytriton, pyzmq, onnxruntime for ``--platform python`` models).
   The serving process itself keeps numpy 2; the two exchange tensors as raw bytes.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

from ..errors import MissingDependency

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'paracolor[serve]' && pip install --no-deps nvidia-pytriton==0.7.0"
#: numpy the stub can read BYTES tensors with (see the module docstring)
STUB_NUMPY = "numpy>=1.24,<2"
_MARKER = "paracolor-stub.txt"


def require(module: str = "pytriton") -> None:
    """A :class:`MissingDependency` naming the extra when ``module`` (pytriton, tritonclient) is absent."""
    if importlib.util.find_spec(module) is None:
        raise MissingDependency(f"{module} is not installed: serving needs the [serve] extra ({INSTALL_HINT})")


def library_env(environ: dict | None = None) -> dict:
    """``environ`` with this interpreter's libpython folder first on ``LD_LIBRARY_PATH``.

    Only when that folder holds the interpreter's shared library (a pyenv or custom build); a
    system Python needs nothing.
    """
    env = dict(os.environ if environ is None else environ)
    libdir, soname = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("INSTSONAME")
    if libdir and soname and (Path(libdir) / soname).is_file():
        parts = [p for p in env.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p and p != libdir]
        env["LD_LIBRARY_PATH"] = os.pathsep.join([libdir, *parts])
    return env


def _numpy_major() -> int:
    import numpy

    return int(numpy.__version__.split(".")[0])


def default_stub_env() -> Path:
    """Where the stub environment lives: ``$PARACOLOR_TRITON_STUB_ENV``, else inside this environment."""
    env = os.environ.get("PARACOLOR_TRITON_STUB_ENV")
    if env:
        return Path(env)
    return Path(sys.prefix) / "share" / "paracolor" / f"triton-stub-py{sys.version_info[0]}{sys.version_info[1]}"


def _site_dir(env: Path) -> Path:
    return env / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"


def _stub_env_ok(env: Path) -> bool:
    py = env / "bin" / "python"
    if not (env / _MARKER).is_file() or not py.exists():
        return False
    probe = "import numpy, zmq, pytriton; assert int(numpy.__version__.split('.')[0]) < 2"
    return subprocess.run([str(py), "-c", probe], capture_output=True, timeout=120).returncode == 0


def ensure_stub_env(env: Path | None = None) -> Path:
    """The Python environment the stub runs in: this one where numpy < 2, else the stub
    environment (made on first use: a venv, numpy<2 from pip, and a ``.pth`` back to here)."""
    require("pytriton")
    if _numpy_major() < 2:
        return Path(sys.prefix)
    env = Path(env) if env else default_stub_env()
    if _stub_env_ok(env):
        return env
    log.warning("making the Triton stub environment in %s (numpy<2 for the Python-backend stub; once)", env)
    shutil.rmtree(env, ignore_errors=True)
    import venv

    venv.EnvBuilder(with_pip=False, symlinks=True).create(env)
    site_dir = _site_dir(env)
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "--only-binary", ":all:", "--target", str(site_dir), STUB_NUMPY]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["pip failed"]
        raise MissingDependency(
            f"cannot install {STUB_NUMPY!r} for the Triton stub into {env} ({tail[0]}); on an offline machine, "
            f"run 'python -m paracolor.serve.stub' where pip reaches an index, or point PARACOLOR_TRITON_STUB_ENV at an environment with numpy<2, pyzmq and pytriton"
        )
    # the stub environment's own numpy first, then everything this environment has
    parents = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (site_dir / "zz_paracolor_parent.pth").write_text("".join(f"{p}\n" for p in parents))
    (env / _MARKER).write_text(f"stub environment for {sys.prefix}\n")
    if not _stub_env_ok(env):
        raise MissingDependency(f"{env}: the Triton stub environment cannot import numpy<2, pyzmq and pytriton")
    return env


def use_stub_env_in_pytriton(env: Path) -> None:
    """Make PyTriton start its stubs in ``env``, with the libpython fix on their library path.

    PyTriton puts ``get_triton_python_backend_python_env()/bin`` first on the stub's PATH (the stub
    takes its interpreter from there) and passes the process environment on to tritonserver.
    """
    import pytriton.server.triton_server as ts

    if not hasattr(ts, "get_triton_python_backend_python_env"):  # a PyTriton other than 0.7
        raise MissingDependency(f"this PyTriton has no stub environment hook: serving is tested with {INSTALL_HINT}")
    ts.get_triton_python_backend_python_env = lambda: Path(env)
    os.environ.update(library_env())


def tritonserver_dist() -> tuple[Path, Path, Path, Path]:
    """(tritonserver binary, its Python backend folder, the stub for this interpreter, its libraries) as PyTriton bundles them."""
    require("pytriton")
    from pytriton.utils.distribution import get_libs_path, get_root_module_path, get_stub_path

    dist = Path(get_root_module_path()) / "tritonserver"
    stub = Path(get_stub_path(f"{sys.version_info[0]}.{sys.version_info[1]}"))
    return dist / "bin" / "tritonserver", dist / "backends" / "python", stub, Path(get_libs_path())


if __name__ == "__main__":  # pragma: no cover - an install step: python -m paracolor.serve.stub
    print(ensure_stub_env())

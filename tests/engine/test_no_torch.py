"""The engine must work without PyTorch (Jetson images): importing and colorizing load no torch."""

import ast
import subprocess
import sys
from pathlib import Path

import paracolor

PKG = Path(paracolor.__file__).parent
#: the runtime: what colorize loads (the CLI is left out: its commands import the builder lazily)
RUNTIME = sorted(PKG.glob("engine/**/*.py")) + [PKG / f"{m}.py" for m in ("__init__", "choices", "errors", "colorspace", "lab_tables", "hashing", "metrics", "info")]
#: the one runtime module that may import torch and models/ (loaded only for --backend torch)
TORCH_BACKEND = PKG / "engine" / "backends" / "torch.py"


def _imports(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    package = ".".join(("paracolor", *path.relative_to(PKG).parent.parts))
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            module = f"{base}.{node.module}" if node.level and node.module else (base if node.level else node.module)
            names.add(module)
            names |= {f"{module}.{a.name}" for a in node.names}
    return names


def _offenders(banned: tuple[str, ...]) -> list[str]:
    return [f"{p.relative_to(PKG)}: {n}" for p in RUNTIME if p != TORCH_BACKEND for n in sorted(_imports(p)) if n.startswith(banned)]


def test_runtime_never_imports_torch():
    assert TORCH_BACKEND.is_file() and "torch" in _imports(TORCH_BACKEND)  # the check can see an import
    assert _offenders(("torch",)) == []


def test_runtime_never_imports_builder_models_or_train():
    assert _offenders(("paracolor.builder", "paracolor.models", "paracolor.train", "paracolor.eval", "paracolor.bench")) == []


def test_colorize_in_subprocess_imports_no_torch(tiny_model_dir, photo_dir, tmp_path):
    script = f"""
import sys
from paracolor.cli import main
try:
    main(["colorize", {str(photo_dir)!r}, "-o", {str(tmp_path / "out")!r}, "--model", {str(tiny_model_dir)!r}, "--quiet"])
except SystemExit as exc:
    assert exc.code == 0, exc.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "tensorrt", "pycuda"))
assert not heavy, heavy
print("ok")
"""
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "ok" in res.stdout
    assert len(list((tmp_path / "out").glob("*.jpg"))) == 8


def test_import_paracolor_is_light():
    res = subprocess.run(
        [sys.executable, "-c", "import sys, paracolor, paracolor.cli; print(sorted(m for m in ('torch','onnx','onnxruntime','openvino','cv2') if m in sys.modules))"],
        capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


def test_importing_the_engine_has_no_side_effects():
    """No umask change, no table mapping, no pools at import: only on first use."""
    script = """
import os, sys
calls = []
real = os.umask
os.umask = lambda m: calls.append(m) or real(m)
import paracolor.cli, paracolor.engine.batch, paracolor.engine.io, paracolor.lab_tables as lt
assert calls == [], calls
assert lt._LAB._table is None and lt._RGB_L._table is None and lt._pool is None
from paracolor.engine.io import atomic_write
atomic_write(sys.argv[1], b"x")
print(oct(os.stat(sys.argv[1]).st_mode & 0o777), oct(0o666 & ~real(0o022)))
"""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        res = subprocess.run([sys.executable, "-c", script, f"{d}/f"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    mode, expected = res.stdout.split()
    assert mode == expected  # outputs still get the umask's permissions

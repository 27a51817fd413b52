"""The engine must work without PyTorch (Jetson images): importing and colorizing load no torch."""

import ast
import subprocess
import sys
from pathlib import Path

import paracolor

ENGINE = Path(paracolor.__file__).parent / "engine"


def test_engine_sources_never_import_torch():
    offenders = []
    for path in ENGINE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "torch"]
    assert offenders == []


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
        [sys.executable, "-c", "import sys, paracolor, paracolor.cli; print(sorted(m for m in ('torch','onnx','onnxruntime','cv2') if m in sys.modules))"],
        capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"

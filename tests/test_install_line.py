"""The README's install line and .ci/run install the same things (CI must test what users install)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _installs(line: str) -> list[str]:
    return [re.sub(r"\s+-q\b", "", part).strip() for part in line.split("&&") if part.strip().startswith(("pip", "python -m paracolor"))]


def test_readme_and_ci_install_the_same():
    readme = next(line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("python3 -m venv .venv"))
    ci = next(line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("pip install"))
    assert _installs(readme) == _installs(ci)
    assert "serve" in readme and "nvidia-pytriton" in readme  # the serve tests run in CI

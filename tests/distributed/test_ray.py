"""Colorize on a local Ray instance (CPU, a few images): same outputs and report as a local run."""

import sys

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from paracolor.cli import main
from tests.conftest import write_photo


def test_without_ray_explains_install(tmp_path, monkeypatch, tiny_model_dir):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    src = write_photo(tmp_path / "x.jpg")
    res = CliRunner().invoke(main, ["colorize", str(src), "-o", str(tmp_path / "o"), "--model", str(tiny_model_dir), "--ray"])
    assert res.exit_code != 0 and "pip install 'paracolor[ray]'" in res.output


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False, ignore_reinit_error=True)
    yield ray
    ray.shutdown()


def test_ray_matches_local_run(ray_local, tiny_model_dir, tmp_path):
    import json

    src = tmp_path / "in"
    for i in range(5):
        write_photo(src / ("sub" if i % 2 else "") / f"p{i}.png", 70, 50, seed=i)
    (src / "broken.png").write_bytes(b"not a png")
    local, remote = tmp_path / "local", tmp_path / "ray"
    r1 = CliRunner().invoke(main, ["colorize", str(src), "-o", str(local), "--model", str(tiny_model_dir), "--quiet"])
    report = tmp_path / "r.json"
    r2 = CliRunner().invoke(main, ["colorize", str(src), "-o", str(remote), "--model", str(tiny_model_dir), "--ray", "--ray-workers", "1", "--report", str(report)])
    assert r1.exit_code == r2.exit_code == 1  # the broken file fails in both
    data = json.loads(report.read_text())
    assert data["counts"] == {"done": 5, "skipped": 0, "failed": 1}
    assert "not a decodable image" in data["failed"][0]["reason"]
    names = sorted(p.relative_to(local) for p in local.rglob("*.png"))
    assert names == sorted(p.relative_to(remote) for p in remote.rglob("*.png")) and len(names) == 5
    for rel in names:
        assert np.array_equal(cv2.imread(str(local / rel)), cv2.imread(str(remote / rel)))
    again = CliRunner().invoke(main, ["colorize", str(src), "-o", str(remote), "--model", str(tiny_model_dir), "--ray", "--resume"])
    assert "done 0, skipped 5, failed 1" in again.output

"""``triton-repo``: every config.pbtxt against Triton's own ModelConfig protobuf, the ensemble's step
graph, and the python-platform repository in a real tritonserver."""

from __future__ import annotations

import json
from contextlib import closing

import numpy as np
import pytest

from paracolor.errors import ConfigError, ParacolorError
from paracolor.serve.repo import RepoConfig, ensemble_order, write_repository
from tests.conftest import TINY_SIZE

from .conftest import HAVE_SERVE, free_ports, needs_serve


def _parse(path):
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())  # raises on any field Triton does not know


def _fake_plans(root, precision="fp16", profile=(1, 8, 8)):
    d = root / "engines" / f"nvidia-h100-sm9.0-trt11.4-{precision}"
    d.mkdir(parents=True)
    for role in ("fg", "bg", "fusion"):
        (d / f"{role}.plan").write_bytes(b"not a real engine: TensorRT cannot run here")
        (d / f"{role}.json").write_text(json.dumps({"profile": list(profile), "precision": precision}))
    return root


@needs_serve
@pytest.mark.parametrize("platform", ["tensorrt", "onnx", "python"])
def test_every_config_parses_with_tritons_schema(platform, tiny_model_dir, tmp_path):
    from tritonclient.grpc import model_config_pb2 as pb

    engines = str(_fake_plans(tmp_path / "built")) if platform == "tensorrt" else None
    cfg = RepoConfig(out_dir=str(tmp_path / "repo"), model_dir=str(tiny_model_dir), platform=platform, precision="fp16" if engines else "fp32", engines=engines, max_batch=8, max_queue_delay_us=500, instances=2)
    written = write_repository(cfg)
    configs = {p.parent.name: _parse(p) for p in written}
    assert set(configs) == {"fg", "bg", "fusion", "paracolor_ab"}
    for role in ("fg", "bg", "fusion"):
        c = configs[role]
        assert c.name == role and c.max_batch_size == 8
        assert c.dynamic_batching.max_queue_delay_microseconds == 500
        assert [(g.count, g.kind) for g in c.instance_group] == [(2, pb.ModelInstanceGroup.KIND_CPU if platform == "python" else pb.ModelInstanceGroup.KIND_GPU)]
        assert c.platform == {"tensorrt": "tensorrt_plan", "onnx": "onnxruntime_onnx", "python": ""}[platform]
        assert c.backend == ("python" if platform == "python" else "")
        assert all(list(t.dims)[1:] == [TINY_SIZE, TINY_SIZE] and t.data_type == pb.TYPE_FP32 for t in [*c.input, *c.output])
        version = tmp_path / "repo" / role / "1"
        assert (version / ("model.plan" if platform == "tensorrt" else "model.onnx")).is_file()
        assert (version / "model.py").is_file() == (platform == "python")
    assert [t.name for t in configs["fusion"].input] == ["L", "ab_fg", "ab_bg"]
    ens = configs["paracolor_ab"]
    assert ens.platform == "ensemble" and ens.max_batch_size == 8
    # the step graph, read back from the parsed protobuf: fg and bg read only the ensemble's
    # input (so Triton runs them at once); fusion consumes both of their outputs
    steps = [(s.model_name, set(s.input_map.values()), set(s.output_map.values())) for s in ens.ensemble_scheduling.step]
    assert ensemble_order(steps, {t.name for t in ens.input}) == {"fg": set(), "bg": set(), "fusion": {"fg", "bg"}}
    assert {t for _, _, w in steps for t in w} >= {o.name for o in ens.output}
    for s in ens.ensemble_scheduling.step:  # every mapped key is a real tensor of that step's model
        model = configs[s.model_name]
        assert set(s.input_map) == {t.name for t in model.input} and set(s.output_map) <= {t.name for t in model.output}


def test_ensemble_order_refuses_broken_graphs():
    with pytest.raises(ConfigError, match="no step produces"):
        ensemble_order([("fusion", {"L", "ab_fg"}, {"ab"})], {"L"})
    with pytest.raises(ConfigError, match="produced twice"):
        ensemble_order([("fg", {"L"}, {"x"}), ("bg", {"L"}, {"x"})], {"L"})
    assert ensemble_order([("fg", {"L"}, {"a"}), ("fusion", {"a"}, {"ab"})], {"L"}) == {"fg": set(), "fusion": {"fg"}}


def test_tensorrt_checks(tiny_model_dir, tmp_path):
    with pytest.raises(ParacolorError, match="exactly one engine folder"):
        write_repository(RepoConfig(out_dir=str(tmp_path / "r0"), model_dir=str(tiny_model_dir), platform="tensorrt"))
    built = _fake_plans(tmp_path / "built", profile=(1, 4, 4))
    with pytest.raises(ConfigError, match="profile ends at 4"):
        write_repository(RepoConfig(out_dir=str(tmp_path / "r1"), model_dir=str(tiny_model_dir), engines=str(built), max_batch=8))
    with pytest.raises(ConfigError, match="GPU"):
        RepoConfig(out_dir="x", kind="cpu")
    out = tmp_path / "r2"
    write_repository(RepoConfig(out_dir=str(out), model_dir=str(tiny_model_dir), engines=str(built), max_batch=4))
    with pytest.raises(ConfigError, match="not empty"):
        write_repository(RepoConfig(out_dir=str(out), model_dir=str(tiny_model_dir), engines=str(built), max_batch=4))


@pytest.mark.slow
def test_python_repository_in_a_real_tritonserver(serve_runs, tiny_model_dir, tmp_path):
    """The bundled tritonserver (Python backend only) serves the --platform python repository; the
    ensemble's ab equals the engine's."""
    import tritonclient.grpc as grpcclient
    import tritonclient.http as httpclient

    from paracolor.engine.config import EngineConfig
    from paracolor.engine.pipeline import Colorizer
    from paracolor.serve.tritonserver import run_repository

    repo = tmp_path / "repo"
    write_repository(RepoConfig(out_dir=str(repo), model_dir=str(tiny_model_dir), platform="python", precision="fp32", max_batch=4))
    L = np.random.default_rng(1).uniform(-1, 1, (3, 1, TINY_SIZE, TINY_SIZE)).astype(np.float32)
    with Colorizer(EngineConfig(model_dir=str(tiny_model_dir))) as col:
        want = col.infer(L)
    http, grpc, metrics = free_ports(3)
    with run_repository(repo, http, grpc, metrics, log_path=tmp_path / "tritonserver.log"):
        with closing(httpclient.InferenceServerClient(f"127.0.0.1:{http}")) as c:
            for name in ("fg", "bg", "fusion", "paracolor_ab"):
                assert c.is_model_ready(name), (tmp_path / "tritonserver.log").read_text()[-3000:]
            x = httpclient.InferInput("L", list(L.shape), "FP32")
            x.set_data_from_numpy(L)
            got = c.infer("paracolor_ab", [x]).as_numpy("ab")
            assert np.abs(got - want["ab"]).max() < 1e-4
            fg = c.infer("fg", [x]).as_numpy("ab")
            assert np.abs(fg - want["ab_fg"]).max() < 1e-4
        with closing(grpcclient.InferenceServerClient(f"127.0.0.1:{grpc}")) as c:
            x = grpcclient.InferInput("L", [1, 1, TINY_SIZE, TINY_SIZE], "FP32")
            x.set_data_from_numpy(L[:1])
            assert np.abs(c.infer("paracolor_ab", [x]).as_numpy("ab") - want["ab"][:1]).max() < 1e-4


if not HAVE_SERVE:  # the writer needs no [serve] extra: at least check the text it writes
    def test_pbtxt_text_without_tritonclient(tiny_model_dir, tmp_path):
        written = write_repository(RepoConfig(out_dir=str(tmp_path / "repo"), model_dir=str(tiny_model_dir), platform="onnx", precision="fp32"))
        assert 'platform: "onnxruntime_onnx"' in written[0].read_text()


def test_cli_writes_a_repository(tiny_model_dir, tmp_path):
    from click.testing import CliRunner

    from paracolor.cli import main

    res = CliRunner().invoke(main, ["triton-repo", "-o", str(tmp_path / "repo"), "--model", str(tiny_model_dir), "--platform", "onnx", "--precision", "fp32", "--max-batch", "16", "--kind", "cpu"])
    assert res.exit_code == 0, res.output
    assert len(res.output.split()) == 4
    text = (tmp_path / "repo" / "fg" / "config.pbtxt").read_text()
    assert "max_batch_size: 16" in text and "kind: KIND_CPU" in text
    res = CliRunner().invoke(main, ["triton-repo", "-o", str(tmp_path / "r2"), "--model", str(tiny_model_dir)])
    assert res.exit_code == 1 and "exactly one engine folder" in res.output

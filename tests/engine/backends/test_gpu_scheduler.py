"""The two-stream GPU scheduler through the host implementation of the CUDA layer (real models,
CPU execution): ordering, one-time allocation and reuse, pipelining, zero-copy wiring."""

import numpy as np
import pytest


from paracolor.engine.backends.gpu_scheduler import StreamScheduler
from paracolor.engine.backends.onnxruntime import runners
from paracolor.engine.modelfolder import ModelFolder
from paracolor.engine.pipeline import Colorizer, EngineConfig
from tests.engine.backends.cuda_host import HostApi, HostStage


@pytest.fixture(scope="module")
def cpu(tiny_model_dir):
    col = Colorizer(EngineConfig(model_dir=str(tiny_model_dir), backend="onnxruntime", schedule="sequential"))  # the host stages' runners
    yield col
    col.close()


def _sched(cpu, trace=None, **kw):
    api = HostApi(trace)
    cfg = EngineConfig(model_dir=str(cpu.folder.root), schedule="sequential")
    stages = {r: HostStage(runner, 64) for r, runner in runners(ModelFolder.load(cfg.model_dir), cfg).items()}
    return api, stages, StreamScheduler(api, stages["fg"], stages["bg"], stages["fusion"], max_batch=4, **kw)


def _L(n, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, 1, 64, 64)).astype(np.float32)


def test_parallel_ordering_on_two_streams(cpu):
    trace = []
    api, stages, sched = _sched(cpu, trace)
    sched.run(_L(2))
    ops = [t for t in trace]
    A, B = ops[0][1], [t for t in ops if t[:2] == ("enqueue", "bg")][0][2]
    assert A != B
    i = ops.index
    h2d, copied = i(("h2d", A)), i(("record", A))
    assert h2d < copied < i(("wait", B)) < i(("enqueue", "bg", B))  # bg starts after the copy's event
    assert i(("enqueue", "fg", A)) > copied
    bg_done = i(("record", B))
    fusion = i(("enqueue", "fusion", A))
    assert bg_done < ops.index(("wait", A)) < fusion  # fusion waits for bg's completion event
    assert max(k for k, t in enumerate(ops) if t == ("d2h", A)) > fusion


def test_results_equal_cpu_pipeline_and_buffers_reused(cpu):
    api, stages, sched = _sched(cpu)
    allocated = api.allocations
    ptrs = None
    for seed, n in enumerate((1, 4, 3, 2, 4)):
        L = _L(n, seed)
        got, ref = sched.run(L), cpu.infer(L)
        for k in ("ab_fg", "ab_bg", "ab"):
            assert np.array_equal(got[k], ref[k]), k
        call = stages["fusion"].calls[-1]
        ptrs = ptrs or {}
        ptrs.setdefault(seed % 2, call[2])
        assert call[2] == ptrs[seed % 2]  # each slot's buffers, the same every time
    assert api.allocations == allocated  # nothing allocated after construction
    assert ptrs[0] != ptrs[1]  # two slots (double buffering)


def test_pipelined_run_many_in_order(cpu):
    _, _, sched = _sched(cpu)
    batches = [_L(n, s) for s, n in enumerate((2, 4, 1, 3))]
    outs = list(sched.run_many(batches))
    for L, out in zip(batches, outs):
        assert np.array_equal(out["ab"], cpu.infer(L)["ab"])


def test_sequential_uses_one_stream_and_zero_copy_skips_copies(cpu):
    trace = []
    _, _, sched = _sched(cpu, trace, schedule="sequential")
    sched.run(_L(1))
    assert len({t[2] for t in trace if t[0] == "enqueue"}) == 1
    trace.clear()
    _, _, zc = _sched(cpu, trace, memory_mode="zero-copy")
    out = zc.run(_L(2))
    assert not [t for t in trace if t[0] in ("h2d", "d2h")]
    assert np.array_equal(out["ab"], cpu.infer(_L(2))["ab"])


def test_limits(cpu):
    _, _, sched = _sched(cpu)
    with pytest.raises(ValueError, match="exceeds"):
        sched.submit(_L(5))
    sched.submit(_L(1))
    sched.submit(_L(1))
    with pytest.raises(RuntimeError, match="uncollected"):
        sched.submit(_L(1))


@pytest.mark.gpu
def test_torch_cuda_pipeline_matches_cpu(tiny_model_dir, true_fp32):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    from paracolor.engine.modelfolder import ModelFolder
    from paracolor.engine.backends.torch import torch_cuda_scheduler

    folder = ModelFolder.load(tiny_model_dir)
    ref = Colorizer(EngineConfig(model_dir=str(tiny_model_dir), backend="torch", device="cpu")).infer(_L(3))
    for schedule in ("sequential", "parallel"):
        for graphs in (False, True):
            sched = torch_cuda_scheduler(folder, 64, 4, "fp32", schedule, graphs)
            for _ in range(2):  # second pass replays captured graphs
                got = sched.run(_L(3))
            assert np.abs(got["ab"] - ref["ab"]).max() < 1e-3
            sched.close()

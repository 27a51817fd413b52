"""The host scheduler: fg || bg -> fusion in threads, ordering, and the scheduler contract."""

import numpy as np
import pytest

from paracolor.engine.backends.cpu_scheduler import StageScheduler
from paracolor.engine.backends.onnxruntime import runners
from paracolor.engine.modelfolder import ModelFolder
from paracolor.engine.pipeline import EngineConfig
from paracolor.errors import ConfigError


def test_parallel_equals_sequential_and_ordering(tiny_model_dir):
    rng = np.random.default_rng(0)
    L = rng.uniform(-1, 1, (2, 1, 64, 64)).astype(np.float32)
    results = {}
    for schedule in ("sequential", "parallel"):
        cfg = EngineConfig(model_dir=str(tiny_model_dir), schedule=schedule)
        r = runners(ModelFolder.load(cfg.model_dir), cfg)
        trace = []
        sched = StageScheduler(r["fg"], r["bg"], r["fusion"], schedule, trace)
        results[schedule] = sched.run(L)
        events = {(e, r): t for e, r, t in trace}
        # fusion starts only after both generators have finished
        assert events[("start", "fusion")] >= max(events[("end", "fg")], events[("end", "bg")])
        if schedule == "sequential":
            assert events[("start", "bg")] >= events[("end", "fg")]
        sched.close()
    for k in ("ab_fg", "ab_bg", "ab"):
        assert np.array_equal(results["sequential"][k], results["parallel"][k])


def test_submit_computes_and_collect_hands_over_in_any_order(tiny_model_dir):
    cfg = EngineConfig(model_dir=str(tiny_model_dir), schedule="sequential")
    r = runners(ModelFolder.load(cfg.model_dir), cfg)
    sched = StageScheduler(r["fg"], r["bg"], r["fusion"], "sequential")
    assert sched.in_flight == 0 and sched.max_batch is None and sched.backend == "onnxruntime"
    L = [np.random.default_rng(s).uniform(-1, 1, (n, 1, 64, 64)).astype(np.float32) for s, n in enumerate((2, 1, 3))]
    tickets = [sched.submit(x) for x in L]
    assert len(set(tickets)) == 3
    for x, t in reversed(list(zip(L, tickets))):
        assert np.array_equal(sched.collect(t)["ab"], sched.run(x)["ab"])
    assert set(sched.timings) == {"generators", "fusion"}
    outs = list(sched.run_many(L))
    assert [o["ab"].shape[0] for o in outs] == [2, 1, 3]
    with pytest.raises(KeyError):
        sched.collect(tickets[0])  # collected once only
    desc = sched.describe()
    assert desc["device"] == "cpu" and [d["role"] for d in desc["stages"]] == ["fg", "bg", "fusion"]
    with pytest.raises(ConfigError, match="unknown schedule"):
        StageScheduler(r["fg"], r["bg"], r["fusion"], "interleaved")
    sched.close()

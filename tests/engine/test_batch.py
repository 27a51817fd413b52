"""The folder job's inference loop: one batch in flight on GPU schedulers, none on the CPU.

The GPU schedule runs here on the host implementation of the CUDA layer (real models, CPU
execution): the outputs must be the CPU run's bit for bit, in the same order, while batch k+1
is submitted before batch k is collected. Nothing here measures a GPU.
"""

import queue
import threading

import numpy as np
import pytest

from paracolor.engine import batch as batch_mod
from paracolor.engine.backends.gpu_scheduler import StreamScheduler
from paracolor.engine.backends.onnxruntime import runners
from paracolor.engine.batch import ColorizeConfig, colorize_files
from paracolor.engine.io import read_image
from paracolor.engine.modelfolder import ModelFolder
from paracolor.engine.pipeline import Colorizer, EngineConfig
from tests.conftest import TINY_SIZE, write_photo
from tests.engine.backends.cuda_host import HostApi, HostStage


class Recording(Colorizer):
    """A Colorizer that logs every submit and collect (test double for observing the loop)."""

    def __init__(self, cfg, scheduler=None):
        super().__init__(cfg, scheduler)
        self.log = []

    def submit(self, L_batch):
        ticket = super().submit(L_batch)
        self.log.append(("submit", ticket, len(L_batch)))
        return ticket

    def collect(self, ticket):
        self.log.append(("collect", ticket))
        return super().collect(ticket)


def _host_gpu(cfg: EngineConfig, max_batch: int) -> StreamScheduler:
    stages = {r: HostStage(runner, TINY_SIZE) for r, runner in runners(ModelFolder.load(cfg.model_dir), cfg).items()}
    return StreamScheduler(HostApi(), stages["fg"], stages["bg"], stages["fusion"], max_batch, cfg.schedule)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    d = tmp_path_factory.mktemp("batch-in")
    for i in range(11):
        write_photo(d / f"p{i:02d}.png", 40 + 7 * i, 90 - 3 * i, seed=i)
    (d / "broken.png").write_bytes(b"not an image")  # a failure in the middle changes nothing
    return d


def _run(photos, out, colorizer, batch_size=3):
    cfg = ColorizeConfig(inputs=[str(photos)], output_dir=str(out), engine=colorizer.cfg, batch_size=batch_size, progress=False, save_stages=True)
    return colorize_files(cfg, colorizer)


def test_gpu_schedule_keeps_one_batch_in_flight_with_identical_outputs(photos, tmp_path, tiny_model_dir):
    cfg = EngineConfig(model_dir=str(tiny_model_dir), backend="onnxruntime", schedule="sequential")  # the host GPU's runners
    cpu = Recording(cfg)
    gpu = Recording(cfg, _host_gpu(cfg, max_batch=2))  # batches of 3 become 2: the buffers' size
    assert (cpu.in_flight, gpu.in_flight, gpu.max_batch) == (0, 1, 2)
    s_cpu, s_gpu = _run(photos, tmp_path / "cpu", cpu), _run(photos, tmp_path / "gpu", gpu)
    assert len(s_cpu.done) == len(s_gpu.done) == 11 and len(s_gpu.failed) == 1
    assert [d["path"] for d in s_cpu.done] == [d["path"] for d in s_gpu.done]  # same order
    for p in sorted((tmp_path / "cpu").iterdir()):
        assert p.read_bytes() == (tmp_path / "gpu" / p.name).read_bytes(), p.name
    assert len(list((tmp_path / "gpu").iterdir())) == 33  # result, _fg and _bg per photo

    # CPU: every batch is collected before the next is submitted
    assert [e[0] for e in cpu.log] == ["submit", "collect"] * (len(cpu.log) // 2)
    # GPU: batches of at most max_batch, collected in submission order, each once (whether a
    # collect waits for the next submit depends on the decoder's pace: see the next test)
    subs = [e for e in gpu.log if e[0] == "submit"]
    assert all(n <= 2 for _, _, n in subs) and sum(n for _, _, n in subs) == 11
    assert [e[1] for e in gpu.log if e[0] == "collect"] == [e[1] for e in subs]
    cpu.close()
    gpu.close()


def test_gpu_loop_overlaps_when_photos_are_ready(tiny_model_dir, tmp_path):
    """With every photo decoded before inference starts, each collect follows the next submit."""
    cfg = EngineConfig(model_dir=str(tiny_model_dir), schedule="parallel")
    gpu = Recording(cfg, _host_gpu(cfg, max_batch=2))
    decoded = queue.Queue()
    imgs = [read_image(write_photo(tmp_path / f"ready{i}.png", 50, 40, seed=i)) for i in range(5)]
    jobs = [type("J", (), {"src": f"ready{i}.png"})() for i in range(5)]
    for job, im in zip(jobs, imgs):
        decoded.put((job, gpu.prepare(im), 0))
    decoded.put(batch_mod._DONE)
    finished = queue.Queue()

    class Bar:
        def update(self, n):
            pass

    budget = batch_mod.ByteBudget(1 << 30)
    batch_mod._infer_loop(ColorizeConfig(inputs=[], output_dir="", batch_size=2), gpu, decoded, finished, batch_mod.Summary(), threading.Lock(), Bar(), budget)
    assert [e[0] for e in gpu.log] == ["submit", "submit", "collect", "submit", "collect", "collect"]
    got = [finished.get_nowait() for _ in range(5)]
    ref = Colorizer(EngineConfig(model_dir=str(tiny_model_dir), backend="onnxruntime"))  # the host GPU's runners
    for (job, prep, ab, _), want in zip(got, ref.infer(np.stack([p.L_net for _, p, _, _ in got]))["ab"]):
        assert np.array_equal(ab["ab"], want)
    gpu.close()
    ref.close()


def test_batch_size_defaults_to_the_backends_preferred_batch(photos, tmp_path, tiny_model_dir):
    cfg = EngineConfig(model_dir=str(tiny_model_dir), backend="onnxruntime", schedule="sequential")
    r = runners(ModelFolder.load(cfg.model_dir), cfg)
    from paracolor.engine.backends.cpu_scheduler import StageScheduler

    col = Recording(cfg, StageScheduler(r["fg"], r["bg"], r["fusion"], "sequential", preferred_batch=5))
    assert col.preferred_batch == col.describe()["preferred_batch"] == 5
    s = _run(photos, tmp_path / "out", col, batch_size=None)
    assert len(s.done) == 11
    assert [n for e, _, *n in col.log if e == "submit"] == [[5], [5], [1]]
    col.close()
    with Colorizer(cfg) as loaded:  # the CPU backends' measured default
        assert loaded.preferred_batch == 1


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the crash is the point
def test_a_worker_dying_of_a_bug_fails_its_photos_not_the_exit_status(photos, tmp_path, tiny_model_dir, monkeypatch):
    """A run that ends without an interrupt accounts for every photo: the ones a crashed decoder
    never handed on are failed with the reason, so the run cannot report success with work lost."""
    monkeypatch.setattr(batch_mod, "_prepared_bytes", lambda prep: 1 / 0)
    cfg = ColorizeConfig(inputs=[str(photos)], output_dir=str(tmp_path / "out"), engine=EngineConfig(model_dir=str(tiny_model_dir)), progress=False)
    summary = colorize_files(cfg)
    assert not summary.ok and not summary.done
    lost = [f for f in summary.failed if "worker thread stopped" in f["reason"]]
    assert lost and len(summary.failed) + len(summary.skipped) == len(list(photos.rglob("*.*")))  # every file accounted for

"""The byte budget of the folder job: waits, wakes, a photo larger than the budget runs alone,
and a run under a small budget never holds more than it allows."""

import threading
import time

import numpy as np

import paracolor.engine.batch as batch
from paracolor.engine.batch import ColorizeConfig, colorize_files
from paracolor.engine.budget import ByteBudget, held_bytes
from paracolor.engine.pipeline import EngineConfig
from tests.conftest import write_photo


def test_take_waits_until_given_back():
    b = ByteBudget(100)
    assert b.take(60) and b.used == 60
    got = []
    t = threading.Thread(target=lambda: got.append(b.take(60)))
    t.start()
    time.sleep(0.2)
    assert not got and b.blocked  # 120 > 100: waits
    b.give(60)
    t.join(2)
    assert got == [True] and b.used == 60 and b.peak == 60


def test_an_item_larger_than_the_budget_runs_alone_and_stop_ends_a_wait():
    b = ByteBudget(100)
    assert b.take(500) and b.used == 500  # nothing held: it goes, alone
    stop = threading.Event()
    stop.set()
    assert b.take(1, stop) is False  # held bytes and a stop: gives up instead of waiting
    b.give(500)
    assert b.used == 0


def test_held_bytes_counts_each_buffer_once():
    plane = np.zeros((100, 200), np.uint8)
    grey_rgb = np.broadcast_to(plane[..., None], (100, 200, 3))
    bgr = np.zeros((100, 200, 3), np.uint8)
    assert held_bytes(grey_rgb, plane) == plane.nbytes
    assert held_bytes(bgr[..., ::-1], None) == bgr.nbytes


def test_a_run_stays_within_a_small_budget(tiny_model_dir, tmp_path, monkeypatch):
    """Photos of 4.8 MB prepared each under a 16 MiB budget with batches of 4: the loop
    submits part batches instead of deadlocking, and the budget is never exceeded."""
    for i in range(5):
        write_photo(tmp_path / "in" / f"p{i}.jpg", 1200, 1000, seed=i)
    budgets = []
    real = batch.ByteBudget

    def recording(limit):
        budgets.append(real(limit))
        return budgets[-1]

    monkeypatch.setattr(batch, "ByteBudget", recording)
    cfg = ColorizeConfig(inputs=[str(tmp_path / "in")], output_dir=str(tmp_path / "out"), engine=EngineConfig(model_dir=str(tiny_model_dir)), batch_size=4, queue_bytes=16 << 20, progress=False)
    s = colorize_files(cfg)
    assert len(s.done) == 5 and not s.failed
    b = budgets[0]
    assert 0 < b.peak <= 16 << 20 and b.used == 0  # all given back

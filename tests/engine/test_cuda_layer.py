"""The CUDA layer on a real GPU through each installed binding (cuda-python, pycuda), and the
two-stream scheduler driving real models through it. Skipped where no GPU or binding is present."""

import numpy as np
import pytest

from paracolor.choices import CUDA_BINDINGS
from paracolor.engine.cuda import CudaError, available_bindings, get_cuda
from paracolor.engine.cuda.base import DeviceBuffer

BOUND = [b for b in CUDA_BINDINGS if b != "auto"]


def _api(binding):
    if binding not in available_bindings():
        pytest.skip(f"{binding} is not installed")
    try:
        return get_cuda(binding)
    except Exception as exc:  # no driver or no device: the binding imports but CUDA does not start
        pytest.skip(f"{binding}: no usable CUDA device ({exc})")


def test_unknown_binding_and_missing_binding_errors(monkeypatch):
    with pytest.raises(ValueError, match="unknown CUDA binding"):
        get_cuda("opencl")
    monkeypatch.setattr("paracolor.engine.cuda.available_bindings", lambda: [])
    with pytest.raises(CudaError, match="no CUDA Python binding installed"):
        get_cuda("auto")


@pytest.mark.gpu
@pytest.mark.parametrize("binding", BOUND)
def test_copies_across_two_streams_ordered_by_an_event(binding):
    api = _api(binding)
    n = 1 << 22  # 16 MB: long enough that an unordered read would see stale data
    src = api.host_alloc((n,), np.float32)
    dst = api.host_alloc((n,), np.float32)
    src.array[:] = np.random.default_rng(0).standard_normal(n, dtype=np.float32)
    dst.array[:] = 0
    dev = api.device_alloc(4 * n)
    A, B = api.stream(), api.stream()
    start, end, copied = api.event(True), api.event(True), api.event()
    api.record(start, A)
    api.copy_htod(dev, src, 4 * n, A)
    api.record(copied, A)
    api.record(end, A)
    api.wait(B, copied)
    api.copy_dtoh(dst, dev, 4 * n, B)
    api.synchronize(B)
    assert np.array_equal(dst.array, src.array)
    api.event_synchronize(end)
    assert api.elapsed_ms(start, end) > 0
    for buf in (src, dst, dev):
        buf.free()


@pytest.mark.gpu
@pytest.mark.parametrize("binding", BOUND)
def test_mapped_host_memory_is_device_visible(binding):
    api = _api(binding)
    mapped = api.host_alloc((4, 1000), np.float32, mapped=True)
    assert mapped.device_ptr
    mapped.array[:] = np.arange(4000, dtype=np.float32).reshape(4, 1000)
    out = api.host_alloc((4, 1000), np.float32)
    s = api.stream()
    api.copy_dtoh(out, DeviceBuffer(mapped.device_ptr, mapped.array.nbytes), mapped.array.nbytes, s)
    api.synchronize(s)
    assert np.array_equal(out.array, mapped.array)


@pytest.mark.gpu
@pytest.mark.parametrize("binding", BOUND)
def test_failed_call_names_the_call(binding):
    api = _api(binding)
    with pytest.raises(CudaError, match="cudaMalloc|cuMemAlloc"):
        api.device_alloc(1 << 60)
    props = api.properties()
    assert props["name"] and props["total_memory"] > 0 and "." in props["compute_capability"]


@pytest.mark.gpu
@pytest.mark.parametrize("binding", BOUND)
def test_graph_capture_replays_with_new_host_data(binding):
    api = _api(binding)
    src, dst = api.host_alloc((1024,), np.float32), api.host_alloc((1024,), np.float32)
    dev = api.device_alloc(4096)
    s = api.stream()
    try:
        api.begin_capture(s)
    except NotImplementedError:
        pytest.skip(f"{binding}: no graph capture in this layer")
    api.copy_htod(dev, src, 4096, s)
    api.copy_dtoh(dst, dev, 4096, s)
    graph = api.end_capture(s)
    src.array[:] = np.arange(1024)
    dst.array[:] = -1
    api.launch_graph(graph, s)  # the captured copies read the pinned buffer's current contents
    api.synchronize(s)
    assert np.array_equal(dst.array, src.array)


@pytest.mark.gpu
@pytest.mark.parametrize("binding", BOUND)
@pytest.mark.parametrize("memory_mode", ["device", "zero-copy"])
def test_scheduler_on_the_binding_matches_cpu(binding, memory_mode, tiny_model_dir, true_fp32):
    """torch modules as stages, but streams, events, buffers and copies from the binding (as for TensorRT)."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    _api(binding)
    from paracolor.engine.modelfolder import ModelFolder
    from paracolor.engine.pipeline import Colorizer, EngineConfig
    from paracolor.engine.backends.torch import torch_cuda_scheduler

    L = np.random.default_rng(1).uniform(-1, 1, (3, 1, 64, 64)).astype(np.float32)
    ref = Colorizer(EngineConfig(model_dir=str(tiny_model_dir), backend="torch", device="cpu")).infer(L)
    folder = ModelFolder.load(tiny_model_dir)
    for schedule, graphs in (("parallel", False), ("parallel", True), ("sequential", False)):
        sched = torch_cuda_scheduler(folder, 64, 4, "fp32", schedule, graphs, binding=binding, memory_mode=memory_mode)
        outs = list(sched.run_many([L, L[:1], L]))  # pipelined over both buffer slots; graphs replay
        sched.close()
        for got, want in ((outs[0], ref), (outs[2], ref)):
            for k in ("ab_fg", "ab_bg", "ab"):
                assert np.abs(got[k] - want[k]).max() < 1e-3, (binding, memory_mode, schedule, graphs, k)
        assert np.abs(outs[1]["ab"] - ref["ab"][:1]).max() < 1e-3

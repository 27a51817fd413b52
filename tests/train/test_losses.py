import pytest

torch = pytest.importorskip("torch")

from paracolor.train.losses import edge_loss, fusion_loss, lsgan_loss, otsu_threshold, ssim  # noqa: E402


def _edges_image(shift: int = 0, blur: int = 0):
    """ab image with a vertical colour edge at column 16 + shift (optionally box-blurred)."""
    x = torch.full((1, 2, 32, 32), -0.4)
    x[..., 16 + shift :] = 0.5
    if blur:
        k = torch.ones(2, 1, 1, 2 * blur + 1) / (2 * blur + 1)
        x = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (blur, blur, 0, 0), mode="replicate"), k, groups=2)
    return x


def test_edge_loss_zero_for_identical():
    t = _edges_image()
    assert edge_loss(t, t).item() == 0.0
    r = torch.rand(2, 2, 32, 32)
    assert edge_loss(r, r).item() == 0.0


def test_edge_loss_grows_as_edges_depart():
    target = _edges_image()
    losses = [edge_loss(_edges_image(shift=s), target).item() for s in (0, 1, 3, 6)]
    # overlapping edges (shift 1) cost less than disjoint ones (shift 3); past that it saturates
    assert losses[0] == 0.0 < losses[1] < losses[2] <= losses[3]
    flat = torch.zeros_like(target)  # an output with no edges at all misses every target edge
    assert edge_loss(flat, target).item() > 0
    noisy = target + 0.5 * torch.randn_like(target)  # spurious edges everywhere cost more still
    assert edge_loss(noisy, target).item() > losses[3]


def test_edge_loss_is_differentiable():
    out = _edges_image(blur=2).requires_grad_(True)
    edge_loss(out, _edges_image()).backward()
    assert out.grad is not None and out.grad.abs().sum() > 0


def test_otsu_separates_two_modes():
    v = torch.cat([torch.full((500,), 0.1), torch.full((500,), 0.9)]).view(1, 1, 10, 100)
    t = otsu_threshold(v).item()
    assert 0.1 < t < 0.9


def test_lsgan_and_ssim():
    s = torch.tensor([1.0, 1.0])
    assert lsgan_loss(s, True).item() == 0.0 and lsgan_loss(s, False).item() == 1.0
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert ssim(x, x).item() == pytest.approx(1.0, abs=1e-5)
    assert fusion_loss(x, x).item() == pytest.approx(0.0, abs=1e-5)
    assert fusion_loss(x, -x).item() > 1.0

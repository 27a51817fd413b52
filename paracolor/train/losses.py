"""Training losses: LSGAN, the differentiable edge-map loss, SSIM."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def lsgan_loss(scores: torch.Tensor, real: bool) -> torch.Tensor:
    """Least-squares GAN loss (Mao et al.): MSE of patch scores against 1 (real) or 0 (fake)."""
    target = torch.ones_like(scores) if real else torch.zeros_like(scores)
    return F.mse_loss(scores, target)


_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def sobel_magnitude(x: torch.Tensor) -> torch.Tensor:
    """Gradient magnitude (N,1,H,W) summed over the channels of ``x`` (N,C,H,W)."""
    c = x.shape[1]
    kx = _SOBEL_X.to(x).view(1, 1, 3, 3).repeat(c, 1, 1, 1)
    ky = kx.transpose(2, 3)
    xp = F.pad(x, (1, 1, 1, 1), mode="replicate")
    gx = F.conv2d(xp, kx, groups=c)
    gy = F.conv2d(xp, ky, groups=c)
    return torch.sqrt(gx * gx + gy * gy + 1e-12).sum(1, keepdim=True)


@torch.no_grad()
def otsu_threshold(values: torch.Tensor, bins: int = 128) -> torch.Tensor:
    """Otsu's threshold per image of ``values`` (N,1,H,W): maximises between-class variance.

    Returns (N,1,1,1). Computed without gradient: the threshold is a property of the target.
    """
    n = values.shape[0]
    flat = values.reshape(n, -1).float()
    lo = flat.min(1, keepdim=True).values
    hi = flat.max(1, keepdim=True).values
    span = (hi - lo).clamp_min(1e-8)
    idx = ((flat - lo) / span * (bins - 1)).round().long().clamp(0, bins - 1)
    hist = torch.zeros(n, bins, device=values.device).scatter_add_(1, idx, torch.ones_like(flat))
    p = hist / hist.sum(1, keepdim=True)
    centers = torch.arange(bins, device=values.device, dtype=torch.float32)
    w0 = p.cumsum(1)
    mu = (p * centers).cumsum(1)
    mu_t = mu[:, -1:]
    between = (mu_t * w0 - mu) ** 2 / (w0 * (1 - w0)).clamp_min(1e-12)
    k = between.argmax(1, keepdim=True).float()
    return (lo + (k + 0.5) / (bins - 1) * span).view(n, 1, 1, 1)


def edge_map(x: torch.Tensor, threshold: torch.Tensor, softness: float = 0.1) -> torch.Tensor:
    """Soft binary edge map: sigmoid of the Sobel magnitude around ``threshold``.

    A differentiable stand-in for Canny with an Otsu threshold; ``softness`` is the sigmoid's
    width relative to the threshold.
    """
    mag = sobel_magnitude(x)
    t = threshold.clamp_min(1e-4)
    return torch.sigmoid((mag - t) / (softness * t))


def edge_loss(output: torch.Tensor, target: torch.Tensor, softness: float = 0.1) -> torch.Tensor:
    """L1 distance between soft edge maps of output and target.

    Both maps use the Otsu threshold of the target's gradient magnitude, so identical images
    give exactly zero and the loss grows as the output's edges depart from the target's.
    Images are the colour channels (ab): L is given, so only colour edges can differ.
    """
    thr = otsu_threshold(sobel_magnitude(target))
    return F.l1_loss(edge_map(output, thr, softness), edge_map(target, thr, softness))


def _gaussian_window(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = (g / g.sum()).to(like)
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 2.0, size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean SSIM (Wang et al. 2004, Gaussian window) of (N,C,H,W) images; valid region only."""
    c = x.shape[1]
    w = _gaussian_window(size, sigma, c, x)
    mu_x = F.conv2d(x, w, groups=c)
    mu_y = F.conv2d(y, w, groups=c)
    sxx = F.conv2d(x * x, w, groups=c) - mu_x**2
    syy = F.conv2d(y * y, w, groups=c) - mu_y**2
    sxy = F.conv2d(x * y, w, groups=c) - mu_x * mu_y
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return s.mean()


def fusion_loss(output: torch.Tensor, target: torch.Tensor, ssim_weight: float = 1.0) -> torch.Tensor:
    """DenseFuse reconstruction loss: MSE + weight * (1 - SSIM), images in [-1, 1]."""
    return F.mse_loss(output, target) + ssim_weight * (1.0 - ssim(output, target, data_range=2.0))


# -- colour rebalancing (Zhang et al. 2016) ------------------------------------------------------


class PriorTables:
    """A :class:`~paracolor.train.colour_prior.ColourPrior` as tensors on ``device``.

    ab is in network scale (ab / 110); grid cell (i, j) has centre (-1 + i*d, -1 + j*d) with
    d = step / 110.
    """

    def __init__(self, prior, device="cpu"):
        from .. import colorspace

        self.cells = int(prior.cells)
        self.d = float(prior.step) / colorspace.AB_SCALE
        self.lim = 110.0 / colorspace.AB_SCALE
        self.cell_bin = torch.tensor(prior.cell_bin, dtype=torch.long, device=device)
        self.weight = torch.tensor(prior.weight, dtype=torch.float32, device=device)
        self.q = int((self.cell_bin >= 0).sum())

    def _coords(self, ab: torch.Tensor) -> torch.Tensor:
        return ((ab.float() + self.lim) / self.d).clamp(0, self.cells - 1)

    def pixel_weight(self, ab: torch.Tensor) -> torch.Tensor:
        """(N,2,H,W) true ab -> (N,1,H,W) rebalancing weight of each pixel's nearest cell."""
        i = self._coords(ab).round().long()
        return self.weight[i[:, 0] * self.cells + i[:, 1]].unsqueeze(1)

    def soft_targets(self, ab: torch.Tensor, sigma: float = 0.5):
        """Soft-encoded bins: indices and weights (N,9,H,W) over the 3x3 cells round the nearest.

        Gaussian weights (``sigma`` in cells; 0.5 = 5 Lab units, Zhang et al.'s) on the distance
        from the true ab, cells outside the gamut excluded, normalised to sum 1.
        """
        u = self._coords(ab)
        base = u.round().long()
        idx, wts = [], []
        for da in (-1, 0, 1):
            for db in (-1, 0, 1):
                ia = (base[:, 0] + da).clamp(0, self.cells - 1)
                ib = (base[:, 1] + db).clamp(0, self.cells - 1)
                b = self.cell_bin[ia * self.cells + ib]
                d2 = (u[:, 0] - ia) ** 2 + (u[:, 1] - ib) ** 2
                w = torch.exp(-d2 / (2 * sigma * sigma)) * (b >= 0)
                idx.append(b.clamp_min(0))
                wts.append(w)
        idx, wts = torch.stack(idx, 1), torch.stack(wts, 1)
        # a cell counted twice by clamping at the grid's edge is fine: weights still sum to 1
        wts = wts / wts.sum(1, keepdim=True).clamp_min(1e-12)
        return idx, wts


def centred_pool(ab: torch.Tensor, stride: int) -> torch.Tensor:
    """Mean of ab over a (stride+1)-wide window centred on pixel stride*i: the target of the
    head's low-resolution sample i (which the encoder's strided convs centre there)."""
    if stride == 1:
        return ab
    h = stride // 2
    return F.avg_pool2d(F.pad(ab, (h, h, h, h), mode="replicate"), stride + 1, stride)


def rebalanced_ce(logits: torch.Tensor, ab: torch.Tensor, tables: PriorTables, rebalance: bool = True) -> torch.Tensor:
    """Cross-entropy of ab-bin logits (N,Q,h,w) against soft-encoded true ab (N,2,h,w),
    each pixel weighted by the rarity of its colour (``rebalance``)."""
    idx, wts = tables.soft_targets(ab)
    logp = torch.log_softmax(logits.float(), dim=1).gather(1, idx)
    ce = -(wts * logp).sum(1, keepdim=True)
    if rebalance:
        ce = ce * tables.pixel_weight(ab)
    return ce.mean()


def rebalanced_l1(pred: torch.Tensor, target: torch.Tensor, tables: PriorTables | None) -> torch.Tensor:
    """L1 on ab with each pixel weighted by its true colour's rarity (plain L1 without tables)."""
    err = (pred.float() - target.float()).abs().mean(1, keepdim=True)
    if tables is not None:
        err = err * tables.pixel_weight(target)
    return err.mean()

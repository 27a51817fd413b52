"""The training photos' colour distribution: ab bins, their prior and the rebalancing weights.

Colour space is quantized on a grid of ``step`` Lab units (10, as Zhang et al. 2016); the bins
are the grid cells the training photos actually use (their gamut, about 250-320 cells). The
prior ``p`` is the smoothed share of pixels per cell; rebalancing weights each pixel by

    w = 1 / ((1 - lam) * p + lam / Q),  scaled so that E_p[w] = 1,

so a rare, saturated colour (orange, red, yellow) counts up to ~1/lam x Q times more than the
common desaturated browns and greys that an unweighted loss regresses to.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from .. import colorspace
from ..engine.io import read_image

log = logging.getLogger(__name__)

#: the grid spans a, b in [-110, 110] Lab units (the network's ab scale)
GRID_LIMIT = 110.0


@dataclass
class ColourPrior:
    step: float
    lam: float
    #: grid cells per axis; cell (i, j) has centre (-110 + i*step, -110 + j*step)
    cells: int
    #: per grid cell (cells*cells, row-major over a then b): bin index or -1 (outside the gamut)
    cell_bin: list
    #: per grid cell: smoothed prior share and rebalancing weight
    prior: list
    weight: list
    photos: int
    #: digest of the photo list it was counted on (see :func:`photos_digest`); "" in files written before it existed
    source: str = ""

    # -- derived ---------------------------------------------------------------------------
    @property
    def bins_lab(self) -> np.ndarray:
        """(Q, 2) bin centres in Lab units, in bin order."""
        idx = np.flatnonzero(np.asarray(self.cell_bin) >= 0)
        i, j = np.divmod(idx, self.cells)
        return np.stack([-GRID_LIMIT + i * self.step, -GRID_LIMIT + j * self.step], 1).astype(np.float32)

    @property
    def bins_net(self) -> list[list[float]]:
        """Bin centres in network scale, as stored in a ``classes`` generator's config."""
        return (self.bins_lab / colorspace.AB_SCALE).round(6).tolist()

    def save(self, path) -> Path:
        path = Path(path)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self)))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path) -> "ColourPrior":
        return cls(**json.loads(Path(path).read_text()))


def grid_cells(step: float) -> int:
    """Grid cells per axis for a ``step`` Lab unit grid over [-GRID_LIMIT, GRID_LIMIT]."""
    return int(round(2 * GRID_LIMIT / step)) + 1


def photos_digest(paths) -> str:
    """A digest of a photo list (order, folder/file names and byte sizes): a run folder's saved prior is reused only
    for the photos it was counted on, so a run that trains on other photos does not inherit a stale prior."""
    h = hashlib.sha256()
    for p in map(Path, paths):
        h.update(f"{p.parent.name}/{p.name}\t{p.stat().st_size}\n".encode())
    return h.hexdigest()[:16]


def _cell_of(ab_lab: np.ndarray, step: float, cells: int) -> np.ndarray:
    idx = np.clip(np.rint((ab_lab + GRID_LIMIT) / step), 0, cells - 1).astype(np.int64)
    return idx[..., 0] * cells + idx[..., 1]


def estimate(paths, step: float = 10.0, lam: float = 0.5, size: int = 64, limit: int = 4000, sigma: float = 5.0, bins=None) -> ColourPrior:
    """Count grid cells over (up to ``limit``, evenly spread) training photos at ``size`` px
    (``bins``: a fixed gamut, see :func:`from_counts`)."""
    paths = list(paths)
    source = photos_digest(paths)
    if limit and len(paths) > limit:
        paths = [paths[i] for i in np.linspace(0, len(paths) - 1, limit).astype(int)]
    cells = grid_cells(step)
    counts = np.zeros(cells * cells, np.float64)
    for p in paths:
        rgb = cv2.resize(read_image(p).rgb, (size, size), interpolation=cv2.INTER_AREA)
        ab = colorspace.rgb_to_lab(rgb)[..., 1:]
        counts += np.bincount(_cell_of(ab, step, cells).ravel(), minlength=cells * cells)
    prior = from_counts(counts, step, lam, sigma, len(paths), bins)
    prior.source = source
    return prior


def gamut_of_bins(bins_net, step: float, cells: int) -> np.ndarray:
    """The grid cells (a boolean mask, cells*cells) whose centres are ``bins_net`` (network scale)."""
    lab = np.asarray(bins_net, np.float64).reshape(-1, 2) * colorspace.AB_SCALE
    idx = (lab + GRID_LIMIT) / step
    if len(lab) == 0 or np.abs(idx - np.rint(idx)).max() > 1e-3 or idx.min() < -1e-3 or idx.max() > cells - 1 + 1e-3:
        raise ValueError(f"its ab bins are not the centres of a {step:g} Lab unit grid")
    i = np.rint(idx).astype(np.int64)
    flat = i[:, 0] * cells + i[:, 1]
    # logit channel k is bin k: a prior numbers its bins in grid order, so the head's bins must be in that order too
    if np.any(np.diff(flat) <= 0):
        raise ValueError("its ab bins are not in grid order (or repeat a grid cell)")
    mask = np.zeros(cells * cells, bool)
    mask[flat] = True
    return mask


def check_bins(bins_net, step: float = 10.0) -> None:
    """Raise ValueError unless ``bins_net`` can be a prior's bins on the ``step`` grid (see :func:`gamut_of_bins`)."""
    gamut_of_bins(bins_net, step, grid_cells(step))


def from_counts(counts: np.ndarray, step: float = 10.0, lam: float = 0.5, sigma: float = 5.0, photos: int = 0, bins=None) -> ColourPrior:
    """Prior, gamut and weights from per-cell pixel counts (cells*cells, row-major).

    The gamut is the cells the photos use, or with ``bins`` (a classes head's bin centres, network
    scale) exactly those cells: a generator that goes on training keeps its head's bins whatever
    the new photos use, and only the prior and weights come from them."""
    cells = int(round(np.sqrt(counts.size)))
    counts = np.asarray(counts, np.float64).reshape(cells, cells)
    if counts.sum() <= 0:
        raise ValueError("no pixels counted: cannot estimate a colour prior")
    share = counts / counts.sum()
    # Gaussian smoothing of the prior (sigma in Lab units), as Zhang et al.
    smooth = cv2.GaussianBlur(share, (0, 0), sigmaX=sigma / step, borderType=cv2.BORDER_CONSTANT)
    smooth = smooth / smooth.sum()
    in_gamut = counts.ravel() > 0 if bins is None else gamut_of_bins(bins, step, cells)
    outside = float(counts.ravel()[~in_gamut].sum() / counts.sum())
    if outside > 0.01:  # such pixels have no bin near them: no cross-entropy target, no gradient
        log.warning("%.1f %% of the photos' pixels lie outside the generator's ab bins and will not be learnt", 100 * outside)
    q = int(in_gamut.sum())
    cell_bin = np.full(cells * cells, -1, np.int64)
    cell_bin[in_gamut] = np.arange(q)
    w = 1.0 / ((1.0 - lam) * smooth.ravel() + lam / q)
    w = w / float((smooth.ravel() * w).sum())
    return ColourPrior(step=float(step), lam=float(lam), cells=cells, cell_bin=cell_bin.tolist(),
                       prior=smooth.ravel().round(9).tolist(), weight=w.round(6).tolist(), photos=int(photos))


def load_or_estimate(run_dir, train_paths, lam: float, bins=None, resuming: bool = False) -> ColourPrior:
    """The run's ``colour_prior.json`` when it was counted on these ``train_paths`` with this lambda
    (and ``bins``), else a new estimate from ``train_paths`` (on ``bins`` when given: the bins of the
    generator the run starts from), saved in its place. The estimate is deterministic: the same photos
    give the same prior again.

    ``resuming``: the run goes on from its ``last.pt``, whose head was trained on the saved prior's bins,
    so a saved prior counted on other photos is an error, not a reason to count again (a file written
    before priors carried their photos' digest is taken as the run's own)."""
    path = Path(run_dir) / "colour_prior.json"
    train_paths = list(train_paths)
    if path.exists():
        digest = photos_digest(train_paths)  # only here: a new estimate computes its own
        prior = ColourPrior.load(path)
        if resuming and prior.source not in ("", digest):
            raise ValueError(f"{path}: counted on other training photos than this run's; a run resumes on the photos it started "
                             "with (train into a new folder to train on others)")
        same_photos = prior.source == digest or (resuming and prior.source == "")
        if same_photos and abs(prior.lam - lam) < 1e-9 and (bins is None or prior.bins_net == [list(b) for b in bins]):
            return prior
        if not same_photos:
            log.info("%s was counted on other training photos: estimating it again", path)
    prior = estimate(train_paths, lam=lam, bins=bins)
    prior.save(path)
    return prior


def bin_log_weights(prior: ColourPrior) -> np.ndarray:
    """log w per ab bin (in bin order)."""
    cell_bin, w = np.asarray(prior.cell_bin), np.asarray(prior.weight)
    out = np.zeros(int((cell_bin >= 0).sum()))
    out[cell_bin[cell_bin >= 0]] = w[cell_bin >= 0]
    return np.log(out)


def correct_head(generator, prior: ColourPrior, beta: float) -> None:
    """Undo a share ``beta`` of rebalancing's tilt in a classes-head generator, in place.

    Rebalanced training makes the head's posterior q(c|x) ~ w(c) p(c|x): vivid, but rare colours
    are over-predicted. Subtracting ``beta * log w`` from the logits (logit adjustment, Menon et
    al. 2021) moves the decoding towards the plain posterior (beta = 1). It is a change of the
    last conv's bias, so the exported graphs carry it at no cost.
    """
    import torch

    if generator.config.head != "classes":
        raise ValueError("prior correction applies to classes-head generators only")
    log_w = bin_log_weights(prior)
    if len(log_w) != len(generator.config.ab_bins) or prior.bins_net != [list(b) for b in generator.config.ab_bins]:
        raise ValueError("the colour prior's bins are not the generator's")
    with torch.no_grad():
        generator.head.bias -= beta * torch.as_tensor(log_w, dtype=generator.head.bias.dtype)

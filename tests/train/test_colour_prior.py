import json

import numpy as np
import pytest

from paracolor.train import colour_prior

torch = pytest.importorskip("torch")

from paracolor.train.losses import PriorTables, centred_pool, rebalanced_ce, rebalanced_l1  # noqa: E402


def _prior(lam=0.5):
    """A prior where grey dominates, one saturated cell is rare and one cell is never seen."""
    cells = 23
    counts = np.zeros(cells * cells)
    grey = 11 * cells + 11  # (a, b) = (0, 0)
    orange = 15 * cells + 17  # (a, b) = (40, 60)
    counts[grey] = 1000
    counts[grey + 1] = 300
    counts[orange] = 5
    return colour_prior.from_counts(counts, lam=lam), grey, orange


def test_rarer_colour_gets_larger_weight_and_expectation_is_one():
    prior, grey, orange = _prior()
    w, p = np.asarray(prior.weight), np.asarray(prior.prior)
    assert w[orange] > w[grey + 1] > w[grey]
    assert (p * w).sum() == pytest.approx(1.0, abs=1e-4)
    # lambda = 1 is no rebalancing at all: every weight is 1
    flat, *_ = _prior(lam=1.0)
    assert np.allclose(flat.weight, 1.0, atol=1e-5)


def test_bins_are_the_cells_seen_and_roundtrip(tmp_path):
    prior, grey, orange = _prior()
    assert len(prior.bins_net) == 3
    lab = prior.bins_lab
    assert [0.0, 0.0] in lab.tolist() and [40.0, 60.0] in lab.tolist()
    back = colour_prior.ColourPrior.load(prior.save(tmp_path / "p.json"))
    assert back == prior


def test_fixed_bins_keep_the_gamut_and_take_the_weights_from_the_counts():
    prior, grey, orange = _prior()
    # other photos: no orange at all, but a blue never seen before
    cells = prior.cells
    counts = np.zeros(cells * cells)
    counts[grey] = 500
    counts[grey + 1] = 500
    counts[5 * cells + 3] = 50
    fixed = colour_prior.from_counts(counts, bins=prior.bins_net)
    assert fixed.bins_net == prior.bins_net and fixed.cell_bin == prior.cell_bin
    # its weights follow the new counts: grey + 1 is now as common as grey
    assert fixed.weight[grey + 1] == pytest.approx(fixed.weight[grey], rel=1e-3)
    assert prior.weight[grey + 1] > prior.weight[grey] * 1.5
    with pytest.raises(ValueError, match="grid"):
        colour_prior.from_counts(counts, bins=[[0.01, 0.0]])
    # logit channel k is bin k: bins out of grid order would scramble the targets
    with pytest.raises(ValueError, match="grid order"):
        colour_prior.from_counts(counts, bins=prior.bins_net[::-1])


def test_a_saved_prior_on_other_bins_is_estimated_again(tmp_path, photo_dir):
    photos = sorted(photo_dir.glob("*.jpg"))
    first = colour_prior.load_or_estimate(tmp_path, photos, 0.5)
    bins = first.bins_net[:-1]
    again = colour_prior.load_or_estimate(tmp_path, photos, 0.5, bins)
    assert again.bins_net == bins
    assert colour_prior.ColourPrior.load(tmp_path / "colour_prior.json") == again


def test_estimate_from_photos(photo_dir):
    prior = colour_prior.estimate(sorted(photo_dir.glob("*.jpg")), limit=4)
    assert prior.photos == 4 and len(prior.bins_net) >= 2
    assert min(prior.weight) > 0


def test_soft_targets_sum_to_one_and_peak_at_the_true_bin():
    prior, grey, orange = _prior()
    t = PriorTables(prior)
    ab = torch.tensor([40.0, 60.0]).view(1, 2, 1, 1) / 110.0  # exactly the orange cell
    idx, wts = t.soft_targets(ab)
    assert wts.sum(1).item() == pytest.approx(1.0)
    orange_bin = prior.cell_bin[orange]
    assert idx[0, wts[0, :, 0, 0].argmax(), 0, 0].item() == orange_bin
    assert t.pixel_weight(ab).item() == pytest.approx(prior.weight[orange], rel=1e-5)


def test_rebalanced_losses_weight_rare_colours_up():
    prior, *_ = _prior()
    t = PriorTables(prior)
    q = len(prior.bins_net)
    logits = torch.zeros(1, q, 1, 1)  # uniform prediction: the same CE for any target
    grey = torch.zeros(1, 2, 1, 1)
    orange = torch.tensor([40.0, 60.0]).view(1, 2, 1, 1) / 110.0
    assert rebalanced_ce(logits, orange, t) > rebalanced_ce(logits, grey, t)
    assert rebalanced_ce(logits, orange, t, rebalance=False) == pytest.approx(rebalanced_ce(logits, grey, t, rebalance=False).item())
    pred = torch.full((1, 2, 1, 1), 0.1)
    assert rebalanced_l1(pred + orange, orange, t) > rebalanced_l1(pred + grey, grey, t)


def test_centred_pool_targets_the_sample_position():
    # a horizontal ramp: the stride-4 target at i is the value at pixel 4i (not the block mean)
    x = torch.arange(16.0).view(1, 1, 1, 16).expand(1, 2, 16, 16)
    out = centred_pool(x, 4)
    assert out.shape == (1, 2, 4, 4)
    assert out[0, 0, 0, 1:].tolist() == [4.0, 8.0, 12.0]


def test_prior_correction_moves_the_decoding_towards_common_colours():
    from paracolor.models.config import GeneratorConfig
    from paracolor.models.generator import ResUNet

    prior, grey, orange = _prior()
    gen = ResUNet(GeneratorConfig(encoder_width=0.25, decoder_channels=(16, 16, 8, 8, 8), head="classes", head_stride=4,
                                  upsample="aligned", ab_bins=prior.bins_net)).eval()
    L = torch.rand(1, 1, 64, 64) * 2 - 1
    orange_bin = prior.cell_bin[orange]
    with torch.no_grad():
        p0 = torch.softmax(gen.logits(L), 1)[:, orange_bin].mean().item()
        colour_prior.correct_head(gen, prior, 1.0)
        p1 = torch.softmax(gen.logits(L), 1)[:, orange_bin].mean().item()
    assert p1 < p0  # the rare colour's share falls once the rebalancing tilt is undone
    wrong = colour_prior.from_counts(np.ones(23 * 23))
    with pytest.raises(ValueError, match="bins"):
        colour_prior.correct_head(gen, wrong, 0.5)


def test_a_saved_prior_is_reused_only_for_the_photos_it_was_counted_on(tmp_path, photo_dir, monkeypatch):
    photos = sorted(photo_dir.glob("*.jpg"))
    first = colour_prior.load_or_estimate(tmp_path, photos, 0.5)
    assert first.source == colour_prior.photos_digest(photos)
    counted = []
    real = colour_prior.estimate
    monkeypatch.setattr(colour_prior, "estimate", lambda paths, **kw: counted.append(len(list(paths))) or real(paths, **kw))
    # the same photos: the saved prior, not a new count
    assert colour_prior.load_or_estimate(tmp_path, photos, 0.5) == first and counted == []
    # other photos (here a subset): counted again and saved with their digest
    again = colour_prior.load_or_estimate(tmp_path, photos[:2], 0.5)
    assert counted == [2] and again.source == colour_prior.photos_digest(photos[:2]) != first.source
    assert colour_prior.ColourPrior.load(tmp_path / "colour_prior.json") == again


def test_a_prior_saved_before_digests_is_counted_again_unless_its_run_resumes(tmp_path, photo_dir):
    photos = sorted(photo_dir.glob("*.jpg"))
    first = colour_prior.load_or_estimate(tmp_path, photos, 0.5)
    old = json.loads((tmp_path / "colour_prior.json").read_text())
    del old["source"]
    (tmp_path / "colour_prior.json").write_text(json.dumps(old))
    assert colour_prior.ColourPrior.load(tmp_path / "colour_prior.json").source == ""
    # a resumed run keeps its file as it is (its head was trained on those bins)
    assert colour_prior.load_or_estimate(tmp_path, photos, 0.5, resuming=True).source == ""
    # a new run counts again: the same photos give the same prior, now with its digest
    again = colour_prior.load_or_estimate(tmp_path, photos, 0.5)
    assert again == first and again.source == colour_prior.photos_digest(photos)


def test_a_resumed_run_on_other_photos_is_refused(tmp_path, photo_dir):
    photos = sorted(photo_dir.glob("*.jpg"))
    colour_prior.load_or_estimate(tmp_path, photos, 0.5)
    saved = (tmp_path / "colour_prior.json").read_text()
    with pytest.raises(ValueError, match="colour_prior.json: counted on other training photos"):
        colour_prior.load_or_estimate(tmp_path, photos[:2], 0.5, resuming=True)
    assert (tmp_path / "colour_prior.json").read_text() == saved


def test_the_digest_follows_names_sizes_and_order(tmp_path, photo_dir):
    photos = sorted(photo_dir.glob("*.jpg"))[:2]
    d = colour_prior.photos_digest(photos)
    assert d == colour_prior.photos_digest(list(photos)) != colour_prior.photos_digest(photos[::-1])
    copy = tmp_path / photos[0].parent.name
    copy.mkdir()
    (copy / photos[0].name).write_bytes(photos[0].read_bytes() + b"\0")
    assert colour_prior.photos_digest([copy / photos[0].name, photos[1]]) != d
    # the same files elsewhere (a moved data folder): the same digest
    moved = tmp_path / "moved" / photos[0].parent.name
    moved.mkdir(parents=True)
    for p in photos:
        (moved / p.name).write_bytes(p.read_bytes())
    assert colour_prior.photos_digest([moved / p.name for p in photos]) == d

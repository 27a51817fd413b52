"""One optimisation step of each stage on tiny models (32x32), checkpoints and resume."""

import json

import pytest

torch = pytest.importorskip("torch")

from paracolor.models.checkpoint import load_model  # noqa: E402
from paracolor.train.config import TrainConfig  # noqa: E402
from paracolor.train.stages import STAGE_CLASSES, train  # noqa: E402

TINY = dict(size=32, batch_size=4, workers=0, progress=False, encoder_width=0.25, decoder_channels=(16, 16, 8, 8, 8), disc_channels=8, pretrained=None, val_limit=4)


def _cfg(stage, photo_dir, out, **kw):
    return TrainConfig(stage=stage, train_dirs=[str(photo_dir)], val_dirs=[str(photo_dir)], out_dir=str(out), **{**TINY, **kw})


def _check_reload(run_dir, stage_obj):
    ref = stage_obj.export_module().eval()
    back = load_model(run_dir / "last.safetensors")
    if hasattr(ref, "head"):
        x = torch.rand(2, 1, 32, 32) * 2 - 1
    else:
        x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(ref(x), back(x))


@pytest.mark.parametrize("stage,role", [("pretrain", "fg"), ("pretrain", "bg"), ("gan", "fg"), ("gan", "bg"), ("fusion", "fg")])
def test_one_step_per_stage(stage, role, photo_dir, tmp_path):
    cfg = _cfg(stage, photo_dir, tmp_path / "run", role=role, epochs=1, max_steps=1)
    obj = STAGE_CLASSES[stage](cfg)
    summary = obj.run()
    assert obj.step == 1
    for name in ("last.pt", "last.safetensors", "log.jsonl", "config.json"):
        assert (tmp_path / "run" / name).is_file()
    for key in ("psnr", "ssim", "colourfulness", "colourfulness_gap"):
        assert key in summary and summary[key] == summary[key]  # present and not NaN
    _check_reload(tmp_path / "run", obj)
    if stage == "gan":
        assert summary["grey_psnr"] > 0
        assert cfg.edge_weight == (1.0 if role == "fg" else 0.0)
        assert cfg.lr == 2e-4 and cfg.betas == (0.5, 0.999)
    if stage == "pretrain":
        assert cfg.lr == 1e-4 and cfg.betas == (0.9, 0.999)
    if role == "fg" and stage != "fusion":
        assert "8" in obj.G.attention  # the foreground generator has attention


def test_resume_continues_from_stored_step(photo_dir, tmp_path):
    out = tmp_path / "run"
    train(_cfg("pretrain", photo_dir, out, role="bg", epochs=1, max_steps=2))
    first = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert first[-1]["step"] == 2 and first[-1]["epoch"] == 1
    # a second call with more epochs resumes at step 2, epoch 1
    stage = STAGE_CLASSES["pretrain"](_cfg("pretrain", photo_dir, out, role="bg", epochs=2, max_steps=3))
    stage.maybe_resume()
    assert stage.step == 2 and stage.epoch == 1
    stage.run()
    assert stage.step == 3 and stage.epoch == 2
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [2, 3]


def test_resume_with_other_shapes_names_the_state_and_the_cause(photo_dir, tmp_path):
    out = tmp_path / "run"
    train(_cfg("pretrain", photo_dir, out, role="bg", epochs=1, max_steps=1))
    stage = STAGE_CLASSES["pretrain"](_cfg("pretrain", photo_dir, out, role="bg", epochs=2, max_steps=2, decoder_channels=(16, 16, 8, 8, 4)))
    with pytest.raises(ValueError, match=r"last\.pt: cannot resume: the G network does not match the saved state"):
        stage.maybe_resume()


def test_a_classes_run_resumes_only_on_its_own_photos_and_bins(photo_dir, tmp_path):
    from tests.conftest import write_photo

    out = tmp_path / "run"
    train(_cfg("pretrain", photo_dir, out, role="fg", epochs=1, max_steps=1, **CLASSES))
    # other photos: refused before anything in the run folder changes
    other = tmp_path / "other"
    for i in range(3):
        write_photo(other / f"o{i}.jpg", seed=100 + i)
    saved = (out / "colour_prior.json").read_text()
    with pytest.raises(ValueError, match="counted on other training photos"):
        STAGE_CLASSES["pretrain"](_cfg("pretrain", other, out, role="fg", epochs=2, max_steps=2, **CLASSES))
    assert (out / "colour_prior.json").read_text() == saved
    # the same count of bins on other cells (a prior edited, or counted on a changed photo sample) loads without a
    # shape error; the head's saved bin centres tell
    prior = json.loads(saved)
    cell_bin = prior["cell_bin"]
    last_in = max(i for i, b in enumerate(cell_bin) if b >= 0)
    free = next(i for i in range(last_in + 1, len(cell_bin)) if cell_bin[i] < 0)
    cell_bin[free], cell_bin[last_in] = cell_bin[last_in], -1
    (out / "colour_prior.json").write_text(json.dumps(prior))
    stage = STAGE_CLASSES["pretrain"](_cfg("pretrain", photo_dir, out, role="fg", epochs=2, max_steps=2, **CLASSES))
    with pytest.raises(ValueError, match="cannot resume.*its ab bins differ"):
        stage.maybe_resume()


def test_runs_are_repeatable(photo_dir, tmp_path):
    outs = []
    for i in range(2):
        train(_cfg("pretrain", photo_dir, tmp_path / f"r{i}", role="bg", epochs=1, max_steps=2))
        outs.append(load_model(tmp_path / f"r{i}" / "last.safetensors").state_dict())
    assert all(torch.equal(outs[0][k], outs[1][k]) for k in outs[0])


def test_gan_stage_starts_from_pretrained(photo_dir, tmp_path):
    train(_cfg("pretrain", photo_dir, tmp_path / "pre", role="fg", epochs=1, max_steps=1))
    cfg = _cfg("gan", photo_dir, tmp_path / "gan", role="fg", epochs=1, max_steps=1, init=str(tmp_path / "pre" / "last.safetensors"))
    obj = STAGE_CLASSES["gan"](cfg)
    pre = load_model(tmp_path / "pre" / "last.safetensors").state_dict()
    assert all(torch.equal(pre[k], v) for k, v in obj.G.state_dict().items())


def test_object_crops_from_coco_boxes(photo_dir, tmp_path):
    from paracolor.train.data import ObjectCropDataset

    boxes = {"images": [{"id": 1, "file_name": "p0.jpg"}], "annotations": [{"image_id": 1, "bbox": [10, 10, 40, 40]}, {"image_id": 1, "bbox": [0, 0, 5, 5]}]}
    j = tmp_path / "boxes.json"
    j.write_text(json.dumps(boxes))
    ds = ObjectCropDataset([], 32, boxes_json=str(j), image_root=str(photo_dir))
    assert len(ds) == 1  # the 5x5 box is below min_box
    L, ab = ds[0]
    assert L.shape == (1, 32, 32) and ab.shape == (2, 32, 32)


CLASSES = dict(head="classes", head_stride=4, upsample="aligned", rebalance=0.5)


@pytest.mark.parametrize("stage", ["pretrain", "gan"])
def test_classes_head_one_step(stage, photo_dir, tmp_path):
    init = None
    if stage == "gan":
        train(_cfg("pretrain", photo_dir, tmp_path / "pre", role="bg", epochs=1, max_steps=1, **CLASSES))
        init = str(tmp_path / "pre" / "last.safetensors")
    cfg = _cfg(stage, photo_dir, tmp_path / "run", role="fg", epochs=1, max_steps=1, init=init, **CLASSES)
    obj = STAGE_CLASSES[stage](cfg)
    summary = obj.run()
    assert obj.G.config.head == "classes" and len(obj.G.config.ab_bins) == obj.tables.q
    assert (tmp_path / "run" / "colour_prior.json").is_file()
    assert summary["psnr"] == summary["psnr"] and obj.best_key == "colourfulness_gap"
    # every run leaves a best checkpoint, even when no epoch is within 1 dB of grey
    assert (tmp_path / "run" / "best.safetensors").is_file()
    _check_reload(tmp_path / "run", obj)


def test_a_classes_generator_goes_on_training_on_other_photos(photo_dir, tmp_path):
    """A run from a classes-head generator keeps its head's bins even where its photos use other
    colours (the photos' own gamut would differ); rebalancing weights come from the new photos."""
    from paracolor.train import colour_prior
    from tests.conftest import write_photo

    train(_cfg("pretrain", photo_dir, tmp_path / "pre", role="fg", epochs=1, max_steps=1, **CLASSES))
    init = tmp_path / "pre" / "last.safetensors"
    other = tmp_path / "other"
    for i in range(3):
        write_photo(other / f"o{i}.jpg", seed=100 + i)
    bins = [list(b) for b in load_model(init).config.ab_bins]
    assert colour_prior.estimate(sorted(other.glob("*.jpg"))).bins_net != bins  # the case this test is about
    for rebalance in (0.5, None):
        out = tmp_path / f"run{rebalance}"
        cfg = TrainConfig(stage="gan", train_dirs=[str(other)], val_dirs=[str(other)], out_dir=str(out), role="fg", epochs=1, max_steps=1,
                          init=str(init), **{**TINY, **CLASSES, "rebalance": rebalance})
        obj = STAGE_CLASSES["gan"](cfg)
        summary = obj.run()
        assert summary["psnr"] == summary["psnr"]
        prior = json.loads((out / "colour_prior.json").read_text())
        assert obj.prior.bins_net == bins and prior["photos"] == 3
        assert [list(b) for b in load_model(out / "last.safetensors").config.ab_bins] == bins


@pytest.mark.parametrize(("strategy", "output"), [("l1norm", "image"), ("gate", "image"), ("l1norm", "residual")])
def test_supervised_fusion_learns_from_the_generators_outputs(photo_dir, tmp_path, strategy, output):
    for role in ("fg", "bg"):
        train(_cfg("pretrain", photo_dir, tmp_path / role, role=role, epochs=1, max_steps=1))
    cfg = _cfg("fusion", photo_dir, tmp_path / "fusion", epochs=1, max_steps=2, fusion_mode="supervised", rebalance=0.5, fusion_strategy=strategy,
               fusion_output=output, fusion_fg=str(tmp_path / "fg" / "last.safetensors"), fusion_bg=str(tmp_path / "bg" / "last.safetensors"))
    obj = STAGE_CLASSES["fusion"](cfg)
    frozen = [p.clone() for p in obj.generators[0].parameters()]
    before = [p.clone() for p in obj.F.parameters()]
    summary = obj.run()
    assert summary["psnr"] == summary["psnr"]
    assert all(torch.equal(a, b) for a, b in zip(frozen, obj.generators[0].parameters()))  # generators frozen
    assert any(not torch.equal(a, b) for a, b in zip(before, obj.F.parameters()))  # fusion trained
    assert all(torch.isfinite(p).all() for p in obj.F.parameters())
    if strategy == "gate":  # the gate's last layer starts at zero; one step moves it off the mean
        assert obj.F.gate_out.weight.abs().sum() > 0
        back = load_model(tmp_path / "fusion" / "last.safetensors", expect_kind="fusion")
        x1, x2 = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
        with torch.no_grad():
            assert back.config.strategy == "gate" and torch.equal(back.eval().fuse(x1, x2), obj.F.eval().fuse(x1, x2))
    if output == "residual":  # the correction starts at zero; training moves it, and a reload keeps the output mode
        assert obj.F.conv_out.weight.abs().sum() > 0
        assert load_model(tmp_path / "fusion" / "last.safetensors", expect_kind="fusion").config.output == "residual"
        image = _cfg("fusion", photo_dir, tmp_path / "again", fusion_mode="supervised", init=str(tmp_path / "fusion" / "last.safetensors"),
                     fusion_fg=cfg.fusion_fg, fusion_bg=cfg.fusion_bg)  # --init of a residual fusion without --decoder-output residual
        with pytest.raises(ValueError, match="pass --decoder-output residual"):
            STAGE_CLASSES["fusion"](image)
    with pytest.raises(ValueError, match="supervised fusion needs"):
        _cfg("fusion", photo_dir, tmp_path / "x", fusion_mode="supervised")
    with pytest.raises(ValueError, match="residual fusion output needs supervised"):
        _cfg("fusion", photo_dir, tmp_path / "x", fusion_output="residual")


def test_cosine_schedule_decays_to_zero(photo_dir, tmp_path):
    obj = STAGE_CLASSES["pretrain"](_cfg("pretrain", photo_dir, tmp_path / "run", role="bg", lr_schedule="cosine", lr=1e-3))
    lrs = []
    for step in (0, 5, 10):
        obj.step = step
        obj.set_lr(10)
        lrs.append(obj.opt.param_groups[0]["lr"])
    assert lrs[0] == pytest.approx(1e-3) and lrs[1] == pytest.approx(5e-4) and lrs[2] == pytest.approx(0.0)


def test_select_last_keeps_the_last_epoch(photo_dir, tmp_path):
    out = tmp_path / "run"
    train(_cfg("pretrain", photo_dir, out, role="bg", epochs=2, max_steps=4, select="last"))
    from safetensors import safe_open

    with safe_open(str(out / "best.safetensors"), "pt") as f:
        assert f.metadata()["epoch"] == "2"

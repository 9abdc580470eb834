import pytest
import torch

from hcmgan_lite.models import Critic, Generator, count_parameters


def _expected_generator_params(k, c, size, width, latent, layout="wide"):
    s = size // 4
    c1, c2 = (2 * width, width) if layout == "wide" else (width, width // 2)   # authors' code / Table 2's text
    fc = latent * c1 * s * s + c1 * s * s
    up1 = c1 * c2 * 16 + c2
    up2 = c2 * c * 16 + c
    return k * (fc + up1 + up2)


def _expected_critic_params(k, c, size, widths):
    total, cin, s = 0, c, size
    for w in widths:
        s = (s - 1) // 2 + 1
        total += cin * w * 25 + w          # 5x5 conv
        total += 2 * w * s * s             # LayerNorm affine over (C, H, W)
        cin = w
    feat = cin * s * s
    return k * (total + feat + 1 + feat * 2 + 2)


@pytest.mark.parametrize("layout", ["wide", "narrow"])
@pytest.mark.parametrize("size,channels", [(28, 1), (32, 1), (32, 3)])
@pytest.mark.parametrize("k", [1, 2])
def test_generator_shapes_and_parameter_count(size, channels, k, layout):
    g = Generator(k, channels, size, width=128, latent_dim=100, layout=layout)
    x = g(g.sample_latent(5))
    assert x.shape == (k, 5, channels, size, size)
    assert x.abs().max() <= 1
    assert count_parameters(g) == _expected_generator_params(k, channels, size, 128, 100, layout)


def test_wide_layout_is_the_authors_code():
    """FC to 2*nf maps at 7x7, then nf, then the image (nf = 128: 256 -> 128 -> 1)."""
    g = Generator(1, 1, 28, width=128)
    assert g.up1.in_channels == 256 and g.up1.out_channels == 128 and g.up2.out_channels == 1
    t = Generator(1, 1, 28, width=128, layout="narrow")
    assert t.up1.in_channels == 128 and t.up1.out_channels == 64


def test_latent_priors():
    """symmetric: U(-1, 1) as in the authors' code (the default); positive: U[0, 1] as Table 2 writes."""
    torch.manual_seed(0)
    z = Generator(2, latent_dim=50).sample_latent(4000)
    assert z.min() >= -1 and z.max() <= 1 and z.min() < -0.99 and z.max() > 0.99
    assert abs(float(z.mean())) < 0.01 and abs(float(z.var()) - 1 / 3) < 0.01
    p = Generator(2, latent_dim=50, latent="positive").sample_latent(4000)
    assert p.min() >= 0 and p.max() <= 1 and abs(float(p.mean()) - 0.5) < 0.01
    with pytest.raises(ValueError, match="latent must be one of"):
        Generator(2, latent="normal")
    with pytest.raises(ValueError, match="layout must be one of"):
        Generator(2, layout="deep")


@pytest.mark.parametrize("size,channels", [(28, 1), (32, 1), (32, 3)])
@pytest.mark.parametrize("k", [1, 2])
def test_critic_shapes_and_parameter_count(size, channels, k):
    c = Critic(k, channels, size, (128, 256, 512))
    x = torch.randn(k, 6, channels, size, size)
    f = c.features(x)
    assert f.shape == (k, 6, 512 * 4 * 4)
    assert c.discriminate(f).shape == (k, 6)
    assert c.classify(f).shape == (k, 6, 2)
    assert count_parameters(c) == _expected_critic_params(k, channels, size, (128, 256, 512))


def test_groups_are_independent():
    """Copy j's output depends on slice j of the input only, and its gradient reaches copy j only."""
    torch.manual_seed(0)
    c = Critic(2, 1, 28, (8, 16, 32))
    x = torch.randn(2, 4, 1, 28, 28)
    out = c.discriminate(c.features(x))
    x2 = x.clone()
    x2[1] += 1.0
    out2 = c.discriminate(c.features(x2))
    assert torch.allclose(out[0], out2[0]) and not torch.allclose(out[1], out2[1])
    out[0].sum().backward()
    conv = c.trunk[0]
    per_group = conv.weight.grad.reshape(2, -1)
    assert per_group[0].abs().sum() > 0 and per_group[1].abs().sum() == 0


def test_grouped_copy_equals_single_network():
    """A group of two computes what two separately built single networks compute."""
    torch.manual_seed(0)
    g2 = Generator(4, 1, 28, width=16)
    g1 = Generator(1, 1, 28, width=16)
    # load copy 1 of the group into the single generator
    sd = {}
    for name, p in g2.state_dict().items():
        sd[name] = p[1:2] if name.startswith("fc") else p.reshape(4, -1, *p.shape[1:])[1]
    g1.load_state_dict(sd)
    z = torch.rand(4, 3, 100)
    assert torch.allclose(g2(z)[1], g1(z[1:2])[0], atol=1e-5)


def test_classifier_does_not_update_trunk():
    c = Critic(1, 1, 28, (8, 16, 32))
    f = c.features(torch.randn(1, 4, 1, 28, 28))
    c.classify(f).sum().backward()
    assert all(p.grad is None for p in c.trunk.parameters())
    assert c.c_head.weight.grad is not None

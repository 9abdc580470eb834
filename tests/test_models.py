import pytest
import torch

from hcmgan_lite.models import Critic, Generator, count_parameters


def _expected_generator_params(k, c, size, width, latent):
    s = size // 4
    fc = latent * width * s * s + width * s * s
    up1 = width * (width // 2) * 16 + width // 2
    up2 = (width // 2) * c * 16 + c
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


@pytest.mark.parametrize("size,channels", [(28, 1), (32, 1), (32, 3)])
@pytest.mark.parametrize("k", [1, 2])
def test_generator_shapes_and_parameter_count(size, channels, k):
    g = Generator(k, channels, size, width=128, latent_dim=100)
    z = g.sample_latent(5)
    assert z.shape == (k, 5, 100) and z.min() >= 0 and z.max() <= 1  # Uniform[0, 1]
    x = g(z)
    assert x.shape == (k, 5, channels, size, size)
    assert x.abs().max() <= 1
    assert count_parameters(g) == _expected_generator_params(k, channels, size, 128, 100)


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
    g2 = Generator(2, 1, 28, width=16)
    g1 = Generator(1, 1, 28, width=16)
    # load copy 1 of the group into the single generator
    sd = {}
    for name, p in g2.state_dict().items():
        sd[name] = p[1:2] if name.startswith("fc") else p.reshape(2, -1, *p.shape[1:])[1]
    g1.load_state_dict(sd)
    z = torch.rand(2, 3, 100)
    assert torch.allclose(g2(z)[1], g1(z[1:2])[0], atol=1e-5)


def test_classifier_does_not_update_trunk():
    c = Critic(1, 1, 28, (8, 16, 32))
    f = c.features(torch.randn(1, 4, 1, 28, 28))
    c.classify(f).sum().backward()
    assert all(p.grad is None for p in c.trunk.parameters())
    assert c.c_head.weight.grad is not None

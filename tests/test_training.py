import time

import pytest
import torch

from hcmgan_lite import cluster_acc, get_settings, load_fashion_mnist, raw_split, refine
from hcmgan_lite.training import SplitGAN, steps_for

CPU = torch.device("cpu")
TINY = dict(g_width=8, d_widths=(8, 16, 32), batch_size=32, gen_batch_size=32, max_steps=20, min_steps=20,
            log_every=10)


def test_steps_follow_mass():
    s = get_settings("paper", "fashion-mnist")
    assert steps_for(70000, s) == 120 * 700          # epochs x sum(s_k) / batch size
    assert steps_for(35000, s) == 120 * 350
    q = get_settings("quick", min_steps=10, max_steps=50, epochs=1, batch_size=100)
    assert steps_for(3000, q) == 30 and steps_for(100, q) == 10 and steps_for(1e6, q) == 50


def test_weighted_sampler_draws_in_proportion_to_membership():
    """The critic's real batches follow P_{s_k}: chi-square test on the drawn indices."""
    from scipy.stats import chisquare
    torch.manual_seed(0)
    n = 10
    X = torch.arange(n, dtype=torch.float32).reshape(n, 1, 1, 1).expand(n, 1, 28, 28).contiguous()
    w = torch.tensor([0., 1, 2, 3, 4, 0, 0.5, 5, 0, 4.5])
    s = get_settings("quick", **{**TINY, "batch_size": 500})
    gan = SplitGAN("mgan", (1, 28, 28), s, CPU)
    seen = []
    orig = gan._features

    def spy(x):
        seen.append(x[:, : s.batch_size, 0, 0, 0].round().long().flatten())  # real part (noise-free: sigma=0)
        return orig(x)
    gan._features = spy
    acc = torch.zeros(6)
    for _ in range(40):
        gan.step(X, w[None], 0.0, acc)
    real = torch.cat(seen[0::2])                       # first features() call of each step = D/C update
    counts = torch.bincount(real, minlength=n).double()
    assert counts[w == 0].sum() == 0
    nz = w > 0
    expected = w[nz].double() / w.sum() * counts.sum()
    assert chisquare(counts[nz].numpy(), expected.numpy()).pvalue > 1e-3
    # and a biased sampler would fail: uniform over the non-zero entries
    uniform = torch.full_like(expected, counts.sum().item() / nz.sum().item())
    assert chisquare(counts[nz].numpy(), uniform.numpy()).pvalue < 1e-6


@pytest.fixture(scope="module")
def tiny_data():
    torch.manual_seed(0)
    return torch.rand(300, 1, 28, 28) * 2 - 1


def test_raw_split_and_refinement_conserve_mass(tiny_data):
    s = get_settings("quick", **TINY)
    s_k = torch.rand(len(tiny_data))
    r = raw_split(tiny_data, s_k, s, CPU, progress=False)
    assert torch.allclose(r.s_l + r.s_m, s_k, atol=1e-5)
    assert (r.s_l >= 0).all() and (r.s_m >= 0).all() and (r.s_l <= s_k).all() and (r.s_m <= s_k).all()
    s_l, s_m = r.s_l, r.s_m
    for _ in range(2):
        r2 = refine(tiny_data, s_l, s_m, s, CPU, progress=False)
        assert torch.allclose(r2.s_l + r2.s_m, s_k, atol=1e-5)
        assert (r2.s_l >= 0).all() and (r2.s_m >= 0).all() and (r2.s_l <= s_k + 1e-6).all()
        s_l, s_m = r2.s_l, r2.s_m
    assert r2.fake.shape == (2, s.n_samples, 1, 28, 28) and r2.fake.dtype == torch.uint8


def test_training_logs_on_device_accumulators(tiny_data):
    s = get_settings("quick", **TINY)
    gan = SplitGAN("pair", (1, 28, 28), s, CPU)
    tlog = gan.train(tiny_data, torch.ones(2, len(tiny_data)), 20, progress=False, snapshot_every=10)
    assert tlog.history["step"] == [10, 20]
    assert all(0 <= a <= 1 for a in tlog.history["c_acc"])
    assert [t for t, _ in tlog.snapshots] == [1, 11, 20]


def test_quick_raw_split_learns_trouser_vs_bag():
    """A real learning test: two classes that look alike to nobody, 1,000 each, on the CPU.

    The paper's learning rates, gamma and Fashion-MNIST noise (Table 3) and batch
    size, with narrow networks (width 16) and 600 steps.  One thread, so that the
    result does not depend on the machine's core count.
    """
    data = load_fashion_mnist().subset(classes=["Trouser", "Bag"], per_class=1000)
    s = get_settings("quick", "fashion-mnist", batch_size=100, gen_batch_size=100, max_steps=600, min_steps=600)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        t0 = time.perf_counter()
        r = raw_split(data.images, torch.ones(len(data)), s, CPU, progress=False)
        seconds = time.perf_counter() - t0
    finally:
        torch.set_num_threads(threads)
    acc = cluster_acc(data.labels, (r.s_m > r.s_l).long())
    print(f"trouser vs bag: ACC {acc:.3f} in {seconds:.1f} s")
    assert acc >= 0.9
    assert seconds < 90

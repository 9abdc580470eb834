"""The paper profile is the authors' code wherever it changes a result (and the text stays reachable).

Each value below was read from the authors' public code (github dmdmello/HC-MGAN: fmnist.py, mnist.py,
sop.py, models/gan.py, tree/*.py); the text's reading is pinned beside it.
"""
import os
from pathlib import Path

import pytest

from hcmgan_lite.data import find_data_root
import torch

import hcmgan_lite.split as split_mod
from hcmgan_lite import Settings, get_settings, grow_tree, load_fashion_mnist, paper_text
from hcmgan_lite.models import Critic, Generator, count_parameters
from hcmgan_lite.training import SplitGAN, refine_mass, steps_for, watch_start

REPO = Path(__file__).resolve().parents[1]
DATA_ROOT = find_data_root()   # $HCMGAN_DATA, else the checkout's data/

CPU = torch.device("cpu")
TINY = dict(collapse_spread=0, g_width=8, d_widths=(8, 16, 32), batch_size=16, gen_batch_size=16, max_steps=8,
            min_steps=8, log_every=4, n_samples=4)


@pytest.mark.parametrize("dataset,epochs,refinements,gamma,shared_trunk", [
    ("fashion-mnist", 150, 8, 1.0, False),   # fmnist.py: 150 epochs ("default correction"); Table 3: 120
    ("mnist", 100, 6, 1.0, False),           # mnist.py: 100; Table 3: 120
    ("sop", 100, 4, 0.1, True),              # sop.py: diversity 0.1, shared_features_across_ref=True
])
def test_paper_profile_values_are_the_codes(dataset, epochs, refinements, gamma, shared_trunk):
    s = get_settings("paper", dataset)
    assert (s.epochs, s.refinements, s.gamma, s.shared_trunk) == (epochs, refinements, gamma, shared_trunk)
    assert s.refine_tol == 150 and s.collapse_epoch == 40 and s.max_retries == 3   # tree.py, *.py: 4 attempts
    assert s.shared_z and s.refine_steps == "mean" and s.gamma_raw == "squared"
    text = get_settings("paper", dataset, **paper_text(dataset))
    assert text.epochs == (100 if dataset == "sop" else 120) and text.gamma == 1.0 and not text.shared_trunk
    assert (text.gamma_raw, text.latent, text.g_layout, text.refine_gens, text.noise) == (
        "once", "positive", "narrow", 1, "additive")


def test_quick_and_demo_keep_what_their_committed_results_were_grown_with():
    for profile in ("quick", "demo"):
        for dataset in ("fashion-mnist", "sop"):
            s = get_settings(profile, dataset)
            assert (s.shared_z, s.refine_steps, s.gamma, s.shared_trunk, s.refine_tol, s.collapse_epoch,
                    s.max_retries) == (False, "max", 1.0, False, None, None, 2)
    old = get_settings("quick").to_dict()
    for name in ("shared_z", "refine_steps", "gamma_raw", "shared_trunk", "collapse_epoch"):
        old.pop(name)
    s = Settings.from_dict(old)   # a file written before these settings existed: grown the earlier way
    assert (s.shared_z, s.refine_steps, s.gamma_raw, s.shared_trunk, s.collapse_epoch) == (
        False, "max", "once", False, None)


def test_refinement_steps_count_the_mean_of_the_two_groups():
    """tree/refinement.py: (mass_l + mass_m) // (2 * batch) minibatches per epoch, 1.8x fewer on a 90/10 split."""
    s = get_settings("paper", "fashion-mnist")                 # batch 100, 150 epochs
    assert refine_mass([900.0, 100.0], s) == 500.0
    assert steps_for(refine_mass([900.0, 100.0], s), s) == 150 * 5
    m = s.replace(refine_steps="max")
    assert steps_for(refine_mass([900.0, 100.0], m), m) == 150 * 9


def test_collapse_watch_starts_at_epoch_40_of_the_schedule():
    s = get_settings("paper", "fashion-mnist")                 # 150 epochs: from 40/150 of the steps
    assert watch_start(s, 1500) == 400
    assert watch_start(get_settings("paper", "mnist"), 1000) == 400
    assert watch_start(s.replace(collapse_epoch=None), 1500) == 750   # collapse_after = 0.5
    assert watch_start(s.replace(collapse_epoch=1000), 1500) == 1500  # never before the end


def test_one_latent_draw_per_step_is_shared_by_every_generator():
    g = Generator(4, width=8)
    torch.manual_seed(0)
    z = g.sample_latent(5, shared=True)
    assert z.shape == (4, 5, 100) and all(torch.equal(z[0], z[j]) for j in range(4))
    assert float(z.min()) < 0 < float(z.max())                 # U(-1, 1)
    z = g.sample_latent(5)
    assert not torch.equal(z[0], z[1])
    s = get_settings("quick", **TINY)
    for shared in (True, False):
        gan = SplitGAN("pair", (1, 28, 28), s.replace(shared_z=shared), CPU)
        _, z = gan.draw(torch.zeros(10, 1, 28, 28), torch.ones(2, 10))
        assert torch.equal(z[0], z[3]) == shared


def test_raw_split_weighs_the_classification_term_by_gamma_squared():
    """models/gan.py multiplies the raw split's generator classification loss by gamma twice (refinement:
    once): the generators' update under gamma=0.1 ("squared") equals one under gamma=0.01 ("once")."""
    X = torch.rand(64, 1, 28, 28) * 2 - 1
    after = []
    for gamma, form in ((0.1, "squared"), (0.01, "once"), (0.1, "once")):
        torch.manual_seed(1)
        gan = SplitGAN("mgan", (1, 28, 28), get_settings("quick", **TINY, gamma=gamma, gamma_raw=form), CPU)
        torch.manual_seed(2)
        gan.step(X, torch.ones(1, 64), 0.0, torch.zeros(6))
        after.append(torch.cat([p.detach().flatten() for p in gan.G.parameters()]))
    assert torch.allclose(after[0], after[1], atol=1e-7) and not torch.allclose(after[0], after[2], atol=1e-5)
    assert SplitGAN("pair", (1, 28, 28), get_settings("quick", **TINY, gamma=0.1), CPU).gamma_g == 0.1


def test_shared_trunk_one_trunk_two_optimisers():
    """sop.py's shared_features_across_ref: one trunk for both refinement groups, updated by each group's D
    optimiser (each with its own Adam state); the heads stay per group."""
    own, shared = Critic(2, 1, 28, (8, 16, 32)), Critic(2, 1, 28, (8, 16, 32), shared_trunk=True)
    heads = count_parameters(own.d_head) + count_parameters(own.c_head)
    assert count_parameters(shared) - heads == (count_parameters(own) - heads) // 2
    x = torch.rand(2, 3, 1, 28, 28)
    f = shared.features(x)
    assert torch.allclose(f[1], shared.features(x[1:].expand(2, -1, -1, -1, -1))[0], atol=1e-6)
    s = get_settings("quick", **TINY, shared_trunk=True)
    gan = SplitGAN("pair", (1, 28, 28), s, CPU)
    assert gan.D.shared_trunk and gan.opt_trunk_m is not None
    assert not SplitGAN("mgan", (1, 28, 28), s, CPU).D.shared_trunk      # a raw split has one critic anyway
    before = [p.detach().clone() for p in gan.D.shared_parameters()]
    gan.step(torch.rand(32, 1, 28, 28) * 2 - 1, torch.ones(2, 32), 0.0, torch.zeros(6))
    trunk = gan.D.shared_parameters()
    assert all(not torch.equal(a, p) for a, p in zip(before, trunk))
    st_l, st_m = gan.opt_dc.state[trunk[0]], gan.opt_trunk_m.state[trunk[0]]
    assert st_l["step"] == 1 and st_m["step"] == 1 and not torch.equal(st_l["exp_avg"], st_m["exp_avg"])


@pytest.mark.needs_data("fashion-mnist")
def test_refinements_stop_by_the_codes_rule_from_the_second_refinement_on(monkeypatch):
    """tree.py's check_stop_refinement_condition: before each refinement, once two refinements exist,
    stop if the last one moved less than refine_tol images' worth of membership. A first refinement that
    moves little never stops the split."""
    data = load_fashion_mnist(DATA_ROOT).subset(classes=[0, 1], per_class=30)

    def small_step(X, s_l, s_m, s, device, desc="", **kw):
        from hcmgan_lite.training import SplitResult, TrainLog
        shift = torch.zeros_like(s_l)
        shift[0] = 1.0 if float(s_l[0]) < 0.5 else -1.0   # each refinement moves one image's worth of mass
        new = (s_l + shift).clamp(0, 1)
        return SplitResult(new, (s_l + s_m) - new, TrainLog(steps=0), torch.zeros(2, 4, 1, 28, 28, dtype=torch.uint8))
    monkeypatch.setattr(split_mod, "refine", small_step)
    s = get_settings("quick", **TINY, refinements=4, refine_tol=150.0, refine_guard=False)
    tree = grow_tree(data, 2, s, CPU, progress=False)
    assert len(tree.nodes[0].history) == 3          # raw split, refinement 1 (not judged), refinement 2 (stops)
    tree = grow_tree(data, 2, s.replace(refine_tol=None), CPU, progress=False)
    assert len(tree.nodes[0].history) == 5

import pytest
import torch

from hcmgan_lite import HCMGAN, Tree, from_tensor, get_settings, grow_tree

# collapse_spread=0: networks this small, trained this briefly, never vary like real images
TINY = dict(collapse_spread=0, g_width=8, d_widths=(8, 16, 32), batch_size=32, gen_batch_size=32, max_steps=15, min_steps=15,
            log_every=5, refinements=1, n_samples=4)


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(240, 1, 28, 28, generator=g) * 2 - 1
    y = torch.arange(240) % 3
    return from_tensor(x, labels=y)


@pytest.fixture(scope="module")
def tree(data, tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    return grow_tree(data, 4, get_settings("quick", **TINY), "cpu", run_dir=run, progress=False), run


def test_tree_structure_and_conservation(tree, data):
    t, _ = tree
    assert t.n_leaves == 4 and len(t.nodes) == 7 and len(t.splits) == 3
    assert torch.all(t.nodes[0].membership == 1)
    for k in t.splits:
        node = t.nodes[k]
        l, m = (t.nodes[c] for c in node.children)
        assert torch.allclose(l.membership + m.membership, node.membership, atol=1e-5)
        assert len(node.history) == 1 + 1          # raw split + one refinement
        assert l.parent == k and l.depth == node.depth + 1
    # leaves of the full tree partition the mass
    assert torch.allclose(t.memberships().sum(0), torch.ones(len(data)), atol=1e-5)


def test_largest_mass_leaf_is_split_next(tree):
    t, _ = tree
    for i, k in enumerate(t.splits):
        candidates = t.leaves(i + 1)
        assert k == max(candidates, key=lambda j: t.nodes[j].mass)


def test_cut_undoes_latest_splits(tree, data):
    t, _ = tree
    assert t.leaves(1) == [0]
    assert t.leaves(2) == [1, 2]
    for n in range(1, 5):
        labels = t.predict(n)
        assert labels.shape == (len(data),) and int(labels.max()) < n
    with pytest.raises(ValueError, match="between 1 and 4"):
        t.leaves(5)


def test_save_and_load_round_trip(tree):
    t, run = tree
    t2 = Tree.load(run / "tree.pt")
    assert t2.splits == t.splits and t2.settings == t.settings
    for a, b in zip(t.nodes, t2.nodes):
        assert torch.equal(a.membership, b.membership) and a.children == b.children
    assert torch.equal(t2.predict(), t.predict())
    # plain tensors and containers only: loadable with weights_only=True
    torch.load(run / "tree.pt", weights_only=True)


def test_newer_format_is_refused(tree, tmp_path):
    t, _ = tree
    d = t.state_dict()
    d["version"] = 99
    torch.save(d, tmp_path / "tree.pt")
    with pytest.raises(ValueError, match="newer version"):
        Tree.load(tmp_path / "tree.pt")


def test_estimator_labels(data):
    est = HCMGAN(n_clusters=3, profile="quick", progress=False, **TINY)
    labels = est.fit_predict(data.images)
    assert labels.shape == (len(data),)
    assert len(set(labels.tolist())) <= 3 and est.tree_.n_leaves == 3
    assert est.memberships_.shape == (3, len(data))


@pytest.mark.parametrize("kw,msg", [
    (dict(n_clusters=1), "n_clusters must be an integer >= 2"),
    (dict(n_clusters=2.5), "n_clusters must be an integer >= 2"),
    (dict(profile="fast"), "unknown profile"),
    (dict(learning_rate=0.1), "unknown setting 'learning_rate'"),
    (dict(lr_g=-1), "lr_g must be > 0"),
])
def test_estimator_validates_in_fit_before_training(kw, msg, monkeypatch):
    from hcmgan_lite.training import SplitGAN
    monkeypatch.setattr(SplitGAN, "train", lambda *a, **k: pytest.fail("training started"))
    est = HCMGAN(**kw)   # scikit-learn: the constructor only stores its parameters
    with pytest.raises(ValueError, match=msg):
        est.fit(torch.zeros(6, 28, 28))


def test_split_entropy_extremes():
    from hcmgan_lite import split_entropy
    s_k = torch.tensor([1.0, 0.5, 2.0, 0.0])
    assert split_entropy(s_k.clone(), s_k) < 1e-5             # everything on one side
    assert abs(split_entropy(s_k / 2, s_k) - 1.0) < 1e-5      # every image halved
    assert 0 < split_entropy(torch.tensor([0.9, 0.1, 1.0, 0.0]), s_k) < 1


def test_refine_guard_refuses_a_smearing_refinement(data, monkeypatch):
    """With refine_guard, a refinement that makes the split less decisive is not kept (and is recorded)."""
    import hcmgan_lite.split as split_mod
    from hcmgan_lite.training import SplitResult, TrainLog

    def smearing_refine(X, s_l, s_m, settings, device=None, **kw):
        s_k = s_l + s_m
        return SplitResult(s_k / 2, s_k - s_k / 2, TrainLog(steps=1), torch.zeros(2, 4, 1, 28, 28, dtype=torch.uint8))

    monkeypatch.setattr(split_mod, "refine", smearing_refine)
    for guard in (True, False):
        t = grow_tree(data, 2, get_settings("quick", **TINY, refine_guard=guard), "cpu", progress=False)
        root = t.nodes[0]
        log = root.split_logs[1]
        assert log["entropy_after"] > log["entropy_before"]
        assert log["accepted"] is (not guard)
        kept = root.history[0] if guard else root.history[0].new_full(root.history[0].shape, 0.5)
        assert torch.allclose(t.nodes[1].membership, kept, atol=1e-6)

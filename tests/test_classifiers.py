"""Kept classifiers: a tree routes new images; the estimator predicts and clones; the command line predicts.

Tiny networks on the CPU, one thread; exactness is checked on the images a tree was grown on.
"""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import hcmgan_lite.__main__ as cli
from hcmgan_lite import HCMGAN, Tree, from_tensor, get_settings, grow_tree, load_fashion_mnist
from hcmgan_lite.data import find_data_root
from hcmgan_lite.storage import save_checked

CPU = torch.device("cpu")
DATA_ROOT = find_data_root()
pytestmark = [pytest.mark.needs_data("fashion-mnist"), pytest.mark.usefixtures("one_thread")]
TINY = dict(collapse_spread=0, collapse_loss=0, min_child_frac=0, g_width=8, d_widths=(8, 16, 32), batch_size=16,
            gen_batch_size=16, max_steps=8, min_steps=8, log_every=4, n_samples=4)


@pytest.fixture(scope="module")
def fmnist():
    return load_fashion_mnist(DATA_ROOT)


@pytest.fixture(scope="module")
def data(fmnist):
    return fmnist.subset(classes=[0, 1, 8], per_class=40)


@pytest.fixture(scope="module", params=[0, 2], ids=["raw splits", "2 refinements"])
def grown(request, data, tmp_path_factory):
    run = tmp_path_factory.mktemp("clf")
    s = get_settings("quick", **TINY, refinements=request.param)
    return grow_tree(data, 3, s, CPU, run_dir=run, progress=False), run, request.param


def test_routed_memberships_are_the_trees_own_on_its_images(grown, data):
    tree, run, refinements = grown
    loaded = Tree.load(run)
    assert (run / "classifiers.pt").is_file() and loaded.has_classifiers
    for t in (tree, loaded):
        routed = t.route(data, device="cpu")
        own = torch.stack([n.membership for n in t.nodes])
        if refinements == 0:
            assert torch.equal(routed, own)      # exactly: the same classifier on the same images
        else:
            assert torch.allclose(routed, own, rtol=0, atol=1e-5)
    assert torch.equal(loaded.route(data.images[:7], device="cpu").argmax(0), tree.route(data.images[:7], "cpu").argmax(0))


def test_each_split_keeps_the_classifiers_of_its_last_kept_stage(grown):
    """A raw split's one classifier, or the two of the last refinement whose memberships were kept."""
    tree, _, refinements = grown
    for k in tree.splits:
        logs = tree.nodes[k].split_logs
        kept_refinement = any(st.get("accepted") and not st.get("failed") for st in logs[1:])
        assert tree.nodes[k].classifier["mode"] == ("pair" if kept_refinement else "mgan")
    if refinements:
        assert any(tree.nodes[k].classifier["mode"] == "pair" for k in tree.splits)


def test_routing_new_images_gives_memberships(grown, fmnist):
    tree = grown[0]
    new = fmnist.subset(classes=[0, 1, 8], per_class=50, seed=7).images
    routed = tree.route(new, device="cpu")
    leaves = routed[tree.leaves()]
    assert leaves.shape == (3, 150) and torch.allclose(leaves.sum(0), torch.ones(150), atol=1e-5)
    assert bool((routed >= 0).all() & (routed <= 1 + 1e-6).all())


def test_route_refuses_other_shapes_and_trees_without_classifiers(grown, data, tmp_path):
    tree = grown[0]
    with pytest.raises(ValueError, match="shape"):
        tree.route(torch.zeros(4, 32, 32), device="cpu")
    with pytest.raises(ValueError, match="value range|span"):
        tree.route(torch.rand(4, 28, 28) * 5, device="cpu")
    bare = grow_tree(data, 2, get_settings("quick", **TINY, refinements=0, keep_classifiers=False), CPU,
                     run_dir=tmp_path, progress=False)
    assert not (tmp_path / "classifiers.pt").exists()
    for t in (bare, Tree.load(tmp_path)):
        with pytest.raises(ValueError, match="keep_classifiers"):
            t.route(data, device="cpu")


def test_a_damaged_classifiers_file_is_ignored_and_named(grown, data, tmp_path, caplog):
    _, run, _ = grown
    for name in ("tree.pt", "classifiers.pt"):
        (tmp_path / name).write_bytes((run / name).read_bytes())
    raw = bytearray((tmp_path / "classifiers.pt").read_bytes())
    d = torch.load(tmp_path / "classifiers.pt", weights_only=True)
    first = next(iter(d["splits"].values()))["classifier"]["D"]
    w = next(iter(first.values()))
    needle = w.reshape(-1)[:4].numpy().tobytes()
    at = bytes(raw).find(needle)
    assert at > 0
    raw[at] ^= 0xFF
    (tmp_path / "classifiers.pt").write_bytes(bytes(raw))
    with caplog.at_level("WARNING"):
        tree = Tree.load(tmp_path)
    assert "classifiers.pt" in caplog.text and not tree.has_classifiers
    with pytest.raises(ValueError, match="checksum"):
        tree.route(data, device="cpu")


def test_classifiers_of_another_tree_are_not_attached(grown, data, tmp_path):
    """classifiers.pt is bound to the memberships its classifiers made."""
    _, run, _ = grown
    (tmp_path / "tree.pt").write_bytes((run / "tree.pt").read_bytes())
    d = torch.load(run / "classifiers.pt", weights_only=True)
    for e in d["splits"].values():
        e["key"] = "sha256:" + "0" * 64
    save_checked(tmp_path / "classifiers.pt", d)
    assert not Tree.load(tmp_path).has_classifiers


# ---- the estimator -------------------------------------------------------------------------------
def test_the_estimator_is_a_scikit_learn_estimator(data):
    from sklearn.base import clone
    est = HCMGAN(3, profile="quick", progress=False, device="cpu", **TINY)
    assert est.get_params()["settings"] == TINY and est.get_params()["n_clusters"] == 3
    twin = clone(est)
    assert twin is not est and twin.get_params() == est.get_params()
    twin.set_params(n_clusters=2)
    assert twin.n_clusters == 2 and est.n_clusters == 3
    labels = est.fit_predict(data)
    assert isinstance(labels, np.ndarray) and isinstance(est.labels_, np.ndarray) and labels.shape == (len(data),)
    assert (est.predict(data) == est.labels_).all()           # routed = own, on the training images
    assert est.predict_memberships(data.images[:5]).shape == (3, 5)
    assert (est.predict_at(2) == est.tree_.cut(2).numpy()).all()


def test_the_estimator_passes_the_scikit_learn_checks_that_apply():
    """scikit-learn's own checks: those about parameters, cloning and fitting run; the checks that feed
    tabular data (2-D float tables of a few features) cannot apply to an image clusterer and are skipped."""
    from sklearn.utils.estimator_checks import (check_get_params_invariance, check_no_attributes_set_in_init,
                                                check_parameters_default_constructible, check_set_params)
    est = HCMGAN(2, progress=False, **TINY)
    for check in (check_no_attributes_set_in_init, check_parameters_default_constructible,
                  check_get_params_invariance, check_set_params):
        check("HCMGAN", est)


def test_an_unfitted_estimator_says_so():
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        HCMGAN(2).predict(torch.zeros(3, 28, 28))


# ---- the held-out images and the command line -------------------------------------------------------
def test_subset_indices_and_unseen_split_the_classes_exactly(fmnist):
    idx = fmnist.subset_indices(classes=[0, 1], per_class=30, seed=0)
    sub, rest = fmnist.subset(classes=[0, 1], per_class=30), fmnist.unseen(classes=[0, 1], per_class=30)
    assert len(idx) == len(sub) == 60 and torch.equal(fmnist.images[idx], sub.images)
    assert len(rest) == 14000 - 60 and rest.class_names == sub.class_names == fmnist.class_names[:2]
    both = torch.cat([sub.images.reshape(len(sub), -1), rest.images.reshape(len(rest), -1)])
    assert len(torch.unique(both, dim=0)) >= len(both) - 300   # (Fashion-MNIST repeats a few images)


def test_predict_command_clusters_the_images_a_run_never_saw(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HCMGAN_DATA", str(DATA_ROOT))
    monkeypatch.setenv("HCMGAN_PROGRESS", "0")
    run = tmp_path / "run"
    sets = sum((["--set", f"{k}={v!r}".replace(" ", "")] for k, v in TINY.items()), [])
    assert cli.main(["fit", "fashion-mnist", "--classes", "1,8", "--per-class", "30", "--clusters", "2",
                     "--run-dir", str(run), "--no-report", *sets, "--set", "refinements=0"]) == 0
    assert cli.main(["predict", str(run), "--data", "fashion-mnist", "--unseen"]) == 0
    out = capsys.readouterr().out
    res = json.loads((run / "predictions.json").read_text())
    assert res["n_images"] == 14000 - 60 == len(res["labels"]) == sum(res["cluster_sizes"])
    assert 0 <= res["scores"]["acc"] <= 1 and "ACC" in out
    npy = tmp_path / "x.npy"
    np.save(npy, (load_fashion_mnist(DATA_ROOT).images[:5, 0].numpy() + 1) / 2)
    assert cli.main(["predict", str(run / "tree.pt"), "--data", str(npy), "--out", str(tmp_path / "p.json")]) == 0
    assert len(json.loads((tmp_path / "p.json").read_text())["labels"]) == 5
    assert cli.main(["predict", str(run), "--data", "mnist", "--unseen"]) == 2
    assert "--unseen" in capsys.readouterr().err


def test_the_held_out_benchmark_scores_both_sets(tmp_path, monkeypatch):
    import sys
    monkeypatch.setenv("HCMGAN_DATA", str(DATA_ROOT))
    monkeypatch.setenv("HCMGAN_PROGRESS", "0")
    run = tmp_path / "run"
    sets = sum((["--set", f"{k}={v!r}".replace(" ", "")] for k, v in TINY.items()), [])
    assert cli.main(["fit", "fashion-mnist", "--classes", "0,8", "--per-class", "20", "--clusters", "3",
                     "--run-dir", str(run), "--no-report", *sets]) == 0
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    try:
        import held_out
    finally:
        sys.path.pop(0)
    res = held_out.held_out(run)
    assert res["own_images"] == 40 and res["held_out_images"] == 14000 - 40 and res["routed_own_equals_tree"]
    assert res["hcmgan"]["own_routed"] == res["hcmgan"]["own"]
    assert sum(res["held_out_cluster_sizes"]) == res["held_out_images"]
    for who in ("hcmgan", "kmeans"):
        assert 0 <= res[who]["held_out"]["acc"] <= 1

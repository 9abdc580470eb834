"""Dendrogram and leaf purity against pair-by-pair counts, ClustPy's functions and scikit-learn's Ward cuts."""
import itertools

import numpy as np
import pytest
import torch

from hcmgan_lite import get_settings
from hcmgan_lite.hierarchy import (Hierarchy, cut_purity, dendrogram_purity, every_cut, hierarchy_scores,
                                   leaf_purity, ward_cut, ward_tree)
from hcmgan_lite.tree import Node, Tree


def brute_dp(h: Hierarchy, y) -> float:
    """Dendrogram purity over the pairs themselves: the class's share under each pair's lowest ancestor."""
    def ancestors(v):
        out = [v]
        while h.parent[out[-1]] >= 0:
            out.append(int(h.parent[out[-1]]))
        return out
    under = {v: [i for i in range(len(y)) if v in ancestors(h.leaf_of[i])] for v in range(len(h.parent))}
    shares = []
    for i, j in itertools.combinations(range(len(y)), 2):
        if y[i] == y[j]:
            aj = set(ancestors(h.leaf_of[j]))
            lca = next(a for a in ancestors(h.leaf_of[i]) if a in aj)
            shares.append(np.mean([y[t] == y[i] for t in under[lca]]))
    return float(np.mean(shares))


def random_hierarchy(rng, n_nodes: int, n_images: int) -> Hierarchy:
    """A random rooted tree (any number of children per node) with images at random leaves."""
    parent = [-1] + [int(rng.integers(0, v)) for v in range(1, n_nodes)]
    is_leaf = np.ones(n_nodes, bool)
    is_leaf[[p for p in parent if p >= 0]] = False
    leaves = np.flatnonzero(is_leaf)
    return Hierarchy(parent, rng.choice(leaves, n_images))


@pytest.mark.parametrize("seed", range(6))
def test_dendrogram_purity_equals_the_pair_count(seed):
    rng = np.random.default_rng(seed)
    h = random_hierarchy(rng, int(rng.integers(3, 12)), 30)
    y = rng.integers(0, 3, 30)
    assert dendrogram_purity(y, h) == pytest.approx(brute_dp(h, y), abs=1e-12)
    counts = np.zeros((h.n_leaves, 3))
    leaves = {v: i for i, v in enumerate(np.flatnonzero(h.is_leaf))}
    for i, c in enumerate(y):
        counts[leaves[h.leaf_of[i]], c] += 1
    assert leaf_purity(y, h) == pytest.approx(counts.max(1).sum() / 30)


def test_pure_tree_scores_one_and_a_flat_mix_scores_the_class_shares():
    y = np.array([0, 0, 1, 1, 2, 2])
    pure = Hierarchy([-1, 0, 0, 2, 2], [1, 1, 3, 3, 4, 4])
    assert dendrogram_purity(y, pure) == 1.0 and leaf_purity(y, pure) == 1.0
    one_leaf = Hierarchy([-1], [0] * 6)          # every pair's ancestor is the root: share 2/6 for each class
    assert dendrogram_purity(y, one_leaf) == pytest.approx(1 / 3) and leaf_purity(y, one_leaf) == pytest.approx(1 / 3)
    # the book's worked example: classes split high in the tree cost more than classes mixed in a leaf
    split_high = Hierarchy([-1, 0, 0], [1, 2, 1, 2, 1, 2])
    assert dendrogram_purity(y, split_high) == pytest.approx(brute_dp(split_high, y))


def test_merge_tree_cuts_are_scikit_learns_ward_clusters():
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.metrics import adjusted_rand_score
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    merges = ward_tree(X)
    for k in (2, 3, 7):
        sk = AgglomerativeClustering(k, linkage="ward").fit_predict(X)
        h = Hierarchy.from_merges(merges, 60, k)
        assert h.n_leaves == k and len(h.parent) == 2 * k - 1
        assert adjusted_rand_score(sk, h.leaf_of) == 1.0
        assert adjusted_rand_score(sk, ward_cut(merges, 60)(k)) == 1.0
    y = rng.integers(0, 3, 60)
    full = Hierarchy.from_merges(merges, 60)
    assert full.n_leaves == 60 and dendrogram_purity(y, full) == pytest.approx(brute_dp(full, y))
    assert Hierarchy.from_merges(merges, 60, 1).n_leaves == 1
    scores = every_cut(y, ward_cut(merges, 60), [2, 5])
    assert set(scores) == {2, 5} and scores[5]["purity"] == pytest.approx(cut_purity(y, ward_cut(merges, 60)(5)))


def test_against_clustpy():
    pytest.importorskip("clustpy")
    from clustpy.metrics.external import dendrogram_purity as clustpy_dp
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 3))
    y = rng.integers(0, 4, 80)
    merges = ward_tree(X)
    assert dendrogram_purity(y, Hierarchy.from_merges(merges, 80)) == pytest.approx(clustpy_dp(merges, y))
    # a 6-cluster cut: ClustPy reads it as a merge list over the clusters and each image's cluster
    h = Hierarchy.from_merges(merges, 80, 6)
    rows, pred = h.to_merges()
    assert rows.shape == (5, 2) and set(pred) == set(range(6))
    assert dendrogram_purity(y, h) == pytest.approx(clustpy_dp(rows, y, pred))
    assert dendrogram_purity(y, Hierarchy.from_merges(rows, 6).with_images(pred)) == pytest.approx(
        dendrogram_purity(y, h))


def _tree(memberships_q, labels) -> Tree:
    """A tree with given split fractions: split j sends q_j of its node's mass to its first child."""
    n = len(labels)
    tree = Tree(n, (1, 2, 2), get_settings("quick"), labels=torch.as_tensor(labels))
    tree.nodes = [Node(0, None, 0, torch.ones(n))]
    k = 0
    for q in memberships_q:
        node = tree.nodes[k]
        a, b = len(tree.nodes), len(tree.nodes) + 1
        tree.nodes += [Node(a, k, node.depth + 1, node.membership * q),
                       Node(b, k, node.depth + 1, node.membership * (1 - q))]
        node.children = (a, b)
        tree.splits.append(k)
        k = max((v for v in range(len(tree.nodes)) if tree.nodes[v].children is None), key=lambda v: tree.nodes[v].mass)
    return tree


def test_hcmgan_tree_hard_and_soft():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 12)
    qs = [torch.as_tensor(rng.random(12), dtype=torch.float32) for _ in range(3)]
    tree = _tree(qs, y)
    h = Hierarchy.from_tree(tree)
    assert h.n_leaves == 4 and len(h.parent) == 7
    leaves = tree.leaves()
    assert np.array_equal(np.asarray(leaves)[tree.cut().numpy()], h.leaf_of)   # node ids = tree ids here
    assert dendrogram_purity(y, tree) == pytest.approx(brute_dp(h, y))
    assert Hierarchy.from_tree(tree, 2).n_leaves == 2
    # the soft counts are expectations: image i lies under node v with probability s_v(i), independently
    n, pairs = h.class_counts(y, soft=True)
    s = h.memberships
    for v in range(7):
        expect = sum(s[v, i] * s[v, j] for i, j in itertools.combinations(range(12), 2) if y[i] == y[j])
        assert pairs[v].sum() == pytest.approx(expect)
    # on 0/1 memberships the soft variants are the hard ones
    hard = _tree([(q > 0.5).float() for q in qs], y)
    r = hierarchy_scores(y, hard)
    assert r["dendrogram_purity_soft"] == pytest.approx(r["dendrogram_purity"])
    assert r["leaf_purity_soft"] == pytest.approx(r["leaf_purity"])


@pytest.mark.parametrize("parent, leaf_of, match", [
    ([-1, -1], [0, 1], "one root"), ([-1, 2, 1], [0], "not below the root|leaf"),
    ([-1, 0, 0], [0, 1], "leaf"), ([-1, 0, 5], [1], "nodes"), ([-1, 0, 0], [], "non-empty")])
def test_bad_hierarchies_are_refused(parent, leaf_of, match):
    with pytest.raises(ValueError, match=match):
        Hierarchy(parent, leaf_of)


def test_bad_labels_are_refused():
    h = Hierarchy([-1, 0, 0], [1, 2, 2])
    with pytest.raises(ValueError, match="3 images"):
        dendrogram_purity([0, 1], h)
    with pytest.raises(ValueError, match=">= 0"):
        leaf_purity([0, -1, 1], h)
    with pytest.raises(ValueError, match="whole"):
        leaf_purity([0, 0.5, 1], h)
    with pytest.raises(ValueError, match="share a class"):
        dendrogram_purity([0, 1, 2], h)
    with pytest.raises(ValueError, match="memberships"):
        dendrogram_purity([0, 1, 1], h, soft=True)
    with pytest.raises(TypeError, match="Hierarchy"):
        dendrogram_purity([0, 1, 1], [[0, 1]])


def test_hierarchy_table_reads_the_tree_and_the_seed_folders_that_score_trees(tmp_path):
    """The hierarchy rows: the chosen tree's report, then each committed seed folder whose reports carry
    hierarchy scores (mean over its seeds); reports without them (older runs) give no row."""
    import json
    from hcmgan_lite import tables

    def report(seed, dp, acc, hierarchy=True):
        r = {"config": {"profile": "quick", "seed": seed}, "n_leaves": 10, "n_images": 10000, "seconds": 600.0,
             "scores": {"final": {"acc": acc, "nmi": acc - 0.1}}, "settings": {}}
        return r | ({"hierarchy": {"dendrogram_purity": dp, "leaf_purity": dp + 0.2}} if hierarchy else {})

    (tmp_path / "trees" / "mnist-quick-s0").mkdir(parents=True)
    (tmp_path / "trees" / "mnist-quick-s0" / "report.json").write_text(json.dumps(report(0, 0.3, 0.4)))
    label, folder = tables.COMMITTED_SEEDS[-1][:2]
    (tmp_path / folder).mkdir()
    for seed, dp in ((0, 0.40), (1, 0.50)):
        (tmp_path / folder / f"mnist-s{seed}.json").write_text(json.dumps(report(seed, dp, 0.6)))
    old = tables.COMMITTED_SEEDS[0][1]
    (tmp_path / old).mkdir()
    (tmp_path / old / "mnist-s0.json").write_text(json.dumps(report(0, None, 0.5, hierarchy=False)))
    rows = [r for r in tables.hierarchy_rows("mnist", tmp_path) if r["method"].startswith("HC-MGAN")]
    assert len(rows) == 2 and rows[0]["dp"]["mean"] == 0.3 and rows[0]["seeds"] == "0"
    assert rows[1]["method"].startswith(label) and rows[1]["seeds"] == "0, 1"
    assert rows[1]["dp"]["mean"] == pytest.approx(0.45) and rows[1]["dp"]["n"] == 2
    assert rows[1]["lp"]["mean"] == pytest.approx(0.65) and rows[1]["acc"]["mean"] == pytest.approx(0.6)
    said = tables.hierarchy_verdicts(rows)
    assert len(said) == 0       # no peer rows in this folder: nothing to compare with
    assert tables.hierarchy_rows("mnist", tmp_path, tree_run="trees/mnist-quick-s0")[0]["dp"]["mean"] == 0.3

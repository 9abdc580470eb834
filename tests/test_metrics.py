"""Tests of hcmgan_lite.metrics."""
from itertools import permutations

import numpy as np
import pytest
import torch
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from hcmgan_lite.metrics import (ari, class_mass_table, cluster_acc, evaluate, majority_side_purity,
                                 mean_per_class_acc, nmi)


def brute_force_acc(y_true, y_pred):
    """Best accuracy over every injective cluster→class relabelling (small cases only)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    clusters, classes = np.unique(y_pred), np.unique(y_true)
    padded = list(classes) + [-1] * max(0, len(clusters) - len(classes))
    best = 0
    for perm in permutations(padded, len(clusters)):
        mapping = dict(zip(clusters, perm))
        best = max(best, sum(mapping[p] == t for t, p in zip(y_true, y_pred)))
    return best / len(y_true)


def test_permuted_labels_score_one():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 6, 500)
    relabel = rng.permutation(6) + 10
    assert cluster_acc(y, relabel[y]) == 1.0
    assert mean_per_class_acc(torch.as_tensor(y), torch.as_tensor(relabel[y])) == 1.0
    assert nmi(y, relabel[y]) == pytest.approx(1.0) and ari(list(y), relabel[y]) == pytest.approx(1.0)


def test_hand_cases():
    # contingency [[1, 2], [3, 0]]: identity gives 1, swap gives 2 + 3 = 5
    assert cluster_acc([0, 0, 0, 1, 1, 1], [1, 1, 0, 0, 0, 0]) == pytest.approx(5 / 6)
    # contingency [[3, 1], [0, 2]]: ACC 5/6, per class (3/4 + 2/2) / 2
    assert cluster_acc([0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 1]) == pytest.approx(5 / 6)
    assert mean_per_class_acc([0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 1]) == pytest.approx(0.875)


def test_cluster_and_class_counts_differ():
    assert cluster_acc([0, 0, 1, 1], [0, 1, 2, 2]) == pytest.approx(3 / 4)   # more clusters
    assert cluster_acc([0, 1, 2, 2], [0, 0, 1, 1]) == pytest.approx(3 / 4)   # fewer clusters
    assert mean_per_class_acc([0, 1, 2, 2], [0, 0, 1, 1]) == pytest.approx(2 / 3)  # one class unmatched


@pytest.mark.parametrize("seed", range(6))
def test_acc_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    y_true, y_pred = rng.integers(0, 4, 40), rng.integers(0, 3 + seed % 3, 40)
    assert cluster_acc(y_true, y_pred) == pytest.approx(brute_force_acc(y_true, y_pred))


def test_nmi_ari_match_sklearn_and_evaluate():
    rng = np.random.default_rng(1)
    y_true, y_pred = rng.integers(0, 5, 300), rng.integers(0, 7, 300)
    assert nmi(torch.as_tensor(y_true), y_pred) == pytest.approx(normalized_mutual_info_score(y_true, y_pred))
    assert ari(y_true, y_pred) == pytest.approx(adjusted_rand_score(y_true, y_pred))
    scores = evaluate(y_true, y_pred)
    assert set(scores) == {"acc", "nmi", "ari", "mean_per_class_acc"}
    assert scores["acc"] == pytest.approx(cluster_acc(y_true, y_pred))
    assert all(isinstance(v, float) for v in scores.values())


def test_length_mismatch():
    with pytest.raises(ValueError, match="3 labels but y_pred has 2"):
        cluster_acc([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="must be equal"):
        evaluate(np.zeros(4), np.zeros(5))


def test_class_mass_table_hand_case():
    s = torch.tensor([[1.0, 0.5, 0.0], [0.0, 0.5, 1.0]])
    table = class_mass_table(s, torch.tensor([0, 0, 1]), class_names=["x", "y"])
    assert table.shape == (2, 2)
    np.testing.assert_allclose(table, [[75.0, 0.0], [25.0, 100.0]])


def test_class_mass_table_partition_sums_to_100():
    rng = np.random.default_rng(2)
    memberships = rng.dirichlet(np.ones(4), size=200).T  # 4 nodes partitioning 200 images
    labels = rng.integers(0, 3, 200)
    table = class_mass_table(memberships, labels)
    assert table.shape == (4, 3)
    np.testing.assert_allclose(table.sum(axis=0), 100.0)
    with pytest.raises(ValueError, match="K×N"):
        class_mass_table(memberships[:, :10], labels)


def test_majority_side_purity():
    # class 0: masses 1.5 | 0.5, class 1: 0 | 1  ->  (1.5 + 1) / 3
    assert majority_side_purity([1.0, 0.5, 0.0], [0.0, 0.5, 1.0], [0, 0, 1]) == pytest.approx(5 / 6)
    assert majority_side_purity(torch.tensor([1.0, 1.0, 0.0]), torch.tensor([0.0, 0.0, 1.0]),
                                [0, 0, 1]) == 1.0
    assert majority_side_purity([0.5] * 4, [0.5] * 4, [0, 1, 0, 1]) == pytest.approx(0.5)

"""Clustering metrics used in the paper, and the class-mass view of soft splits.

All functions accept torch tensors (on any device), numpy arrays or lists.

- ACC: accuracy under the best one-to-one mapping between clusters and
  classes (Hungarian algorithm on the contingency matrix).
- NMI, ARI: scikit-learn's normalized mutual information (arithmetic mean)
  and adjusted Rand index.
- mean per-class accuracy: the SOP metric, after the same mapping.
- ``class_mass_table`` / ``majority_side_purity``: how the soft membership mass
  of each class is spread over tree nodes.

Imports nothing from the rest of the package.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score


def _np(x) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor, any device
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t, p = _np(y_true), _np(y_pred)
    if t.ndim != 1 or p.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shapes {t.shape} and {p.shape}")
    if len(t) != len(p):
        raise ValueError(f"y_true has {len(t)} labels but y_pred has {len(p)}; they must be equal")
    if len(t) == 0:
        raise ValueError("empty label arrays")
    return t, p


def _matched(y_true, y_pred):
    """Contingency matrix (classes × clusters) and the Hungarian class→cluster matching."""
    t, p = _pair(y_true, y_pred)
    _, ti = np.unique(t, return_inverse=True)
    _, pi = np.unique(p, return_inverse=True)
    table = np.zeros((ti.max() + 1, pi.max() + 1), dtype=np.int64)
    np.add.at(table, (ti.ravel(), pi.ravel()), 1)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return table, rows, cols


def cluster_acc(y_true, y_pred) -> float:
    """Clustering accuracy: the best one-to-one cluster↔class mapping (Hungarian).

    The numbers of clusters and classes may differ; unmatched clusters or
    classes count as errors.
    """
    table, rows, cols = _matched(y_true, y_pred)
    return float(table[rows, cols].sum() / table.sum())


def mean_per_class_acc(y_true, y_pred) -> float:
    """Mean over classes of the fraction of each class in its matched cluster.

    Uses the same Hungarian mapping as :func:`cluster_acc`; a class left without
    a cluster scores 0. This is the metric the paper reports for SOP.
    """
    table, rows, cols = _matched(y_true, y_pred)
    per_class = np.zeros(table.shape[0])
    per_class[rows] = table[rows, cols] / table[rows].sum(axis=1)
    return float(per_class.mean())


def nmi(y_true, y_pred) -> float:
    """Normalized mutual information (arithmetic normalisation, scikit-learn)."""
    t, p = _pair(y_true, y_pred)
    return float(normalized_mutual_info_score(t, p, average_method="arithmetic"))


def ari(y_true, y_pred) -> float:
    """Adjusted Rand index (scikit-learn)."""
    t, p = _pair(y_true, y_pred)
    return float(adjusted_rand_score(t, p))


def evaluate(y_true, y_pred) -> dict[str, float]:
    """All metrics at once: ``acc``, ``nmi``, ``ari``, ``mean_per_class_acc``."""
    return {"acc": cluster_acc(y_true, y_pred), "nmi": nmi(y_true, y_pred),
            "ari": ari(y_true, y_pred), "mean_per_class_acc": mean_per_class_acc(y_true, y_pred)}


def _class_masses(memberships, labels, n_classes: int | None = None) -> np.ndarray:
    """K × n_classes matrix of summed membership per node and class."""
    s = _np(memberships).astype(np.float64)
    s = s[None, :] if s.ndim == 1 else s
    y = _np(labels)
    if s.ndim != 2 or y.ndim != 1 or s.shape[1] != len(y):
        raise ValueError(f"memberships must be K×N and labels length N; got shapes {s.shape} and {y.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError("memberships contain NaN/inf values")
    if len(y) and (y.min() < 0 or (n_classes is not None and y.max() >= n_classes)):
        raise ValueError(f"labels must lie in 0..{'n_classes-1' if n_classes is None else n_classes - 1}")
    n = n_classes if n_classes is not None else (int(y.max()) + 1 if len(y) else 0)
    masses = np.zeros((s.shape[0], n))
    for c in range(n):
        masses[:, c] = s[:, y == c].sum(axis=1)
    return masses


def class_mass_table(memberships, labels, class_names=None) -> np.ndarray:
    """Percent of each class's global mass held by each node.

    ``memberships`` is K×N (one row per node). Entry (k, A) is
    ``100 · Σ_i s_k,i · 1(c_i = A) / Σ_i 1(c_i = A)``. For nodes that partition
    the data (e.g. the leaves), every column sums to 100. Columns follow
    ``class_names`` when given (labels index into it), else labels 0..max;
    a class with no images gives a column of NaN.
    """
    y = _np(labels)
    n = None if class_names is None else len(class_names)
    masses = _class_masses(memberships, y, n)
    counts = np.bincount(y.astype(np.int64), minlength=masses.shape[1]).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * masses / counts


def majority_side_purity(s_l, s_m, labels) -> float:
    """Fraction of a split's mass lying on each class's majority side.

    ``Σ_A max(mass_l(A), mass_m(A)) / Σ_A (mass_l(A) + mass_m(A))``: 1.0 when no
    class is divided between the two children, 0.5 when every class is halved.
    """
    a, b = _np(s_l), _np(s_m)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"s_l and s_m must be 1-D of equal length, got shapes {a.shape} and {b.shape}")
    masses = _class_masses(np.stack([a, b]), labels)
    total = masses.sum()
    if total <= 0:
        raise ValueError("the two memberships hold no mass")
    return float(masses.max(axis=0).sum() / total)

"""How good is a hierarchy: dendrogram purity, leaf purity, and the tree cut at every number of clusters.

A :class:`Hierarchy` is a rooted tree whose leaves hold the images: ``parent[v]`` for every node (-1 at the
root) and ``leaf_of[i]``, the leaf of image ``i``. It is made from an HC-MGAN :class:`~hcmgan_lite.tree.Tree`
(:meth:`Hierarchy.from_tree`: each image at the leaf of its largest membership; the nodes above a leaf
hold the images of the leaves below them), from a scikit-learn / SciPy merge list such as Ward's
``children_`` (:meth:`Hierarchy.from_merges`, the full tree or its top cut at ``k`` clusters), or from any
``parent`` / ``leaf_of`` pair (DeepECT's tree, for one).

**Dendrogram purity** (Heller & Ghahramani 2005): over every pair of images of the same class ``c``, the
share of ``c`` among the images under the pair's lowest common ancestor, averaged over the pairs. Two
images in the same leaf have that leaf as their ancestor. It is counted from per-node class counts, not
over pairs: with ``n[v, c]`` images of class ``c`` under node ``v``, the pairs of class ``c`` whose lowest
common ancestor is ``v`` number ``C(n[v,c], 2) - sum over children u of C(n[u,c], 2)``, so

    DP = sum_v sum_c pairs(v, c) * n[v, c] / n[v]  /  sum_c C(n_c, 2),

in time linear in nodes x classes. 1.0 when every class sits alone under some node that holds nothing
else... and its leaves are pure; it falls when classes are split high in the tree.

**Leaf purity**: the image-weighted mean over leaves of the majority class's share,
``sum_leaves max_c n[leaf, c] / N`` (the purity of the leaves as a flat clustering).

**Soft variants** (``soft=True``, HC-MGAN trees only): each image goes down the tree at random, to a node
with probability its membership ``s_v(i)`` (the root holds every image; ``s_l + s_m = s_k``). Then
``n[v, c]`` becomes the expected class mass ``m[v, c] = sum_{i in c} s_v(i)`` and ``C(n[v,c], 2)`` the
expected number of same-class pairs both under ``v``, ``(m[v,c]^2 - sum_{i in c} s_v(i)^2) / 2``; the
purity of a node is its expected class share ``m[v,c] / m[v]`` (a ratio of expectations, not the expected
ratio). On 0/1 memberships both variants equal the hard ones.

:func:`cut_scores` scores a flat clustering (ACC, NMI and the purity of the cut); :func:`every_cut` does it
for the tree cut at every ``k`` (HC-MGAN: :meth:`Tree.cut`; a merge tree: :meth:`Hierarchy.from_merges` with
``n_clusters``); :func:`ward_tree` is Ward's full tree on the same images (scikit-learn).

Imports: metrics (ACC, NMI).
"""
from __future__ import annotations

import numpy as np

from .metrics import cluster_acc, nmi


def _labels(labels, n: int | None = None) -> np.ndarray:
    y = labels.detach().cpu().numpy() if hasattr(labels, "detach") else np.asarray(labels)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"labels must be a non-empty 1-D array of class indices, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError("labels must be whole class indices")
        y = y.astype(np.int64)
    if y.min() < 0:
        raise ValueError(f"labels must be class indices >= 0, got {int(y.min())}")
    if n is not None and len(y) != n:
        raise ValueError(f"{len(y)} labels for a hierarchy of {n} images; they must be equal")
    return y.astype(np.int64)


class Hierarchy:
    """A rooted tree of clusters: ``parent`` of every node (-1 at the one root) and ``leaf_of`` every image.

    ``memberships`` (nodes x images, optional): soft memberships of every node, for the soft variants.
    """

    def __init__(self, parent, leaf_of, memberships=None):
        self.parent = np.asarray(parent, dtype=np.int64)
        self.leaf_of = np.asarray(leaf_of, dtype=np.int64)
        v = len(self.parent)
        if self.parent.ndim != 1 or v == 0:
            raise ValueError("parent must be a non-empty 1-D array, one entry per node")
        roots = np.flatnonzero(self.parent < 0)
        if len(roots) != 1:
            raise ValueError(f"a hierarchy has one root (parent -1), got {len(roots)}")
        if self.parent.max() >= v:
            raise ValueError(f"parent holds node {int(self.parent.max())}, but there are {v} nodes")
        self.root = int(roots[0])
        self.order = self._top_down()
        self.is_leaf = np.ones(v, dtype=bool)
        self.is_leaf[self.parent[self.parent >= 0]] = False
        if self.leaf_of.ndim != 1 or len(self.leaf_of) == 0:
            raise ValueError("leaf_of must be a non-empty 1-D array, one node per image")
        if self.leaf_of.min() < 0 or self.leaf_of.max() >= v or not self.is_leaf[self.leaf_of].all():
            raise ValueError("leaf_of must name a leaf of the hierarchy for every image")
        self.memberships = None
        if memberships is not None:
            s = np.asarray(memberships, dtype=np.float64)
            if s.shape != (v, len(self.leaf_of)) or not np.isfinite(s).all():
                raise ValueError(f"memberships must be finite, nodes x images = {(v, len(self.leaf_of))}, "
                                 f"got {s.shape}")
            self.memberships = s

    def _top_down(self) -> np.ndarray:
        """Nodes from the root down (every parent before its children); refuses cycles and strays."""
        children: dict[int, list[int]] = {}
        for v, p in enumerate(self.parent.tolist()):
            if p >= 0:
                children.setdefault(p, []).append(v)
        order, frontier = [self.root], [self.root]
        while frontier:
            frontier = [c for v in frontier for c in children.get(v, ())]
            order += frontier
            if len(order) > len(self.parent):
                break
        if len(order) != len(self.parent):
            raise ValueError("parent does not describe one tree: some nodes are not below the root")
        return np.asarray(order)

    @property
    def n_images(self) -> int:
        return len(self.leaf_of)

    @property
    def n_leaves(self) -> int:
        return int(self.is_leaf.sum())

    # ---- makers ---------------------------------------------------------
    @classmethod
    def from_tree(cls, tree, n_clusters: int | None = None) -> "Hierarchy":
        """An HC-MGAN tree (cut at ``n_clusters`` leaves; default all): each image at its largest leaf."""
        leaves = tree.leaves(n_clusters)
        alive = sorted({0} | {c for k in tree.splits[: len(leaves) - 1] for c in tree.nodes[k].children})
        index = {k: i for i, k in enumerate(alive)}
        parent = [-1 if tree.nodes[k].parent is None else index[tree.nodes[k].parent] for k in alive]
        leaf_of = np.asarray([index[k] for k in leaves])[tree.cut(len(leaves)).numpy()]
        s = np.stack([tree.nodes[k].membership.double().numpy() for k in alive])
        return cls(parent, leaf_of, memberships=s)

    @classmethod
    def from_merges(cls, children, n_samples: int, n_clusters: int | None = None) -> "Hierarchy":
        """A merge list (scikit-learn's ``children_``, SciPy's linkage ``Z[:, :2]``): merge ``j`` joins two
        nodes into node ``n_samples + j``. The full tree has one leaf per image; ``n_clusters`` keeps its top,
        the last ``n_clusters - 1`` merges, with the ``n_clusters`` clusters they join as leaves."""
        m = np.asarray(children)[:, :2].astype(np.int64)
        n = int(n_samples)
        if m.shape != (n - 1, 2) or m.min() < 0 or m.max() >= 2 * n - 1:
            raise ValueError(f"a merge list of {n} samples is ({n - 1}, 2) with node ids below {2 * n - 1}, "
                             f"got shape {m.shape}")
        parent = np.full(2 * n - 1, -1, dtype=np.int64)
        parent[m.ravel()] = np.repeat(np.arange(n, 2 * n - 1), 2)
        if n_clusters is None:
            return cls(parent, np.arange(n))
        k = int(n_clusters)
        if not 1 <= k <= n:
            raise ValueError(f"n_clusters must be between 1 and {n}, got {n_clusters}")
        top = 2 * n - k                       # nodes >= top: the last k - 1 merges (parents outnumber children)
        cluster = np.arange(2 * n - 1)        # a node's own cluster: itself if kept, else its parent's
        for v in range(2 * n - 3, -1, -1):    # from the root (2n - 2) down
            if v < top and parent[v] < top:
                cluster[v] = cluster[parent[v]]
        keep = np.flatnonzero(cluster == np.arange(2 * n - 1))
        index = np.full(2 * n - 1, -1, dtype=np.int64)
        index[keep] = np.arange(len(keep))
        kept_parent = parent[keep]
        return cls(np.where(kept_parent >= 0, index[kept_parent], -1), index[cluster[:n]])

    def to_merges(self) -> tuple[np.ndarray, np.ndarray]:
        """A binary hierarchy as a merge list over its leaves (scikit-learn / SciPy / ClustPy style: leaf ``j``
        is node ``j``, merge ``r`` makes node ``n_leaves + r``) and each image's leaf index."""
        kids: dict[int, list[int]] = {}
        for v, p in enumerate(self.parent.tolist()):
            if p >= 0:
                kids.setdefault(p, []).append(v)
        if any(len(c) != 2 for c in kids.values()):
            raise ValueError("only a binary hierarchy (two children per inner node) is a merge list")
        leaves = np.flatnonzero(self.is_leaf)
        ids = {int(v): j for j, v in enumerate(leaves)}
        rows = []
        for v in self.order[::-1]:          # a node after both its children
            if not self.is_leaf[v]:
                rows.append([ids[c] for c in kids[int(v)]])
                ids[int(v)] = len(leaves) + len(rows) - 1
        return np.asarray(rows, dtype=np.int64).reshape(-1, 2), np.asarray([ids[int(v)] for v in self.leaf_of])

    def with_images(self, leaf_index) -> "Hierarchy":
        """The same tree holding other images: ``leaf_index[i]``, the index (0 .. n_leaves-1, node order) of
        image ``i``'s leaf."""
        leaves = np.flatnonzero(self.is_leaf)
        idx = np.asarray(leaf_index, dtype=np.int64)
        if idx.ndim != 1 or len(idx) == 0 or idx.min() < 0 or idx.max() >= len(leaves):
            raise ValueError(f"leaf indices must lie in 0..{len(leaves) - 1}")
        return Hierarchy(self.parent, leaves[idx])

    # ---- counts ---------------------------------------------------------
    def class_counts(self, labels, soft: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``(n, pairs)``, nodes x classes: the class mass under each node and the same-class pairs both
        under it (hard counts, or their expectations with ``soft=True``)."""
        y = _labels(labels, self.n_images)
        n_classes = int(y.max()) + 1
        if soft:
            if self.memberships is None:
                raise ValueError("soft=True needs a hierarchy with memberships (Hierarchy.from_tree)")
            onehot = np.eye(n_classes)[y]
            n = self.memberships @ onehot
            return n, (n ** 2 - (self.memberships ** 2) @ onehot) / 2
        n = np.zeros((len(self.parent), n_classes))
        np.add.at(n, (self.leaf_of, y), 1.0)
        for v in self.order[::-1]:           # children before parents
            if self.parent[v] >= 0:
                n[self.parent[v]] += n[v]
        return n, n * (n - 1) / 2


def _as_hierarchy(tree) -> Hierarchy:
    if isinstance(tree, Hierarchy):
        return tree
    if hasattr(tree, "splits") and hasattr(tree, "nodes"):
        return Hierarchy.from_tree(tree)
    raise TypeError(f"expected a Hierarchy or an HC-MGAN Tree, got {type(tree).__name__}")


def dendrogram_purity(labels, tree, soft: bool = False) -> float:
    """Dendrogram purity of a :class:`Hierarchy` or an HC-MGAN tree against the true ``labels`` (module doc)."""
    h = _as_hierarchy(tree)
    n, pairs = h.class_counts(labels, soft)
    below = np.zeros_like(pairs)
    np.add.at(below, h.parent[h.parent >= 0], pairs[h.parent >= 0])
    at = np.clip(pairs - below, 0.0, None)   # same-class pairs whose lowest common ancestor is the node
    mass = n.sum(1, keepdims=True)
    share = np.divide(n, mass, out=np.zeros_like(n), where=mass > 0)
    total = pairs[h.root].sum()
    if total <= 0:
        raise ValueError("no two images share a class: dendrogram purity is undefined")
    return float((at * share).sum() / total)


def leaf_purity(labels, tree, soft: bool = False) -> float:
    """Leaf purity: ``sum over leaves of the majority class's mass / N`` (module doc)."""
    h = _as_hierarchy(tree)
    n, _ = h.class_counts(labels, soft)
    return float(n[h.is_leaf].max(1).sum() / n[h.root].sum())


def cut_purity(labels, pred) -> float:
    """Purity of a flat clustering: the image-weighted majority-class share of its clusters."""
    y, p = _labels(labels), _labels(pred, len(_labels(labels)))
    table = np.zeros((p.max() + 1, y.max() + 1))
    np.add.at(table, (p, y), 1.0)
    return float(table.max(1).sum() / len(y))


def cut_scores(labels, pred) -> dict:
    """ACC, NMI and purity of a flat clustering."""
    return {"acc": cluster_acc(labels, pred), "nmi": nmi(labels, pred), "purity": cut_purity(labels, pred)}


def every_cut(labels, cut, ks) -> dict[int, dict]:
    """``{k: cut_scores}`` for every ``k`` in ``ks``, ``cut(k)`` giving the flat labels at ``k`` clusters
    (an HC-MGAN tree's :meth:`~hcmgan_lite.tree.Tree.cut`; Ward's ``ward_cut``)."""
    out = {}
    for k in ks:
        pred = cut(int(k))
        out[int(k)] = cut_scores(labels, pred.numpy() if hasattr(pred, "numpy") else pred)
    return out


def hierarchy_scores(labels, tree) -> dict:
    """Dendrogram and leaf purity, hard and soft (where the tree has memberships)."""
    h = _as_hierarchy(tree)
    out = {"dendrogram_purity": dendrogram_purity(labels, h), "leaf_purity": leaf_purity(labels, h)}
    if h.memberships is not None:
        out["dendrogram_purity_soft"] = dendrogram_purity(labels, h, soft=True)
        out["leaf_purity_soft"] = leaf_purity(labels, h, soft=True)
    return out


def ward_tree(X) -> np.ndarray:
    """Ward's full merge tree of the rows of ``X`` (scikit-learn's ``children_``, O(N^2) memory)."""
    from sklearn.cluster import AgglomerativeClustering
    X = X.detach().cpu().numpy() if hasattr(X, "detach") else np.asarray(X)
    model = AgglomerativeClustering(n_clusters=1, linkage="ward", compute_full_tree=True).fit(X.reshape(len(X), -1))
    return model.children_


def ward_cut(children, n_samples: int):
    """``cut(k)`` for :func:`every_cut`: the flat labels of Ward's tree at ``k`` clusters."""
    return lambda k: Hierarchy.from_merges(children, n_samples, k).leaf_of


def granularity_figure(res: dict, title: str = ""):
    """ACC, NMI and purity against the number of clusters, one line per method: ``res`` as written by
    ``benchmarks/granularity.py`` (``{"ks": [...], "scores": {method: {k: cut_scores}}}``)."""
    import matplotlib.pyplot as plt
    styles = {"HC-MGAN": ("o-", "C0", "HC-MGAN: one tree, cut at k"), "Ward": ("s--", "C1", "Ward: one tree, cut at k"),
              "k-means": ("^:", "C2", "k-means: refitted for each k")}
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharex=True)
    for ax, metric, name in zip(axes, ("acc", "nmi", "purity"), ("ACC", "NMI", "purity of the cut")):
        for method, per_k in res["scores"].items():
            ks = sorted(int(k) for k in per_k)
            style, color, label = styles.get(method, (".-", None, method))
            ax.plot(ks, [per_k[str(k) if str(k) in per_k else k][metric] for k in ks], style, color=color, label=label)
        ax.set_title(name)
        ax.set_xlabel("number of clusters k")
        ax.set_ylim(0, 1)
        ax.grid(alpha=.3)
    axes[0].legend(loc="lower right", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig

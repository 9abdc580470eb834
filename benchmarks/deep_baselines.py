"""A deep-clustering baseline on the same images as a tree: DEC, IDEC or DeepECT from ClustPy.

ClustPy is an optional dependency (``pip install clustpy``); nothing else in the project needs it.
Each seed writes ``OUT/<dataset>-<method>-s<seed>.json`` with ACC, NMI and ARI against the labels,
the time, the device and every parameter, so the results table can show it beside the trees::

    python benchmarks/deep_baselines.py fashion-mnist --per-class 1000 --method idec --seeds 0 1 2 \\
        --out book/results/deep-baselines
    python benchmarks/deep_baselines.py mnist --method idec --seeds 0 1 2 --out book/results/deep-baselines
    python benchmarks/deep_baselines.py fashion-mnist --per-class 1000 --method deepect --seeds 0 \\
        --out book/results/deep-baselines

The images are the ones ``python -m hcmgan_lite fit`` clusters with the same ``--per-class`` /
``--classes`` (the subset is drawn with seed 0, whatever the run's seed), as pixels scaled to [0, 1].
The networks and schedules are ClustPy's defaults (a 784-500-500-2000-10 feed-forward autoencoder,
100 pre-training and 150 clustering epochs, batch 256, Adam), which follow the DEC and IDEC papers.
DeepECT (a hierarchical method, Mautz et al. 2019) runs with ClustPy's defaults too (the same autoencoder
and epochs, a tree grown to 20 leaves); its file also holds the tree (every node's parent and the images'
leaves) at 20 leaves and cut to ``--clusters`` leaves with ClustPy's own ``prune_to_n_leaf_nodes``, so
dendrogram and leaf purity can be computed from it (:mod:`hcmgan_lite.hierarchy`), and ClustPy's own
``dendrogram_purity`` / ``leaf_purity`` of both as a cross-check.
A finished seed is not run again (delete its file to redo it).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hcmgan_lite import runs  # noqa: E402
from hcmgan_lite.hierarchy import Hierarchy, dendrogram_purity, leaf_purity  # noqa: E402
from hcmgan_lite.metrics import evaluate  # noqa: E402
from hcmgan_lite.settings import pick_device  # noqa: E402
from hcmgan_lite.growth import run_environment  # noqa: E402

METHODS = ("dec", "idec", "deepect")
NAMES = {"dec": "DEC", "idec": "IDEC", "deepect": "DeepECT"}


def _clustpy():
    try:
        import clustpy
        from clustpy.deep import DEC, IDEC, DeepECT
    except ImportError:
        raise SystemExit("this baseline needs ClustPy, an optional dependency: pip install clustpy") from None
    return clustpy.__version__, {"dec": DEC, "idec": IDEC, "deepect": DeepECT}


def tree_structure(tree, labels) -> dict:
    """A ClustPy ``BinaryClusterTree`` as plain lists: ``parent`` of every node (-1 at the root, nodes in
    breadth-first order) and ``leaf_of`` every image (a node index), from its leaves' label sets."""
    nodes, parent = [tree.root_node_], [-1]
    i = 0
    while i < len(nodes):
        node = nodes[i]
        if not node.is_leaf_node():
            nodes += [node.left_node_, node.right_node_]
            parent += [i, i]
        i += 1
    leaf_of_label = {int(lab): k for k, node in enumerate(nodes) if node.is_leaf_node() for lab in node.labels}
    return {"parent": parent, "leaf_of": [leaf_of_label[int(lab)] for lab in labels]}


def deepect_trees(model, labels_true, n_clusters: int) -> dict:
    """DeepECT's tree at its own size and cut to ``n_clusters`` leaves, with ClustPy's purities of each."""
    import copy
    from clustpy.metrics.external import dendrogram_purity, leaf_purity
    out = {}
    for name, k in (("full", None), ("cut", n_clusters)):
        tree = copy.deepcopy(model.tree_)
        pred = np.asarray(model.labels_)
        if k is not None and len(tree.get_leaf_and_split_nodes()[0]) > k:
            pred = tree.prune_to_n_leaf_nodes(k, model.labels_)
        st = tree_structure(tree, model.labels_)
        n_leaves = len(tree.get_leaf_and_split_nodes()[0])
        out[name] = {"n_leaves": n_leaves, **st, "scores": evaluate(labels_true, np.asarray(pred))}
        score_tree(out[name], labels_true)
        for metric, f in (("leaf_purity", lambda: leaf_purity(tree, labels_true, model.labels_)),
                          ("dendrogram_purity", lambda: dendrogram_purity(tree, labels_true, pred))):
            try:   # ClustPy's own numbers, kept as a cross-check
                out[name][f"clustpy_{metric}"] = float(f())
            except Exception as exc:  # noqa: BLE001  (recorded, not fatal: the tree itself is kept)
                out[name][f"clustpy_{metric}"] = f"failed: {exc!r}"
    return out


def score_tree(t: dict, labels_true) -> None:
    """Dendrogram and leaf purity of a saved tree (``parent`` / ``leaf_of``), by :mod:`hcmgan_lite.hierarchy`."""
    h = Hierarchy(t["parent"], t["leaf_of"])
    t["dendrogram_purity"] = dendrogram_purity(labels_true, h)
    t["leaf_purity"] = leaf_purity(labels_true, h)


def run_one(X: np.ndarray, labels, n_clusters: int, method: str, seed: int, device: torch.device,
            pretrain_epochs: int, clustering_epochs: int) -> dict:
    version, algos = _clustpy()
    params = dict(pretrain_epochs=pretrain_epochs, clustering_epochs=clustering_epochs)
    if method != "deepect":   # DeepECT grows its tree to its own max_n_leaf_nodes (20) and is cut afterwards
        params["n_clusters"] = n_clusters
    t = time.perf_counter()
    model = algos[method](**params, device=device, random_state=seed).fit(X)
    seconds = time.perf_counter() - t
    out = {"seconds": seconds, "params": {**params, "batch_size": model.batch_size,
                                          "embedding_size": model.embedding_size}, "clustpy": version}
    if method == "deepect":
        out["params"]["max_n_leaf_nodes"] = model.max_n_leaf_nodes
        out["trees"] = deepect_trees(model, np.asarray(labels), n_clusters)
        out["scores"] = out["trees"]["cut"]["scores"]
    else:
        out["scores"] = evaluate(labels, np.asarray(model.labels_))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dataset", help="fashion-mnist or mnist (the offline data)")
    p.add_argument("--per-class", type=int, default=None, help="images per class, as in `fit --per-class`")
    p.add_argument("--classes", nargs="+", default=None, help="class names or indices, as in `fit --classes`")
    p.add_argument("--clusters", type=int, default=None, help="number of clusters (default: number of classes)")
    p.add_argument("--method", choices=METHODS, default="idec")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--pretrain-epochs", type=int, default=100)
    p.add_argument("--clustering-epochs", type=int, default=150)
    p.add_argument("--device", default="auto")
    p.add_argument("--data-root", default=None)
    p.add_argument("--out", required=True, help="folder for the result files")
    p.add_argument("--rescore", action="store_true",
                   help="DeepECT: compute the purities of the trees in finished files again (nothing is trained)")
    a = p.parse_args(argv)
    if a.per_class is not None and a.per_class < 1:
        p.error(f"--per-class must be a positive integer, got {a.per_class}")
    if min(a.pretrain_epochs, a.clustering_epochs) < 1:
        p.error("--pretrain-epochs and --clustering-epochs must be >= 1")
    _clustpy()   # a clear message before any data is read
    device = pick_device(a.device)
    classes = [int(c) if c.isdigit() else c for c in a.classes] if a.classes else None
    data = runs.load_subset(a.dataset, a.data_root, classes, a.per_class, seed=0)
    if data.labels is None:
        p.error("the data set has no labels to score against")
    X = ((data.images.reshape(len(data), -1).float().cpu().numpy() + 1) / 2).astype(np.float32)
    k = a.clusters or data.n_classes
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for seed in a.seeds:
        path = out / f"{a.dataset}-{a.method}-s{seed}.json"
        if a.rescore:
            if path.exists() and a.method == "deepect":
                rep = json.loads(path.read_text())
                for t in rep["trees"].values():
                    score_tree(t, data.labels.cpu().numpy())
                rep["method"] = NAMES[a.method]
                path.write_text(json.dumps(rep, indent=2))
                print(f"{path}: " + ", ".join(f"{k}: dendrogram purity {t['dendrogram_purity']:.3f}, leaf purity "
                                              f"{t['leaf_purity']:.3f}" for k, t in rep["trees"].items()))
            continue
        if path.exists():
            print(f"{path} exists; skipped")
            continue
        res = run_one(X, data.labels.cpu().numpy(), k, a.method, seed, device, a.pretrain_epochs,
                      a.clustering_epochs)
        rep = {"method": NAMES[a.method], "config": {"dataset": a.dataset, "per_class": a.per_class,
                                                     "classes": a.classes, "n_clusters": k, "seed": seed},
               "n_images": len(data), "pixels": "[0, 1]", **res, "device": device.type,
               **run_environment(device)}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(rep, indent=2))
        tmp.replace(path)
        s = rep["scores"]
        print(f"{NAMES[a.method]} seed {seed}: ACC {s['acc']:.3f} NMI {s['nmi']:.3f} in {res['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

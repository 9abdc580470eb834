"""Every granularity from one tree: a grown tree cut at k = 2 .. K leaves, beside Ward's tree cut at each k
and k-means refitted at each k, on the same images (the tree's own), scored against the true classes.

    python benchmarks/granularity.py book/results/trees/fashion-mnist-quick-s0 --out book/results/hierarchy
    python benchmarks/granularity.py book/results/trees/mnist-quick-s0 --out book/results/hierarchy

Writes ``OUT/<run name>.json``: per method and k, ACC, NMI and the purity of the cut
(:func:`hcmgan_lite.hierarchy.cut_scores`), the dendrogram and leaf purity of the HC-MGAN tree and of
Ward's (full tree and its K-cluster cut), and the seconds each method took. The HC-MGAN cuts are
``Tree.cut(k)`` (undo the latest splits first); Ward's are its own merge tree's; k-means is fitted anew
for every k (``n_init=10``, the run's seed). Pixels as in the reports' baselines ([-1, 1]).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hcmgan_lite import runs  # noqa: E402
from hcmgan_lite.growth import run_environment  # noqa: E402
from hcmgan_lite.hierarchy import (Hierarchy, cut_scores, dendrogram_purity, every_cut,  # noqa: E402
                                   hierarchy_scores, leaf_purity, ward_cut, ward_tree)
from hcmgan_lite.progress import progress_bar  # noqa: E402
from hcmgan_lite.settings import pick_device  # noqa: E402


def granularity(tree, X: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict:
    from sklearn.cluster import KMeans
    ks = list(range(2, tree.n_leaves + 1))
    out = {"ks": ks, "scores": {}, "seconds": {}, "hierarchy": {}}
    t = time.perf_counter()
    out["scores"]["HC-MGAN"] = every_cut(labels, tree.cut, ks)
    out["hierarchy"]["HC-MGAN"] = hierarchy_scores(labels, tree)
    out["seconds"]["HC-MGAN cuts"] = time.perf_counter() - t
    t = time.perf_counter()
    merges = ward_tree(X)
    out["scores"]["Ward"] = every_cut(labels, ward_cut(merges, len(X)), ks)
    cut = Hierarchy.from_merges(merges, len(X), tree.n_leaves)
    out["hierarchy"]["Ward"] = {"dendrogram_purity": dendrogram_purity(labels, cut),
                                "leaf_purity": leaf_purity(labels, cut),
                                "dendrogram_purity_full": dendrogram_purity(labels, Hierarchy.from_merges(merges, len(X)))}
    out["seconds"]["Ward (one tree, all cuts)"] = time.perf_counter() - t
    t = time.perf_counter()
    out["scores"]["k-means"] = {}
    for k in progress_bar(ks, desc="k-means at every k"):
        pred = KMeans(k, n_init=10, random_state=seed).fit_predict(X)
        out["scores"]["k-means"][k] = cut_scores(labels, pred)
    out["seconds"]["k-means (refitted at every k)"] = time.perf_counter() - t
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", help="a grown run (a folder with tree.pt and config.json)")
    p.add_argument("--data-root", default=None)
    p.add_argument("--out", required=True, help="folder for the result file")
    a = p.parse_args(argv)
    tree, data = runs.load_run(a.run_dir, a.data_root)
    if data is None or tree.labels is None:
        p.error(f"{a.run_dir}: its images (with labels) are needed; point --data-root at them")
    X = data.images.reshape(len(data), -1).float().cpu().numpy()
    res = granularity(tree, X, tree.labels.numpy(), seed=runs.read_config(a.run_dir).get("seed", 0))
    rep = {"run": str(a.run_dir), "config": runs.read_config(a.run_dir), "n_images": len(data), **res,
           **run_environment(pick_device("cpu"))}
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{Path(a.run_dir).name}.json"
    path.write_text(json.dumps(rep, indent=2))
    for name, h in res["hierarchy"].items():
        print(f"{name}: dendrogram purity {h['dendrogram_purity']:.3f}, leaf purity {h['leaf_purity']:.3f}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

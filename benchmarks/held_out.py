"""A grown tree on images it never saw: its kept classifiers route the held-out images of its data set, scored
beside its own images, with k-means fitted on the tree's images and applied to the held-out ones as the bar.

    python benchmarks/held_out.py book/results/trees/fashion-mnist-quick-s0 \
        --out book/results/held-out/fashion-mnist-quick-s0.json

The run folder's config.json names the data set and the subset the tree was grown on
(``ImageData.subset``); the held-out images are the rest of that data set (``ImageData.unseen``),
exactly. ACC and NMI of the tree cut at its full number of leaves.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hcmgan_lite import Tree, evaluate, load_dataset  # noqa: E402
from hcmgan_lite.runs import read_config  # noqa: E402


def held_out(run: Path, device: str = "cpu", seed: int = 0) -> dict:
    from sklearn.cluster import KMeans
    cfg = read_config(run)
    tree = Tree.load(run)
    full = load_dataset(cfg["dataset"])
    own = full.subset(classes=cfg.get("classes"), per_class=cfg.get("per_class"), seed=0)
    rest = full.unseen(classes=cfg.get("classes"), per_class=cfg.get("per_class"), seed=0)
    assert len(own) == tree.n_images
    t = time.perf_counter()
    leaves = tree.leaves()
    routed_own = tree.route(own, device=device)[leaves].argmax(0)
    routed_rest = tree.route(rest, device=device)[leaves].argmax(0)
    seconds = time.perf_counter() - t
    km = KMeans(tree.n_leaves, n_init=10, random_state=seed).fit(own.images.reshape(len(own), -1).numpy())
    km_own, km_rest = km.labels_, km.predict(rest.images.reshape(len(rest), -1).numpy())
    return {"run": str(run), "dataset": cfg["dataset"], "per_class": cfg.get("per_class"), "classes": cfg.get("classes"),
            "n_leaves": tree.n_leaves, "own_images": len(own), "held_out_images": len(rest),
            "hcmgan": {"own": evaluate(own.labels, tree.cut()), "own_routed": evaluate(own.labels, routed_own),
                       "held_out": evaluate(rest.labels, routed_rest)},
            "kmeans": {"own": evaluate(own.labels, km_own), "held_out": evaluate(rest.labels, km_rest)},
            "routed_own_equals_tree": bool(torch.equal(routed_own, tree.cut())),
            "held_out_cluster_sizes": torch.bincount(routed_rest, minlength=tree.n_leaves).tolist(),
            "route_seconds": round(seconds, 1), "device": device, "torch": torch.__version__,
            "threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="a run folder with tree.pt, classifiers.pt and config.json")
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    res = held_out(Path(args.run), args.device)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2, default=float))
    h, k = res["hcmgan"], res["kmeans"]
    print(f"HC-MGAN: own {h['own']['acc']:.3f} / {h['own']['nmi']:.3f}, held-out {h['held_out']['acc']:.3f} / "
          f"{h['held_out']['nmi']:.3f} (ACC / NMI); k-means: own {k['own']['acc']:.3f}, held-out "
          f"{k['held_out']['acc']:.3f}; written {out}")


if __name__ == "__main__":
    main()

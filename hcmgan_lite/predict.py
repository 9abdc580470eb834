"""Cluster new images with a grown tree's kept classifiers: what ``hcmgan predict`` runs.

Imports: data, metrics, tree, runs (a run dir's configuration and images).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .data import ImageData, load_dataset
from .metrics import evaluate
from .runs import load_subset, read_config
from .tree import Tree


def predict_run(run, data, classes=None, per_class: int | None = None, unseen: bool = False,
                n_clusters: int | None = None, device="auto", root=None, announce=None) -> dict:
    """Cluster images with a saved tree's kept classifiers (:meth:`~hcmgan_lite.tree.Tree.route`).

    ``data``: a data set name, an ImageData, or a ``.npy``/``.pt`` file of images. ``unseen``: only
    the images of that data set the run was not grown on (its ``config.json`` says which subset it used).
    Returns a JSON-ready dict: the labels, the cluster sizes, and ACC/NMI where the images have labels.
    """
    run = Path(run)
    run_dir = run.parent if run.name == "tree.pt" and not run.is_dir() else run
    tree = Tree.load(run_dir)
    images = _images_for(data, run_dir, classes, per_class, unseen, root, announce)
    routed = tree.route(images, device=device)
    leaves = tree.leaves(n_clusters)
    labels = routed[leaves].argmax(0)
    out = {"run_dir": str(run_dir), "n_images": len(labels), "n_clusters": len(leaves), "leaves": leaves,
           "labels": labels.tolist(), "cluster_sizes": torch.bincount(labels, minlength=len(leaves)).tolist()}
    if isinstance(images, ImageData) and images.labels is not None:
        out["scores"] = evaluate(images.labels, labels)
    return out


def _images_for(data, run_dir: Path, classes, per_class, unseen, root, announce):
    from .data import from_tensor
    if isinstance(data, ImageData):
        return data
    path = Path(str(data))
    if path.suffix in (".npy", ".pt") and path.is_file():
        if unseen or classes is not None or per_class is not None:
            raise ValueError("--unseen, --classes and --per-class are for a named data set, not a file of images")
        x = np.load(path) if path.suffix == ".npy" else torch.load(path, map_location="cpu", weights_only=True)
        return from_tensor(x)
    if path.suffix in (".npy", ".pt"):
        raise FileNotFoundError(f"no file of images at {path}")
    if not unseen:
        return load_subset(str(data), root, classes, per_class, announce=announce)
    cfg = read_config(run_dir) if (run_dir / "config.json").is_file() else None
    if cfg is None:
        raise ValueError(f"--unseen needs {run_dir / 'config.json'} (written by fit) to know which images the run used")
    if str(data).lower() != str(cfg["dataset"]).lower() or classes is not None or per_class is not None:
        raise ValueError(f"--unseen takes the images of the run's own data set ({cfg['dataset']}) that it was not "
                         "grown on; give its name, without --classes and --per-class")
    full = load_dataset(cfg["dataset"], root)
    rest = full.unseen(classes=cfg.get("classes"), per_class=cfg.get("per_class"), seed=0)
    if announce is not None:
        announce(f"data: the {len(rest):,} images of {full.name} the run was not grown on")
    return rest

"""A deep-clustering baseline on the same images as a tree: DEC or IDEC from ClustPy.

ClustPy is an optional dependency (``pip install clustpy``); nothing else in the project needs it.
Each seed writes ``OUT/<dataset>-<method>-s<seed>.json`` with ACC, NMI and ARI against the labels,
the time, the device and every parameter, so the results table can show it beside the trees::

    python benchmarks/deep_baselines.py fashion-mnist --per-class 1000 --method idec --seeds 0 1 2 \\
        --out book/results/deep-baselines
    python benchmarks/deep_baselines.py mnist --method idec --seeds 0 1 2 --out book/results/deep-baselines

The images are the ones ``python -m hcmgan_lite fit`` clusters with the same ``--per-class`` /
``--classes`` (the subset is drawn with seed 0, whatever the run's seed), as pixels scaled to [0, 1].
The networks and schedules are ClustPy's defaults (a 784-500-500-2000-10 feed-forward autoencoder,
100 pre-training and 150 clustering epochs, batch 256, Adam), which follow the DEC and IDEC papers.
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
from hcmgan_lite.metrics import evaluate  # noqa: E402
from hcmgan_lite.settings import pick_device  # noqa: E402
from hcmgan_lite.growth import run_environment  # noqa: E402

METHODS = ("dec", "idec")


def _clustpy():
    try:
        import clustpy
        from clustpy.deep import DEC, IDEC
    except ImportError:
        raise SystemExit("this baseline needs ClustPy, an optional dependency: pip install clustpy") from None
    return clustpy.__version__, {"dec": DEC, "idec": IDEC}


def run_one(X: np.ndarray, labels, n_clusters: int, method: str, seed: int, device: torch.device,
            pretrain_epochs: int, clustering_epochs: int) -> dict:
    version, algos = _clustpy()
    params = dict(n_clusters=n_clusters, pretrain_epochs=pretrain_epochs, clustering_epochs=clustering_epochs)
    t = time.perf_counter()
    model = algos[method](**params, device=device, random_state=seed).fit(X)
    seconds = time.perf_counter() - t
    return {"scores": evaluate(labels, np.asarray(model.labels_)), "seconds": seconds,
            "params": {**params, "batch_size": model.batch_size, "embedding_size": model.embedding_size},
            "clustpy": version}


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
        if path.exists():
            print(f"{path} exists; skipped")
            continue
        res = run_one(X, data.labels.cpu().numpy(), k, a.method, seed, device, a.pretrain_epochs,
                      a.clustering_epochs)
        rep = {"method": a.method.upper(), "config": {"dataset": a.dataset, "per_class": a.per_class,
                                                     "classes": a.classes, "n_clusters": k, "seed": seed},
               "n_images": len(data), "pixels": "[0, 1]", **res, "device": device.type,
               **run_environment(device)}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(rep, indent=2))
        tmp.replace(path)
        s = rep["scores"]
        print(f"{a.method.upper()} seed {seed}: ACC {s['acc']:.3f} NMI {s['nmi']:.3f} in {res['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

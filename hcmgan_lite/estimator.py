"""A scikit-learn style estimator for clustering your own images.

Imports: data, settings, growth, tree.
"""
from __future__ import annotations

import numbers

import torch

from .data import ImageData, check_images, from_tensor
from .settings import PROFILES, get_settings, pick_device
from .growth import grow_tree
from .tree import Tree


class HCMGAN:
    """Top-down hierarchical clustering of images with multi-generator GANs.

    Parameters
    ----------
    n_clusters : int
        Leaves to grow (at least 2).
    profile : {"quick", "paper", "gpu", "demo"}
        ``quick`` runs on a CPU (tens of minutes for 10 leaves on 10,000
        images); ``paper`` uses the supplement's Table 3 settings (a GPU
        job, hours); ``gpu`` the paper's networks with a fixed, shorter
        schedule (one GPU, minutes); ``demo`` a minute per split on a CPU
        (shows the mechanics, not the method's quality).
    dataset : str, optional
        Which column of Table 3 the ``paper`` profile takes ("mnist",
        "fashion-mnist", "sop"); custom data uses the Fashion-MNIST column.
    device : "auto", "cpu", "cuda", ...
        ``auto`` takes CUDA when available.
    seed : int
    run_dir : path, optional
        Checkpoints go here after every raw split and refinement; fitting
        again with the same ``run_dir`` resumes.  A run dir that holds a tree
        with more leaves than ``n_clusters`` is not grown further: ``fit``
        cuts that tree at ``n_clusters`` (``labels_`` and ``memberships_``
        have ``n_clusters`` clusters; ``tree_`` keeps every leaf).
    progress : bool
        Show progress bars.
    executor : {"inline", "processes", "ray"}
        Train one split at a time in this process (default), several at once
        in local worker processes, or as Ray tasks; the tree is the same.
    workers : int, optional
        Splits trained at once by ``processes`` or ``ray`` (default: the CPU
        cores, or two per GPU when training on CUDA; workers beyond the
        number of GPUs share them).
    **settings
        Any field of :class:`~hcmgan_lite.settings.Settings` (e.g.
        ``refinements=4``, ``g_width=64``).

    Attributes
    ----------
    labels_ : torch.Tensor (N,)
        Hard cluster labels (leaf with the highest membership).
    tree_ : Tree
        The grown tree (cut it with ``tree_.predict(n)``).
    memberships_ : torch.Tensor (n_clusters, N)
        Soft memberships of the leaves.
    """

    def __init__(self, n_clusters: int = 10, profile: str = "quick", dataset: str | None = None,
                 device="auto", seed: int = 0, run_dir=None, progress: bool = True, executor: str = "inline",
                 workers: int | None = None, **settings):
        if isinstance(n_clusters, bool) or not isinstance(n_clusters, numbers.Integral) or n_clusters < 2:
            raise ValueError(f"n_clusters must be an integer >= 2, got {n_clusters!r}")
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
        self.n_clusters, self.profile, self.dataset = int(n_clusters), profile, dataset
        self.device, self.seed, self.run_dir, self.progress = device, seed, run_dir, progress
        self.settings = settings
        self.executor, self.workers = executor, workers
        # fail now, not after loading data: unknown names, bad values, unavailable device
        self.settings_ = get_settings(profile, dataset, seed=seed, **settings)
        pick_device(device)

    def fit(self, X, y=None) -> "HCMGAN":
        """Grow the tree on images ``X`` (ImageData, tensor or array; N x C x H x W or N x H x W).

        The images (size, channels, NaN/inf, value range), the labels' length
        and the number of images are checked before any training starts.
        """
        if isinstance(X, ImageData):
            check_images(X.images)
            data = X
            if y is not None:
                if len(y) != len(X):
                    raise ValueError(f"labels have length {len(y)} but there are {len(X)} images; "
                                     "need one label per image")
                data = from_tensor(X.images, labels=y, name=X.name, value_range=(-1, 1))
        else:
            data = from_tensor(X, labels=y)
        if len(data) < self.n_clusters:
            raise ValueError(f"n_clusters={self.n_clusters} but only {len(data)} images were given")
        self.tree_: Tree = grow_tree(data, self.n_clusters, self.settings_, self.device, self.run_dir,
                                     progress=self.progress, executor=self.executor, workers=self.workers)
        self.memberships_ = self.tree_.memberships(self.n_clusters)
        self.labels_ = self.tree_.predict(self.n_clusters)
        return self

    def fit_predict(self, X, y=None) -> torch.Tensor:
        return self.fit(X, y).labels_

    def predict_at(self, n_clusters: int) -> torch.Tensor:
        """Hard labels of the fitted tree cut at ``n_clusters`` leaves."""
        return self.tree_.predict(n_clusters)

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.settings.items())
        return f"HCMGAN(n_clusters={self.n_clusters}, profile={self.profile!r}, seed={self.seed}{extra})"

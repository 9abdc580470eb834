"""A scikit-learn estimator for clustering your own images (``BaseEstimator`` + ``ClusterMixin``).

Imports: data, settings, growth, tree (scikit-learn's base classes where it is installed).
"""
from __future__ import annotations

import numbers

import numpy as np

from .data import ImageData, check_images, from_tensor
from .growth import grow_tree
from .settings import PROFILES, get_settings, pick_device
from .tree import Tree

try:   # scikit-learn's get_params/set_params/clone, when it is there (it is a dependency of the book)
    from sklearn.base import BaseEstimator, ClusterMixin
except ImportError:  # pragma: no cover - the estimator works without scikit-learn, without clone
    BaseEstimator = ClusterMixin = object


class HCMGAN(ClusterMixin, BaseEstimator):
    """Top-down hierarchical clustering of images with multi-generator GANs.

    Parameters
    ----------
    n_clusters : int
        Leaves to grow (at least 2).
    profile : {"quick", "paper", "gpu", "demo", "tiny"}
        ``quick`` runs on a CPU (tens of minutes for 10 leaves on 10,000
        images); ``paper`` uses the supplement's Table 3 settings (a GPU
        job, hours); ``gpu`` the paper's networks with a fixed, shorter
        schedule (one GPU, minutes); ``demo`` a minute per split on a CPU
        (shows the mechanics, not the method's quality); ``tiny`` seconds.
    settings : dict, optional
        Any fields of :class:`~hcmgan_lite.settings.Settings` (e.g.
        ``{"refinements": 4, "g_width": 64}``). For convenience they may also
        be given as keyword arguments (``HCMGAN(10, refinements=4)``); they end
        up in ``settings``, which is what ``get_params`` and ``clone`` see.
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
        cuts that tree at ``n_clusters``.
    progress : bool
        Show progress bars.
    executor : {"inline", "processes", "ray"}
        Train one split at a time in this process (default), several at once
        in local worker processes, or as Ray tasks; the tree is the same.
    workers : int, optional
        Splits trained at once by ``processes`` or ``ray``.

    Every parameter is checked in :meth:`fit` (before any training), as scikit-learn asks.

    Attributes
    ----------
    labels_ : numpy.ndarray (N,)
        Hard cluster labels of the training images (leaf with the highest membership).
    memberships_ : numpy.ndarray (n_clusters, N)
        Soft memberships of the leaves.
    tree_ : Tree
        The grown tree (``tree_.cut(n)``: its images at ``n`` clusters; ``tree_.route(X)``: new images).
    settings_ : Settings
        The settings the tree was grown with.
    """

    def __init__(self, n_clusters: int = 10, profile: str = "quick", settings: dict | None = None,
                 dataset: str | None = None, device="auto", seed: int = 0, run_dir=None, progress: bool = True,
                 executor: str = "inline", workers: int | None = None, **more_settings):
        self.n_clusters, self.profile, self.dataset = n_clusters, profile, dataset
        self.device, self.seed, self.run_dir, self.progress = device, seed, run_dir, progress
        self.settings = settings if not more_settings else {**(settings or {}), **more_settings}
        self.executor, self.workers = executor, workers

    def _checked_settings(self):
        n = self.n_clusters
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 2:
            raise ValueError(f"n_clusters must be an integer >= 2, got {n!r}")
        if self.profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}; choose one of {', '.join(PROFILES)}")
        if self.settings is not None and not isinstance(self.settings, dict):
            raise TypeError(f"settings must be a dict of Settings fields, got {type(self.settings).__name__}")
        s = get_settings(self.profile, self.dataset, seed=self.seed, **(self.settings or {}))
        return s, pick_device(self.device)

    def fit(self, X, y=None) -> "HCMGAN":
        """Grow the tree on images ``X`` (ImageData, tensor or array; N x C x H x W or N x H x W).

        The parameters, the images (size, channels, NaN/inf, value range), the labels' length
        and the number of images are checked before any training starts.
        """
        self.settings_, device = self._checked_settings()
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
        self.tree_: Tree = grow_tree(data, int(self.n_clusters), self.settings_, device, self.run_dir,
                                     progress=self.progress, executor=self.executor, workers=self.workers)
        self.memberships_ = self.tree_.memberships(self.n_clusters).numpy()
        self.labels_ = self.tree_.cut(self.n_clusters).numpy()
        return self

    def fit_predict(self, X, y=None, **kwargs) -> np.ndarray:
        return self.fit(X, y).labels_

    def predict(self, X) -> np.ndarray:
        """Cluster new images: each to the leaf (of the ``n_clusters`` cut) whose routed membership is highest.

        The images go down the tree through the classifiers every split kept (:meth:`Tree.route`);
        on the training images this gives ``labels_``.
        """
        return self.predict_memberships(X).argmax(0)

    def predict_memberships(self, X) -> np.ndarray:
        """(n_clusters, N) soft memberships of new images in the leaves of the ``n_clusters`` cut."""
        self._fitted()
        routed = self.tree_.route(X, device=self.device)
        return routed[self.tree_.leaves(int(self.n_clusters))].numpy()

    def predict_at(self, n_clusters: int) -> np.ndarray:
        """Hard labels of the training images with the fitted tree cut at ``n_clusters`` leaves."""
        self._fitted()
        return self.tree_.cut(n_clusters).numpy()

    def _fitted(self) -> None:
        if not hasattr(self, "tree_"):
            try:
                from sklearn.exceptions import NotFittedError
            except ImportError:  # pragma: no cover
                NotFittedError = RuntimeError   # noqa: N806
            raise NotFittedError("this HCMGAN is not fitted yet; call fit first")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True     # GAN training: the same seed repeats only on the same device and threads
        tags.input_tags.two_d_array = False   # images (N, C, H, W), not a feature table
        tags.input_tags.three_d_array = True
        return tags

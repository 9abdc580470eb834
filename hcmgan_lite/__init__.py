"""HC-MGAN Lite: top-down hierarchical clustering of images with multi-generator GANs.

A compact implementation of HC-MGAN (de Mello, Assuncao & Murai, AAAI 2022)
that runs on CPU and GPU alike.  The public API, in one place (``__all__``):

* data: ``ImageData``, ``from_tensor``, ``load_dataset``, ``load_mnist``, ``load_fashion_mnist``, ``load_sop``,
  ``find_data_root``
* settings: ``Settings``, ``get_settings`` (profiles), ``paper_text``, ``PAPER_TEXT``, ``pick_device``
* the method: ``raw_split`` (Algorithm 2), ``refine`` (Algorithms 3-4), ``SplitGAN``, ``CollapseError``,
  ``split_entropy``, ``grow_tree``, ``Tree``, ``Node``, ``RunDirInUse``, ``HCMGAN`` (scikit-learn style)
* metrics: ``evaluate``, ``cluster_acc``, ``nmi``, ``ari``, ``mean_per_class_acc``, ``majority_side_purity``,
  ``class_mass_table``
* the tree as a tree: ``dendrogram_purity``, ``leaf_purity``, ``hierarchy_scores``, ``Hierarchy`` (any tree of
  clusters: HC-MGAN's, Ward's merge list, DeepECT's)
* modules: ``figures``, ``runs`` (fit, report, reopen run dirs: what the command line runs), ``results``
  (reports and split results of any run: load, flatten, summarise over seeds, table, compare), ``tables`` (the
  book's catalogue of committed runs and the tables built from it), ``explore`` (ipywidgets, imported on use)

Layering (each module imports only those above it): storage, settings, progress, schedule, metrics, hierarchy, data ->
models -> training -> networks, split -> tree -> parallel -> growth -> estimator, figures -> runs,
results -> predict, tables;
explorer and the command line (``__main__``) on top.
"""
from .data import ImageData, find_data_root, from_tensor, load_dataset, load_fashion_mnist, load_mnist, load_sop
from .growth import RunDirInUse, grow_tree
from .hierarchy import Hierarchy, dendrogram_purity, hierarchy_scores, leaf_purity
from .metrics import ari, class_mass_table, cluster_acc, evaluate, majority_side_purity, mean_per_class_acc, nmi
from .settings import PAPER_TEXT, Settings, get_settings, paper_text, pick_device
from .split import split_entropy
from .training import CollapseError, SplitGAN, raw_split, refine
from .tree import Node, Tree

__version__ = "0.1.0"

__all__ = [
    "ImageData", "find_data_root", "from_tensor", "load_dataset", "load_fashion_mnist", "load_mnist", "load_sop",
    "PAPER_TEXT", "Settings", "get_settings", "paper_text", "pick_device",
    "CollapseError", "SplitGAN", "raw_split", "refine", "split_entropy", "grow_tree", "Tree", "Node",
    "RunDirInUse", "HCMGAN",
    "ari", "class_mass_table", "cluster_acc", "evaluate", "majority_side_purity", "mean_per_class_acc", "nmi",
    "Hierarchy", "dendrogram_purity", "hierarchy_scores", "leaf_purity",
    "figures", "runs", "results", "tables", "explore",
]


def __getattr__(name):
    # imported when first asked for: the explorer needs ipywidgets (a notebook stack), figures and the layers
    # above them matplotlib and scikit-learn; training (and a worker process) needs none of them
    import importlib
    if name == "explore":
        return importlib.import_module(".explorer", __name__).explore
    if name == "HCMGAN":   # scikit-learn's base classes: imported when the estimator is first asked for
        return importlib.import_module(".estimator", __name__).HCMGAN
    if name in ("figures", "runs", "results", "tables"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'hcmgan_lite' has no attribute {name!r}")

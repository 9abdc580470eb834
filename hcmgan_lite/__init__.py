"""HC-MGAN Lite: top-down hierarchical clustering of images with multi-generator GANs.

A compact implementation of HC-MGAN (de Mello, Assuncao & Murai, AAAI 2022)
that runs on CPU and GPU alike.
"""
from .data import ImageData, find_data_root, from_tensor, load_dataset, load_fashion_mnist, load_mnist, load_sop
from . import experiments
from .estimator import HCMGAN
from .metrics import ari, class_mass_table, cluster_acc, evaluate, majority_side_purity, mean_per_class_acc, nmi
from .settings import PAPER_TEXT, Settings, get_settings, paper_text, pick_device
from .training import CollapseError, SplitGAN, raw_split, refine
from .tree import Node, RunDirInUse, Tree, grow_tree, split_entropy

__version__ = "0.1.0"


def __getattr__(name):
    # the explorer needs ipywidgets (a notebook stack); import it only when asked for,
    # so training and the command line run where only torch and friends are installed
    if name == "explore":
        from .explorer import explore
        return explore
    raise AttributeError(f"module 'hcmgan_lite' has no attribute {name!r}")

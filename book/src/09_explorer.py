# %% [markdown]
# # Exploring a tree
#
# A grown HC-MGAN tree holds much more than its final clusters. Every node $k$
# keeps its membership vector $s_k$, a grid of real images drawn from
# $\mathcal{P}_{s_k}$, and the images that its parent's generator produced for
# it; every split node also keeps its membership after the raw split and after
# each refinement, with the samples of its two generators at each stage.
# People understand a hierarchy by walking it, so this chapter builds an
# *explorer*: pick a node, see what it holds; pick a number of clusters, see
# the partition that cutting the tree there gives.
#
# The explorer is `hcmgan_lite.explorer.explore`. It draws every view in
# advance, so the widget below works in this rendered page with no Python
# running behind it.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("HCMGAN_PROFILE", "demo")    # for the small tree grown when no tree is found
DEVICE = os.environ.get("HCMGAN_DEVICE", "auto")      # or "cpu", "cuda"
RUN_DIR = os.environ.get("HCMGAN_EXPLORER_TREE", "results/trees/fashion-mnist-quick-s0")  # a saved tree, or ""
RUNS = os.environ.get("HCMGAN_RUNS", "runs/book")     # the chapters' runs

# %% [markdown]
# ## A tree to explore
#
# The explorer needs a grown tree, not a training run: a tree saved to disk is
# enough. This chapter opens the 10-leaf tree of 10,000 Fashion-MNIST images
# (1,000 per class) that the chapter "Growing the tree" showed: grown with the
# quick profile by the command line, its run folder committed in
# `book/results/trees/fashion-mnist-quick-s0`. The environment variable
# `HCMGAN_EXPLORER_TREE` (the `RUN_DIR` parameter above) names another run
# folder or `tree.pt` file, a tree grown on a GPU, say. Set to `""`, the chapter
# looks for the newest Fashion-MNIST tree under `runs/book` (the `RUNS`
# parameter), and grows a small one if there is none: 300 Fashion-MNIST images
# of each of four classes (trouser, bag, sneaker, T-shirt/top), 4 leaves, the
# `demo` profile with one refinement per split.
#
# `runs.load_run` reads a saved tree and, when the run folder's
# `config.json` says which images it was grown on (as every run of
# `runs.fit` does), those images too: with them the explorer can also
# tint each split node's images by how the split shares them.

# %%
import matplotlib.pyplot as plt
from hcmgan_lite import cluster_acc, nmi, runs
from hcmgan_lite.explorer import explore
from hcmgan_lite.figures import tree_figure

saved = RUN_DIR or runs.latest_run(RUNS, "fmnist-*")
if saved is None:   # no tree yet: grow a small one
    saved = f"{RUNS}/explorer-small"
    runs.fit("fashion-mnist", saved, 4, PROFILE, device=DEVICE, per_class=300, progress=False,
                    classes=["Trouser", "Bag", "Sneaker", "T-shirt/top"], refinements=1)
tree, images = runs.load_run(saved)
print(f"{tree} from {saved}", "with its images" if images is not None else "(its images were not found)")
if tree.labels is not None:
    pred = tree.predict()
    print(f"all {tree.n_leaves} leaves: ACC {cluster_acc(tree.labels, pred):.3f}, NMI {nmi(tree.labels, pred):.3f}")

# %% [markdown]
# ## The whole tree at a glance
#
# First a static picture of the tree, drawn like the paper's Figures 1 and 5
# but on its side, so that it fits the page: the root on the left, one row per
# leaf on the right. Each leaf shows real images drawn in proportion to its
# membership $s_k$, and beside them a bar per class: the percentage of that
# class's total mass the leaf holds, $100 \cdot \sum_i s_{k,i}\,\mathbf{1}(c_i = A)
# / \sum_i \mathbf{1}(c_i = A)$. Each split node shows the same bars, smaller. A
# class whose bar reaches 100 in one child and 0 in the other was split cleanly.
# Node numbers follow the order of growth, and the mass of a node is its share
# of the images, $\sum_i s_{k,i}$. The explorer below shows any node's images.

# %%
fig = tree_figure(tree)
plt.show()

# %% [markdown]
# ## The explorer
#
# The widget has two parts.
#
# * **Pick a node.** The list is the tree's outline: a node's two children
#   follow it, one step further right, after `├─` and `└─`; each line gives
#   the node's number, whether it is a leaf or which split it was (`split #2`
#   is the second split made), and its mass. The view below the list shows, for
#   the node picked:
#   its place in the tree (depth, parent, children, and for which numbers of
#   clusters it is one of the clusters); real images drawn from
#   $\mathcal{P}_{s_k}$ (green frame) next to images of the generator that its
#   parent's split trained for it (red frame); its class-mass bars. For a split
#   node, three more things: the samples of its two generators at the last stage
#   (and, when the images are at hand, the node's own images tinted by how the
#   split shares them: blue for the first child $s_l$, red for the second
#   $s_m$, as in the paper's Figure 3); the class-mass bars of the two children
#   after the raw split and after each refinement, like the paper's Figure 2,
#   with the split's ACC at each stage (images assigned to the child that
#   holds more of their mass; only the images with $s_k > 0.5$ count); and a
#   table of the trainings, with how much mass each refinement would move and,
#   when the tree was grown with `refine_guard`, whether it was kept (a
#   refinement that leaves the split less decisive is dropped, and the bars of
#   that stage repeat the previous ones).
# * **Cut the tree.** The slider sets the number of clusters, from 1 to the
#   number of leaves grown. Cutting at $n$ clusters undoes the latest splits
#   first, so the leaves are those of the tree after its first $n - 1$ splits.
#   The view lists each cluster's leaf, its size when every image goes to the
#   leaf holding most of its mass, its mass, and the classes it mostly holds,
#   with ACC and NMI of that clustering and the class-mass bars of its
#   clusters.

# * **Held-out images.** Every split kept its classifier, so the tree also
#   sends images it never saw down to its nodes (`tree.route`). Given such
#   images (`held_out=`), each node's view ends with those it receives: drawn
#   by their routed membership, with their mass and how many of them it holds
#   more than any other node of its depth. Below: 200 images of each class that
#   the tree was not grown on.

# %%
from pathlib import Path
from hcmgan_lite import load_dataset
folder = Path(saved).parent if Path(saved).is_file() else Path(saved)
cfg = runs.read_config(folder) if (folder / "config.json").is_file() else None
held = None
if cfg and tree.has_classifiers:   # the rest of its data set, 200 images per class
    rest = load_dataset(cfg["dataset"]).unseen(classes=cfg.get("classes"), per_class=cfg.get("per_class"))
    held = rest.subset(per_class=200)
explore(tree, images=images, held_out=held)

# %% [markdown]
# Both pickers are linked to their views with `ipywidgets.jslink`,
# which runs in the browser. In a live notebook it works the same way, and
# `explore` returns an ordinary widget whose parts can be used in code:
# `node_picker`, `node_stack`, `cut_slider`, `cut_stack`, and `summary` (the
# numbers shown, also available without drawing from
# `hcmgan_lite.explorer.explorer_summary(tree)`).
#
# ## Exploring a tree saved earlier
#
# Growing a tree with a `run_dir` writes `tree.pt` in that folder after every
# raw split and every refinement. `Tree.load` reads it back, from the folder or
# from the file, with everything the explorer shows: memberships, samples,
# stage-by-stage histories and training logs. Exploring a tree grown last week
# on a GPU therefore takes no training at all:
#
# ```python
# from hcmgan_lite import Tree, runs
# from hcmgan_lite.explorer import explore
#
# tree = Tree.load("runs/book/explorer-small")   # a run folder, or the file .../tree.pt in it
# explore(tree)                                  # or simply explore("runs/book/explorer-small")
#
# tree, images = runs.load_run("runs/book/explorer-small")   # the tree and the images it was grown on
# explore(tree, images=images)
# ```
#
# To build this chapter on a tree of your own, set `HCMGAN_EXPLORER_TREE` to
# its run folder before building the book. Here is the round trip for the tree
# above:

# %%
from hcmgan_lite import Tree
reloaded = Tree.load(saved)
print(reloaded, "| same splits:", reloaded.splits == tree.splits,
      "| same leaves:", reloaded.leaves() == tree.leaves())

# %% [markdown]
# # Data and membership vectors
#
# HC-MGAN never assigns an image to a cluster outright. Every node $k$ of the
# tree holds a **membership vector** $\mathbf{s}_k \in [0, 1]^N$, one weight per
# image, read as the probability that image $i$ belongs to cluster $k$. The root
# is $\mathbf{s}_0 = \mathbf{1}$, and a split divides a node's mass between two
# children, $\mathbf{s}_l + \mathbf{s}_m = \mathbf{s}_k$. This chapter loads the
# data, builds a membership vector by hand, draws batches from it the way every
# GAN of the method does, and measures what a node contains with the paper's
# class-mass table.

# %% tags=["parameters"]
# Parameters: every chapter starts here; environment variables override them.
import os
PROFILE = os.environ.get("HCMGAN_PROFILE", "demo")    # "demo" (CPU, a minute), "quick", "gpu" or "paper"
DEVICE = os.environ.get("HCMGAN_DEVICE", "auto")      # "auto": CUDA when available, else CPU
SEED = int(os.environ.get("HCMGAN_SEED", "0"))

# %%
import torch
import matplotlib.pyplot as plt
import hcmgan_lite as hc
from hcmgan_lite import figures

device = hc.pick_device(DEVICE)
torch.manual_seed(SEED)
print("device:", device)

# %% [markdown]
# ## Loading images
#
# `hcmgan_lite` reads MNIST and Fashion-MNIST from the original IDX files,
# Stanford Online Products from its folder layout, and any tensor of images with
# `from_tensor`. The data folder is the `root=` argument, else the `HCMGAN_DATA`
# environment variable, else `data/` in the repository (`hc.find_data_root()`),
# whatever folder the kernel runs in. `hcmgan data fetch` puts the files there:
# it downloads them with torchvision when online (as `download=True` does), or
# copies them from a folder with `--from FOLDER`.
# As in the paper, the train and test splits are merged: clustering uses all
# images. Every loader returns an `ImageData`: one float tensor in $[-1, 1]$ of
# shape $N \times C \times H \times W$ (the range of the generators' `tanh`), with
# labels and class names travelling alongside. Labels are never used for
# training, only for measuring.

# %%
fmnist = hc.load_fashion_mnist()
print(fmnist, "from", fmnist.source)
print("images per class:", torch.bincount(fmnist.labels).tolist())
print("value range:", float(fmnist.images.min()), "to", float(fmnist.images.max()))

# %% [markdown]
# The book's quick runs use subsets: `subset(classes=..., per_class=...)` keeps
# some classes and a fixed number of images of each (a seeded random choice).

# %%
small = fmnist.subset(per_class=1000, seed=SEED)
print(small)
fig = figures.image_grid(figures.sample_by_membership(small.images, torch.ones(len(small)), n=50, seed=SEED),
                         nrow=10, title="50 images drawn uniformly from the 10,000-image subset")
plt.show()

# %% [markdown]
# ## Membership vectors and $\mathcal{P}_{\mathbf{s}_k}$
#
# Each GAN in the tree draws its real images from $\mathcal{P}_{\mathbf{s}_k}$:
# image $i$ is picked with probability $s_{k,i} / \sum_j s_{k,j}$. A node with
# little mass on an image rarely sees it. The library keeps the images on the
# training device and draws indices with `torch.multinomial` over the membership,
# so no data loader or host copy sits in the training step.
#
# To see the mechanism, build a membership vector by hand: all the mass of the
# footwear classes (sandal, sneaker, ankle boot), a quarter of the mass of the
# bags, nothing else.

# %%
names = small.class_names
weight_per_class = torch.zeros(small.n_classes)
for name, w in {"Sandal": 1.0, "Sneaker": 1.0, "Ankle boot": 1.0, "Bag": 0.25}.items():
    weight_per_class[names.index(name)] = w
s_k = weight_per_class[small.labels]          # one weight per image
print(f"total mass of s_k: {s_k.sum():.0f} images' worth")

idx = torch.multinomial(s_k, 4000, replacement=True)   # what a GAN's real batches look like
drawn = torch.bincount(small.labels[idx], minlength=small.n_classes).float()
expected = weight_per_class * 1000 / s_k.sum() * 4000
for n, d, e in zip(names, drawn.tolist(), expected.tolist()):
    if e > 0:
        print(f"{n:12s} drawn {d:5.0f}   expected {e:7.1f}")

# %%
fig = figures.image_grid(figures.sample_by_membership(small.images, s_k, n=25, seed=SEED), nrow=5,
                         title=r"25 images drawn from $P_{s_k}$", border="green")
plt.show()

# %% [markdown]
# ## Class-mass tables
#
# To see what a node holds, the paper (Figure 5) shows, for each class $A$, the
# percentage of the class's global mass that lies in the node:
#
# $$\text{mass}_k(A) = 100 \cdot \frac{\sum_i s_{k,i}\, \mathbf{1}(c_i = A)}{\sum_i \mathbf{1}(c_i = A)}.$$
#
# For a split, the two children's percentages add up to the parent's for every
# class. Here is a hand-made split of our node: the sneakers go right, the rest
# left.

# %%
s_m = s_k * (small.labels == names.index("Sneaker")).float()
s_l = s_k - s_m
table = hc.class_mass_table(torch.stack([s_k, s_l, s_m]), small.labels)
print("class".ljust(12), "s_k".rjust(6), "s_l".rjust(6), "s_m".rjust(6))
for a, n in enumerate(names):
    print(n.ljust(12), *(f"{v:6.1f}" for v in table[:, a]))
fig = figures.class_mass_bars(torch.stack([s_k, s_l, s_m]), small.labels, names, node_names=["s_k", "s_l", "s_m"])
plt.show()

# %% [markdown]
# ## What we saw

# %%
from IPython.display import Markdown
Markdown(f"""
* Fashion-MNIST loaded with {len(fmnist):,} images ({len(fmnist) // fmnist.n_classes:,} per class), values in [-1, 1];
  the subset used in later chapters has {len(small):,} images.
* Drawing 4,000 indices from a hand-made $s_k$ reproduced its class proportions: sneakers {drawn[names.index('Sneaker')]:.0f} drawn
  for {expected[names.index('Sneaker')]:.0f} expected, bags {drawn[names.index('Bag')]:.0f} for {expected[names.index('Bag')]:.0f}, and
  no image of a class with zero weight.
* The class-mass table of a split adds up: for the bags, {table[1, names.index('Bag')]:.1f}% (left) +
  {table[2, names.index('Bag')]:.1f}% (right) = {table[0, names.index('Bag')]:.1f}% of all bags in the parent.
""")

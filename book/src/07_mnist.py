# %% [markdown]
# # Benchmark: MNIST
#
# The protocol is the one of the Fashion-MNIST chapter: no labels during
# training, a tree grown to 10 leaves, hard labels by highest membership, ACC
# (Hungarian matching) and NMI. **The paper's MNIST row is on all 70,000
# images**, with its Table 3 settings for MNIST (6 refinements per split,
# initial noise variance 1.0; 120 epochs per GAN in Table 3, 100 in the
# authors' code, which the `paper` profile follows).
#
# Offline, the data folder holds the first 10,000 training images of MNIST
# (`mnist-10k`); `hc.load_mnist()` prefers that folder when it exists, and the
# command line says which images it loaded (`data: 10,000 images of MNIST (the
# first 10,000 of its 70,000 ...)`). With internet, and without that folder,
# `hc.load_mnist(download=True)` fetches all 70,000 through torchvision. Every
# number in this chapter is on those 10,000 images, not the paper's 70,000.
#
# As in the Fashion-MNIST chapter, the 10-leaf tree was grown outside the
# build with the command line (quick profile, seed 0, one thread, about 20
# minutes on two CPU cores) and its run folder committed in
# `book/results/trees/`; its report holds k-means and Ward on the same images:
#
# ```bash
# bash scripts/seeds.sh book/results/quick-cpu mnist "" 0
# cp -r runs/seeds/quick-cpu/mnist-s0 book/results/trees/mnist-quick-s0
# ```
#
# Set `HCMGAN_TREE_MNIST` to a run folder of your own to see it here instead.

# %% tags=["parameters"]
import os
TREE = os.environ.get("HCMGAN_TREE_MNIST", "results/trees/mnist-quick-s0")

# %%
from pathlib import Path
from IPython.display import Markdown
import matplotlib.pyplot as plt
from hcmgan_lite import Tree, figures, results, runs, tables
from hcmgan_lite.settings import steps_per_gan

tree = Tree.load(TREE)
rep = results.load(TREE)[0]   # its report.json (`hcmgan report RUN --baselines`)
SEED = rep["config"].get("seed", 0)
print(f"{tree}: {rep['config'].get('profile')} profile, seed {SEED}, {rep['seconds'] / 60:.1f} min of training on "
      f"{rep.get('device_name') or rep['device']} (torch {rep['torch']})")
Markdown(runs.comparison_markdown(runs.comparison_rows(rep, "mnist")))

# %% [markdown]
# Rows marked "paper" are the paper's Table 1 (all 70,000 images, paper profile
# on a GPU); the others are of the images named in the "data" column.

# %%
fig = figures.tree_figure(tree)
plt.show()

# %%
fig = figures.class_mass_heatmap(tree.memberships(), tree.labels, tree.class_names,
                                 node_names=[f"leaf {k}" for k in tree.leaves()])
plt.show()

# %% [markdown]
# ## Over three seeds
#
# The same run for seeds 0, 1 and 2 (quick profile, CPU, one thread per run),
# grown with the command line; the chapter reads the reports kept in
# `book/results/quick-cpu/`:
#
# ```bash
# bash scripts/seeds.sh book/results/quick-cpu mnist "" 0 1 2
# ```
#
# The tree above is seed 0 of this command, kept with its `tree.pt`; on
# another CPU model its scores can differ slightly from the seed-0 row.

# %%
seeds = results.load("results/quick-cpu", "mnist-s*.json")
# a row per seed and method (HC-MGAN, k-means, Ward); their means; HC-MGAN against each baseline
methods = results.flatten(seeds, "methods")
quick = {s["method"]: s for s in results.summarise(methods, by="method")}
versus = "; ".join(s for base in ("k-means", "ward")
                   for s in results.compare(methods, base, by="method", others=["HC-MGAN"]))
Markdown(tables.seed_section(seeds))

# %% [markdown]
# The same seeds with one extension that is not in the paper, a classifier
# learning rate ten times the paper's (`lr_c=2e-4`; see "Growing the tree"),
# grown with `bash scripts/seeds.sh book/results/lrc10-cpu mnist "--set lr_c=2e-4" 0 1 2`:

# %%
variants = {"quick profile": "quick-cpu", "classifier rate x10": "lrc10-cpu"}
paired = [row for label, folder in variants.items()
          for row in results.flatten(results.load(f"results/{folder}", "mnist-s*.json"), "tree", label=label)]
Markdown(results.table(paired, means_by="label") + "\n\n"
         + "\n".join(f"* {s}." for s in results.compare(paired, "quick profile", fields={
             "acc": "ACC", "nmi": "NMI", "below_purity": "the purity of the splits below the root"})))

# %% [markdown]
# ## On a GPU: the paper's networks
#
# The same images on one GPU with the paper's networks, a fixed number of
# steps per GAN and raw splits only: the `gpu` profile's reference run
# (`book/results/gpu/`) when it is committed, else the provisional H200 run
# with 2,500 steps per GAN (`book/results/gpu-h200-provisional/`):
#
# ```bash
# hcmgan fit mnist --profile paper --device cuda --clusters 10 --run-dir RUN \
#     --set refinements=0 --set min_steps=2500 --set max_steps=2500
# hcmgan report RUN --baselines
# ```

# %%
g = results.load(["results/gpu", "results/gpu-h200-provisional"], "mnist-all-s0.json", first=True)[0]
gpu_dir = Path(g["_file"]).parent    # the reference run's folder, else the provisional one
gb = g["baselines"]
g_steps = steps_per_gan(g["settings"])
Markdown(f"From `book/{gpu_dir}/`, HC-MGAN with the paper's networks, {g_steps}, seed 0:\n\n"
         + results.table(results.flatten([g], "methods"))
         + f"\n\nOn the same {g['n_images']:,} images: k-means ACC {gb['k-means']['acc']:.3f} / NMI {gb['k-means']['nmi']:.3f}, "
         f"Ward {gb['ward']['acc']:.3f} / {gb['ward']['nmi']:.3f}. The root split put {g['splits'][0]['purity_raw']:.1%} "
         "of each class's mass on its majority side.")

# %% [markdown]
# ## What we saw

# %%
f = rep["scores"]["final"]
b = rep["baselines"]
gf = g["scores"]["final"]
Markdown(f"""
* On {rep['n_images']:,} MNIST images, the {rep['config']['profile']} profile (seed {SEED}, {rep['seconds'] / 60:.1f} min of
  training on {rep.get('device_name') or rep['device']}) reached ACC {f['acc']:.3f} / NMI {f['nmi']:.3f}.
* On the same images, k-means gave ACC {b['k-means']['acc']:.3f} / NMI {b['k-means']['nmi']:.3f}
  {f"and Ward ACC {b['ward']['acc']:.3f} / NMI {b['ward']['nmi']:.3f}" if 'ward' in b else ''}.
* Over seeds {quick['HC-MGAN']['seeds']}: ACC {quick['HC-MGAN']['acc']['mean']:.3f} ± {quick['HC-MGAN']['acc']['std']:.3f},
  NMI {quick['HC-MGAN']['nmi']['mean']:.3f} ± {quick['HC-MGAN']['nmi']['std']:.3f}: {versus}.
* With the paper's networks on one {g.get('device_name') or 'GPU'} ({g_steps}, raw splits only, {g['seconds'] / 60:.1f} min):
  ACC {gf['acc']:.3f} / NMI {gf['nmi']:.3f}, {"above" if gf['acc'] > gb['ward']['acc'] else "below"} Ward's {gb['ward']['acc']:.3f}.
* The paper reports ACC .943 / NMI .905 on all 70,000 images at its full schedule (.877 / .856 with raw splits only).
""")

# %% [markdown]
# # The MGAN raw split
#
# A split starts with a **raw split** (Algorithm 2 of the paper): a
# multi-generator GAN with two generators $G_\alpha$ and $G_\beta$, one
# discriminator $D$ and one two-way classifier $C$. This chapter trains one on
# the paper's running example, the threes and fives of MNIST, and watches the
# two generators specialise.
#
# ## The game
#
# Real images are drawn from $\mathcal{P}_{\mathbf{s}_k}$. $D$ plays the usual
# game against both generators,
#
# $$\mathcal{L}_{adv} = \mathbb{E}_{x \sim \mathcal{P}_{s_k}}[\log D(x)] + \mathbb{E}_{x \sim \mathcal{P}_{G_\alpha}}[\log(1 - D(x))] + \mathbb{E}_{x \sim \mathcal{P}_{G_\beta}}[\log(1 - D(x))],$$
#
# while $C$ learns which generator made a sample, and both generators *also*
# minimise $C$'s loss $\mathcal{L}_{cls}$, weighted by the diversity parameter
# $\gamma$ (written $\lambda$ in the main text). Each generator is thus pushed to
# look real *and* to be recognisable as itself: the easiest way to be both is to
# cover a different part of the data. $D$ and $C$ share a convolutional trunk,
# so $C$ separates the generators in the features $D$ learned; only $D$'s loss
# trains that trunk. Gaussian noise, whose variance decays linearly to zero, is
# added to the images $D$ sees.
#
# After training, $C$ splits the real data: $s_{l,i} = C(\alpha \mid x_i)\, s_{k,i}$
# and $s_{m,i} = C(\beta \mid x_i)\, s_{k,i}$, so that $\mathbf{s}_l + \mathbf{s}_m = \mathbf{s}_k$.

# %% tags=["parameters"]
import ast, os
PROFILE = os.environ.get("HCMGAN_PROFILE", "quick")   # "quick" (CPU, minutes) or "paper" (GPU)
DEVICE = os.environ.get("HCMGAN_DEVICE", "auto")
SEED = int(os.environ.get("HCMGAN_SEED", "0"))
OVERRIDES = ast.literal_eval(os.environ.get("HCMGAN_OVERRIDES", "{}"))  # any setting, e.g. {"refinements": 4}
RUN_DIR = os.environ.get("HCMGAN_RUNS", "runs/book")

# %%
import time
from pathlib import Path
import torch
import matplotlib.pyplot as plt
import hcmgan_lite as hc
from hcmgan_lite import figures

device = hc.pick_device(DEVICE)
data = hc.load_mnist().subset(classes=["3", "5"])          # every 3 and 5 in the data
X = data.images.to(device)
settings = hc.get_settings(PROFILE, "mnist", seed=SEED, **OVERRIDES)
print(data, "on", device)
print(f"profile {PROFILE}: width {settings.g_width}/{settings.d_widths}, batch {settings.batch_size}, "
      f"lr G/D/C {settings.lr_g}/{settings.lr_d}/{settings.lr_c}, gamma {settings.gamma}, noise variance {settings.noise_var}")

# %% [markdown]
# ## Training
#
# One call trains the MGAN and splits the node. The number of steps follows the
# paper: $\sum_i s_{k,i}$ / batch size minibatches per epoch (the quick profile
# caps the total). `snapshot_every` keeps samples of both generators from a
# fixed latent code as training goes.

# %%
s_k = torch.ones(len(data), device=device)                  # the root: all the mass
torch.manual_seed(SEED)
t0 = time.perf_counter()
raw = hc.raw_split(X, s_k, settings, snapshot_every=100)
raw_seconds = time.perf_counter() - t0
print(f"{raw.log.steps} steps in {raw_seconds:.0f} s")

# %%
fig = figures.snapshot_strip(raw.log.snapshots[:: max(1, len(raw.log.snapshots) // 6)])
plt.show()

# %% [markdown]
# Each row shows the same latent codes at a later step: $G_\alpha$ on the left,
# $G_\beta$ on the right. The losses tell the rest of the story: $D$'s loss stays
# away from zero (no generator collapses) and $C$'s accuracy at telling the
# generators apart rises.

# %%
fig = figures.training_curves(raw.log)
plt.show()

# %% [markdown]
# ## The split of the real images
#
# The classifier now splits the real threes and fives. The class-mass table
# shows where each class's mass went, and the grid of real images drawn from
# $\mathcal{P}_{\mathbf{s}_k}$ is tinted by $C(\alpha \mid x)$, as in the paper's
# Figure 3 (bottom).

# %%
s_l, s_m = raw.s_l.cpu(), raw.s_m.cpu()
assert torch.allclose(s_l + s_m, s_k.cpu(), atol=1e-5)
table = hc.class_mass_table(torch.stack([s_l, s_m]), data.labels)
for a, name in enumerate(data.class_names):
    print(f"class {name}: {table[0, a]:5.1f}% in s_l, {table[1, a]:5.1f}% in s_m")
fig = figures.class_mass_bars(torch.stack([s_l, s_m]), data.labels, data.class_names, node_names=["s_l", "s_m"])
plt.show()

# %%
fig = figures.membership_shaded_grid(data.images, s_l, s_m, n=36, seed=SEED)
plt.show()

# %%
pred = (s_m > s_l).long()
raw_acc = hc.cluster_acc(data.labels, pred)
kmeans = hc.experiments.baselines(data, 2, seed=SEED)["k-means"]
print(f"raw split ACC {raw_acc:.3f}   (k-means on raw pixels: {kmeans['acc']:.3f})")

# keep the result for the next chapter
out = Path(RUN_DIR) / f"threes-fives-{PROFILE}-seed{SEED}"
out.mkdir(parents=True, exist_ok=True)
torch.save({"s_l": s_l, "s_m": s_m, "settings": settings.to_dict()}, out / "raw.pt")

# %% [markdown]
# ## What we saw

# %%
from IPython.display import Markdown
Markdown(f"""
* A raw split of all {len(data):,} threes and fives ({PROFILE} profile, {raw.log.steps} steps, {raw_seconds:.0f} s on {device})
  sent {table[0, 0]:.1f}% of the threes' mass and {table[0, 1]:.1f}% of the fives' mass to $s_l$.
* Read as a two-way clustering (each image to its larger share), that is ACC {raw_acc:.3f};
  k-means on the raw pixels of the same images gives {kmeans['acc']:.3f}.
* The classifier told the generators apart with accuracy {raw.log.history['c_acc'][-1]:.2f} at the end of training.
  The paper's refinement (next chapter) exists because a raw split is only a rough first cut.
""")

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
# trains that trunk. Noise whose strength decays to zero during training is
# added to every image $D$ sees, real or generated (instance noise, a GAN
# stabiliser).
#
# After training, $C$ splits the real data: $s_{l,i} = C(\alpha \mid x_i)\, s_{k,i}$
# and $s_{m,i} = C(\beta \mid x_i)\, s_{k,i}$, so that $\mathbf{s}_l + \mathbf{s}_m = \mathbf{s}_k$.
#
# `hcmgan_lite` follows the authors' public code where it and the paper's text
# differ; each reading of the text is a named setting. The
# {doc}`paper_vs_code` appendix lists them all.

# %% tags=["parameters"]
import ast, os
PROFILE = os.environ.get("HCMGAN_PROFILE", "demo")    # "demo" (CPU, a minute), "quick" (CPU), "gpu" or "paper" (GPU)
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
print(f"profile {PROFILE}: generator width {settings.g_width} ({settings.g_layout}), critic {settings.d_widths}, "
      f"batch {settings.batch_size}, lr G/D/C {settings.lr_g}/{settings.lr_d}/{settings.lr_c}, gamma {settings.gamma}, "
      f"latent {settings.latent}, {settings.noise} noise starting at {settings.noise_var}")

# %% [markdown]
# ## The networks, as the library writes them
#
# Every code box in this section is the library's own source, read with
# `inspect.getsource` while the page is built, so it is the code that trained
# the split below. A **generator** (Table 2 of the supplement) maps a latent
# code $z$ through a fully connected layer to $2w$ feature maps of $7 \times 7$,
# then two $4 \times 4$ transposed convolutions of stride 2 to $w$ maps and to
# the image, with ReLU between and $\tanh$ at the end. The library keeps the
# $k$ generators of a split in one module (grouped convolutions), so both run
# as one batch; `layout="narrow"` is Table 2's text, $w$ then $w/2$ maps.

# %%
import inspect, textwrap
from IPython.display import Code
from hcmgan_lite import models, training

def source(*objs):
    """The library's source of functions or methods, as one highlighted box."""
    return Code("\n".join(textwrap.dedent(inspect.getsource(o)) for o in objs), language="python")

source(models.Generator.__init__, models.Generator.forward)

# %% [markdown]
# The **critic** is the discriminator $D$ and the classifier $C$ on one trunk:
# three $5 \times 5$ convolutions of stride 2 with LayerNorm and LeakyReLU(0.2),
# then two linear heads, one logit for $D$ and two for $C$. $C$ reads the
# trunk's features but never trains them: only $D$'s loss reaches the trunk.

# %%
source(models.Critic.__init__, models.Critic.classify)

# %% [markdown]
# ## One step of the game
#
# `SplitGAN.update` is one minibatch of Algorithm 2 (and, with `mode="pair"`,
# of Algorithm 4, the next chapter): the comments name the lines of the
# algorithms. First $D$ and $C$ are updated on the real batch drawn from
# $\mathcal{P}_{\mathbf{s}_k}$ and on both generators' samples (the
# generators' output detached); then the generators, on $D$'s non-saturating
# loss plus $\gamma$ times $C$'s loss on their own label, with the gradient
# kept out of the critic's weights (`backward(inputs=G's parameters)`). The
# running losses are added to a tensor on the device, so a step never waits
# for the host.

# %%
source(training.SplitGAN.update)

# %% [markdown]
# ## Training
#
# One call trains the MGAN and splits the node. The number of steps follows the
# paper: $\sum_i s_{k,i}$ / batch size minibatches per epoch (the CPU profiles
# cap the total). `snapshot_every` keeps samples of both generators from a
# fixed latent code as training goes.
#
# The live training below uses the chapter's `PROFILE` parameter (the cell
# after it says which profile built this page). The `demo` profile, the
# default on a CPU, trains networks an eighth of the paper's width for 300
# steps: what the first minute of training looks like, enough to watch the
# mechanics, not to see the method at its best. The same split trained for
# 6,400 steps is loaded from saved networks at the end of this chapter, and
# the {doc}`03b_budget` chapter shows what more steps and the paper's width on a
# GPU do to it. A tree would throw a collapsed training away and
# retry it; here the collapse checks only *watch* (`collapse_loss=0,
# collapse_spread=0`), so that the page shows whatever the training did, and
# the check's verdict is computed below.

# %%
from IPython.display import Markdown
s_k = torch.ones(len(data), device=device)                  # the root: all the mass
torch.manual_seed(SEED)
t0 = time.perf_counter()
watch_only = settings.replace(collapse_loss=0, collapse_spread=0)   # report a collapse, do not raise
raw = hc.raw_split(X, s_k, watch_only, snapshot_every=100)
raw_seconds = time.perf_counter() - t0
print(f"{raw.log.steps} steps in {raw_seconds:.0f} s")

# %%
fig = figures.snapshot_strip(raw.log.snapshots[:: max(1, len(raw.log.snapshots) // 6)])
plt.show()

# %% [markdown]
# Each row shows the same 16 latent codes at a later step: $G_\alpha$ on the
# left, $G_\beta$ on the right.
#
# ## Do the generators generate?
#
# A generator that draws the same image for every $z$ has *collapsed*, whatever
# its losses say, and a classifier trained to tell two such generators apart
# splits the real images by their likeness to two fixed pictures. The check that
# `hcmgan_lite` runs during training measures each generator's **spread** (the
# per-pixel standard deviation across a batch of its samples, averaged over the
# pixels) against the spread of the real batch its discriminator sees. From
# half-way through the training on (`collapse_after`), a ratio below
# `collapse_spread` (0.1) counts as a collapse, and the training is thrown away
# and retried with a new seed. (It runs alongside the authors' check, $D$'s loss
# on a generator's samples falling below `collapse_loss`.) Early in training
# every generator's samples vary little, so the check waits.

# %%
check = hc.runs.collapse_verdict(raw.log.history, settings)
ratio_a, ratio_b = check["final_spread_ratio_each"]
print(f"spread of the real batch: {check['final_real_spread']:.3f}")
print(f"G_alpha: {ratio_a:.2f} of it, G_beta: {ratio_b:.2f} (collapse below {check['threshold']}); "
      f"lowest ratio from {settings.collapse_after:.0%} of the training on: {check['min_spread_ratio']:.2f}")
fig = figures.training_curves(raw.log, collapse_spread=settings.collapse_spread)
plt.show()

# %%
Markdown(
    f"From {settings.collapse_after:.0%} of the training on, the least varied generator's spread never fell below "
    f"{check['min_spread_ratio']:.2f} of the real images' (threshold {check['threshold']}): by this check **no "
    f"generator collapsed**, the samples of both vary. The check sees variety, not likeness to the data: a "
    f"generator can vary and still draw no digit, so look at the last row of samples above as well. $D$'s loss "
    f"on generated images ended at {raw.log.history['d_fake'][-1]:.2f}."
    if not check["flagged"] else
    f"**A generator collapsed**: from {settings.collapse_after:.0%} of the training on, its spread fell to "
    f"{check['min_spread_ratio']:.2f} of the real images' (threshold {check['threshold']}). In a tree this training "
    f"would be thrown away and retried with another seed.")

# %% [markdown]
# For contrast, the same training with Table 2's latent code, $z \sim U[0, 1]$,
# and everything else unchanged:

# %%
torch.manual_seed(SEED)
positive = hc.raw_split(X, s_k, watch_only.replace(latent="positive"), snapshot_every=100)
pos_check = hc.runs.collapse_verdict(positive.log.history, settings)
print("U[0,1] latent: spread ratios at the end", [round(r, 3) for r in pos_check["final_spread_ratio_each"]],
      "- the collapse check", "fires" if pos_check["flagged"] else "stays quiet")
fig = figures.snapshot_strip(positive.log.snapshots[-1:])
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
kmeans = hc.runs.baselines(data, 2, seed=SEED)["k-means"]
smaller = float(min(s_l.sum(), s_m.sum()) / s_k.sum())
print(f"raw split ACC {raw_acc:.3f}   (k-means on raw pixels: {kmeans['acc']:.3f}); "
      f"smaller side: {smaller:.1%} of the mass (fives: {float((data.labels == 1).float().mean()):.1%} of the images)")

# keep the result for the next chapter
out = Path(RUN_DIR) / f"threes-fives-{PROFILE}-seed{SEED}"
out.mkdir(parents=True, exist_ok=True)
torch.save({"s_l": s_l, "s_m": s_m, "settings": settings.to_dict()}, out / "raw.pt")

# %% [markdown]
# ## The same split, trained for longer
#
# The networks below were trained once, not while this page was built:
# `bash scripts/trained_split.sh` ran the same raw split at the quick
# profile's width (generator 32, critic 32/64/128) for 6,400 steps per GAN,
# three seeds, one CPU thread each, and kept each seed's generators and critic
# in `book/results/trained-split/`. Here, live, each seed's classifier splits
# all the threes and fives again, and its generators draw from fixed latent
# codes.

# %%
import json
from hcmgan_lite.networks import load_split_networks
trained = []
for f in sorted(Path("results/trained-split").glob("running-example-w32-steps06400-s*.pt")):
    gan, about = load_split_networks(f, device)
    q = gan.predict(X).cpu()                                   # C(alpha | x) for every image
    record = json.loads(f.with_suffix(".json").read_text())    # how it was trained, and its ACC then
    trained.append({"seed": about["seed"], "gan": gan, "q": q, "record": record,
                    "acc": hc.cluster_acc(data.labels, (q < 0.5).long())})
best = max(trained, key=lambda t: t["acc"])
torch.manual_seed(0)
samples = best["gan"].sample(16)                               # both generators, the same 16 codes
fig, axes = plt.subplots(1, 3, figsize=(9.6, 3.0), gridspec_kw={"width_ratios": [1, 1, 1.3]})
for j, name in enumerate(("G_alpha", "G_beta")):
    figures.image_grid(samples[j], nrow=4, ax=axes[j], border=figures.GENERATED, title=f"${name}$, seed {best['seed']}")
figures.class_mass_bars(torch.stack([best["q"], 1 - best["q"]]), data.labels, data.class_names,
                        ["s_l", "s_m"], ax=axes[2])
fig.tight_layout()
plt.show()

# %%
rows = [f"| {t['seed']} | {t['record']['stages'][0]['steps']:,} | {t['record']['seconds'] / 60:.0f} min | "
        f"{t['acc']:.3f} | {t['record']['stages'][0]['acc']:.3f} |" for t in trained]
accs = torch.tensor([t["acc"] for t in trained])
Markdown("| seed | steps per GAN | training time (one thread) | ACC, classified here | ACC when trained |\n"
         "|---|---|---|---|---|\n" + "\n".join(rows) + f"\n\nTrained for {trained[0]['record']['stages'][0]['steps']:,} "
         f"steps, the split reaches ACC {accs.mean():.3f} on average over {len(trained)} seeds "
         f"({accs.min():.3f} to {accs.max():.3f}), against {kmeans['acc']:.3f} for k-means and {raw_acc:.3f} for the "
         f"{raw.log.steps}-step `{PROFILE}` training above. (The networks are stored as float16, so the ACC "
         "classified here may differ from the one measured at training time in the last digit.)")

# %% [markdown]
# ## What we saw

# %%
Markdown(f"""
* This page was built with the `{PROFILE}` profile on {device}: a raw split of all {len(data):,} threes and fives
  ({raw.log.steps} steps, {raw_seconds:.0f} s)
  sent {table[0, 0]:.1f}% of the threes' mass and {table[0, 1]:.1f}% of the fives' mass to $s_l$.
* Read as a two-way clustering (each image to its larger share), that is ACC {raw_acc:.3f};
  k-means on the raw pixels of the same images gives {kmeans['acc']:.3f}
  ({"above" if raw_acc > kmeans["acc"] else "below"} k-means). The smaller side holds {smaller:.1%} of the mass
  {"(a lopsided split: one generator covers most of the data)" if smaller < 0.25 else ""}.
* The collapse check {"stayed quiet: the samples of both generators varied" if not check["flagged"] else "fired"}
  (lowest spread ratio {check['min_spread_ratio']:.2f}); with Table 2's $U[0, 1]$ latent it
  {"fired" if pos_check["flagged"] else "stayed quiet"} (lowest {pos_check['min_spread_ratio']:.2f}).
* The classifier told the generators apart with accuracy {raw.log.history['c_acc'][-1]:.2f} at the end of training.
  The paper's refinement (next chapter) exists because a raw split is only a rough first cut.
""")

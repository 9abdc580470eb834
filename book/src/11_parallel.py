# %% [markdown]
# # Growing a tree on several workers
#
# A split depends only on its own node's membership $s_k$: the raw split and
# the refinements of node $k$ see the images weighted by $s_k$ and nothing
# else. What ties the tree together is the *order* of growth: the next leaf to
# split is the one with the largest mass. So once the root is split, its two
# halves could be trained at the same time, on two GPUs or two machines. This
# page shows how `hcmgan_lite` does that without changing the result, what it
# costs, and the commands for several GPUs and for a Ray cluster.
#
# Three pieces make it work:
#
# * **Seeds from the place in the tree.** Every GAN of a split draws its
#   random numbers from the run's seed and the node's *path*: `""` for the
#   root, `"0"` and `"1"` for its children ($s_l$ first), `"01"` for the second
#   child of the first child, and so on. A split gives the same result whenever
#   and wherever it is trained (same device type and threads per worker).
# * **Replaying the order.** The tree is assembled by replaying sequential
#   growth over the finished splits: start at the root, take the heaviest
#   leaf; if its split is finished, add it; stop when the tree has its leaves
#   or the next split is not finished yet.
# * **Speculation.** Idle workers do not wait: they split the leaf the order
#   needs next, then the heaviest other leaves, but never a leaf the order
#   provably cannot reach. When the order needs $R$ more splits and a leaf $c$
#   of mass $m$ is split, every other leaf weighs at most $m$, so a leaf of mass
#   $M > m$ must have been split at least $\lceil M/m \rceil - 1$ times before;
#   if those counts reach $R$, $c$ is not trained. Splits trained but never
#   reached are kept (`tree.spare`): growing the same run to more leaves uses
#   them without training, and `tree.extended()` returns a copy with those the
#   order reaches added, for deeper cuts in the explorer.
#
# Choose the executor with one argument; the default trains one split at a
# time in the calling process:
#
# ```python
# tree = grow_tree(data, 10, settings, executor="processes", workers=4)   # local worker processes
# tree = grow_tree(data, 10, settings, executor="ray", workers=4)         # Ray tasks
# ```
#
# or `--executor processes --workers 4` on the command line.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("HCMGAN_PROFILE", "demo")    # the small tree's networks: "demo" (CPU), "tiny" (tests)
DEVICE = os.environ.get("HCMGAN_DEVICE", "cpu")
RUNS = os.environ.get("HCMGAN_RUNS", "runs/book")

# %% [markdown]
# ## The same tree, in-process and on two worker processes
#
# A small tree, trained for real while this page was built: 100 Fashion-MNIST
# images of each of four classes, 5 leaves, networks half as wide as the quick
# profile's, 60 steps per GAN and no refinement (a rough tree: the point here
# is the schedule, not the clusters). It is grown twice: in-process with
# one thread, and by two single-thread worker processes.

# %%
import time
import torch
from IPython.display import Markdown
from hcmgan_lite import get_settings, grow_tree, runs

data = runs.load_subset("fashion-mnist", classes=["Trouser", "Bag", "Sneaker", "T-shirt/top"], per_class=100)
settings = get_settings(PROFILE)
steps = min(60, settings.max_steps)                        # 60 steps per GAN: the schedule matters here, not the clusters
settings = settings.replace(min_steps=steps, max_steps=steps)
torch.set_num_threads(1)   # the workers train with one thread each: compare like with like
grown = {}
for name, kw in [("in-process, 1 thread", {}), ("2 worker processes", dict(executor="processes", workers=2))]:
    t0 = time.perf_counter()
    tree = grow_tree(data, 5, settings, DEVICE, progress=False, **kw)
    grown[name] = (tree, time.perf_counter() - t0)

# %%
def same(a, b):
    return a.splits == b.splits and all(
        x.path == y.path and torch.equal(x.membership, y.membership) for x, y in zip(a.nodes, b.nodes))

ref = grown["in-process, 1 thread"][0]
lines = ["| how | wall time | splits trained | identical to in-process |", "|---|---|---|---|"]
for name, (tree, wall) in grown.items():
    lines.append(f"| {name} | {wall:.0f} s | {len(tree.splits) + len(tree.spare)} "
                 f"| {'yes' if same(tree, ref) else 'no'} |")
Markdown("\n".join(lines))

# %% [markdown]
# "Splits trained" counts the speculative ones as well (the tree has
# 4 splits; more means a worker trained a leaf the order did not reach). On this machine's two
# cores the workers compete for the same arithmetic units, and each process
# first loads PyTorch and receives the images, so the gain is small or
# negative for a tree this size; the point of the executors is machines with
# several GPUs. The benchmark below times the quick 10-leaf tree.
#
# ## How much faster on several GPUs
#
# The speed-up has a hard limit: a split can only start when its parent is
# done, and at the paper's schedule a split's training time grows with its
# mass (150 epochs over the node's share of the images), so the chain from the
# root through the heaviest nodes is long. The simulation below
# (`schedule.project`, the same scheduling code the executors run, on a
# simulated clock) takes the split masses of a real 10-leaf Fashion-MNIST tree
# (70,000 images, grown on an H100) and the steps per second that
# `benchmarks/bench.py` measured on that GPU at the paper's network widths,
# and plays the paper profile's schedule (a raw split and 8 refinements per
# split) on 1, 2 and 4 GPUs. It is a projection, not a measurement.

# %%
import json
from pathlib import Path
from hcmgan_lite import schedule
from hcmgan_lite.figures import schedule_figure

report = json.loads(Path("results/gpu-h100/fashion-mnist-all-s0.json").read_text())
speed = json.loads(Path("../benchmarks/results/cuda-nvidia-h100-80gb-hbm3.json").read_text())
splits = schedule.report_splits(report)
seconds = schedule.gpu_split_seconds(speed, get_settings("paper", "fashion-mnist"), report["n_images"], splits)
sims = schedule.project(splits, report["n_leaves"], seconds, workers=(1, 2, 4, 8))
fig = schedule_figure(sims[:3], unit="h")

# %%
one = sims[0]
chain = max(sims, key=lambda s: s.workers)
Markdown(f"""
Each bar is one split (labelled with its path), blue where the tree uses it, grey where
it was speculation the tree did not need. On one GPU the tree takes **{one.wall / 3600:.1f} h**;
on 2, 4 and 8 GPUs {', '.join(f'{s.wall / 3600:.1f} h' for s in sims[1:])}
(speed-up at most **{one.wall / chain.wall:.2f}x**), with
{', '.join(f'{s.wasted / 3600:.1f} h' for s in sims[1:])} of GPU time spent on unused splits.
The root alone takes {seconds('', splits['']['mass']) / 3600:.1f} h, and the chain of the
heaviest nodes ({', '.join(f"{splits[p]['mass']:,.0f}" for p in sorted(splits, key=lambda p: -splits[p]['mass'])[:4])}
images) has to run one after the other. The tree is lopsided: a balanced tree (each split
halving its node) would take less in all and gain more from more GPUs.
""")

# %% [markdown]
# ## The benchmark on this machine
#
# `benchmarks/parallel.py` grows the quick 10-leaf tree on 10,000
# Fashion-MNIST images (its results below were measured with the quick
# profile at a cap of 600 steps per GAN) with each executor on a quiet two-core machine and
# checks each result against the in-process, one-thread tree, bit for bit. Its
# last results, committed with the code:

# %%
bench = Path("../benchmarks/results/parallel-cpu-2cores.md")
Markdown(bench.read_text().split("\n", 1)[1] if bench.exists() else "(no committed benchmark results)")

# %% [markdown]
# ## Running a big tree on several GPUs
#
# **One machine with several GPUs.** Two worker processes per GPU are the
# default of the `processes` executor on CUDA (one training leaves most of a
# large GPU idle); each worker trains one split at a time:
#
# ```bash
# hcmgan fit fashion-mnist --profile paper --device cuda \
#     --executor processes --run-dir runs/fmnist-paper
# ```
#
# **A Ray cluster.** Install this project's requirements on every machine
# (Ray is among them) with `hcmgan_lite` importable there (the same checkout on
# `PYTHONPATH`; the images travel through Ray's object store), start the head
# and the workers, then run the same
# command with the Ray executor on the head; every split becomes a Ray task
# asking for one GPU, Ray places it and retries it if its machine is lost:
#
# ```bash
# ray start --head --port=6379                 # on the head machine
# ray start --address=HEAD_IP:6379             # on every other machine
# hcmgan fit fashion-mnist --profile paper --device cuda \
#     --executor ray --ray-address auto --workers 4 --run-dir runs/fmnist-paper
# ```
#
# Without `--ray-address` a Ray instance is started on the local machine with
# `--workers` CPUs and stopped at the end. `--workers` caps how many splits
# train at once (default: the GPUs, or the CPU cores on a CPU).
#
# **Interruptions.** The run folder keeps the tree after every finished split
# (`tree.pt`, with the finished speculative splits) and each training split's
# last finished stage (`partial/node-<path>.pt`, written by the worker). Run
# the same command again, with any executor, to resume: a killed run ends
# with the same tree as an uninterrupted one (the test suite kills one with
# SIGKILL and checks). The partial files need the run folder on storage that
# every machine sees; without it a lost split restarts from its raw split.

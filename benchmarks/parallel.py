"""Growing one tree with several workers: wall time, and whether the tree is the same.

Grows the quick-profile 10-leaf tree on 10,000 Fashion-MNIST images (1,000 per
class, seed 0) once per executor, on this machine:

* ``inline-1t``: in-process, one split at a time, one thread (the reference);
* ``inline``: in-process with every core's thread (what ``fit`` does by default);
* ``processes``: one single-thread worker process per core;
* ``ray``: a local Ray instance with one CPU per core, each split a Ray task;

and checks that every tree equals the reference (same splits, memberships,
real and generated samples, bit for bit: the executors with one thread per
worker must match exactly; ``inline`` with more threads sums in another order).
Then it *simulates* the schedule (``hcmgan_lite.schedule.simulate``) for 1, 2,
4 and 8 workers: for the reference tree, from its recorded per-split times;
and for the paper-profile Fashion-MNIST tree (70,000 images, 10 leaves), from
the split masses of a real tree and the steps per second measured on a GPU by
``bench.py`` (a projection, not a measurement).

    python benchmarks/parallel.py                       # -> results/parallel-<device>.json and .md
    python benchmarks/parallel.py --executors inline-1t,processes
    python benchmarks/parallel.py --small               # seconds: tiny networks, not a measurement
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from hcmgan_lite.data import load_fashion_mnist  # noqa: E402
from hcmgan_lite.metrics import evaluate  # noqa: E402
from hcmgan_lite.schedule import gpu_split_seconds, project, report_splits, tree_splits  # noqa: E402
from hcmgan_lite.settings import get_settings  # noqa: E402
from hcmgan_lite.training import steps_for  # noqa: E402
from hcmgan_lite.growth import grow_tree  # noqa: E402

EXECUTORS = ("inline-1t", "inline", "processes", "ray")
SMALL = dict(collapse_spread=0, g_width=8, d_widths=(8, 16, 32), batch_size=16, gen_batch_size=16, max_steps=12,
             min_steps=12, log_every=4, n_samples=4)
GPU_REPORT = HERE.parent / "book" / "results" / "gpu-h100" / "fashion-mnist-all-s0.json"
GPU_SPEED = HERE / "results" / "cuda-nvidia-h100-80gb-hbm3.json"


def identical(a, b) -> bool:
    def same(x, y):
        return (x is None and y is None) or (x is not None and y is not None and torch.equal(x, y))
    return (a.splits == b.splits and len(a.nodes) == len(b.nodes)
            and all(x.path == y.path and torch.equal(x.membership, y.membership) and same(x.real, y.real)
                    and same(x.generated, y.generated) for x, y in zip(a.nodes, b.nodes)))


def grow(name: str, data, n_leaves, settings, cores: int):
    threads = 1 if name == "inline-1t" else cores
    kw = {} if name.startswith("inline") else {"executor": name, "workers": cores}
    before = torch.get_num_threads()
    torch.set_num_threads(threads if name.startswith("inline") else 1)
    try:
        t = time.perf_counter()
        tree = grow_tree(data, n_leaves, settings, "cpu", progress=False, **kw)
        return tree, time.perf_counter() - t
    finally:
        torch.set_num_threads(before)


def simulate_tree(tree, workers=(1, 2, 4, 8)) -> list:
    """The schedule on ``w`` workers, from a tree's recorded split times (unseen splits: seconds per step x steps)."""
    s, splits = tree.settings, tree_splits(tree)
    per_step = (sum(sp["seconds"] for sp in splits.values())
                / sum(steps_for(sp["mass"], s) * (1 + s.refinements) for sp in splits.values()))
    seconds = lambda p, m: splits[p]["seconds"] if p in splits else per_step * steps_for(m, s) * (1 + s.refinements)  # noqa: E731
    return [{"workers": r.workers, "wall_s": r.wall, "work_s": r.work, "wasted_s": r.wasted}
            for r in project(splits, tree.n_leaves, seconds, workers)]


def simulate_paper(workers=(1, 2, 4, 8)) -> dict | None:
    """The paper-profile Fashion-MNIST tree (70,000 images, 10 leaves) on w GPUs, projected from measurements."""
    if not (GPU_REPORT.exists() and GPU_SPEED.exists()):
        return None
    rep, speed = json.loads(GPU_REPORT.read_text()), json.loads(GPU_SPEED.read_text())
    s = get_settings("paper", "fashion-mnist")
    splits = report_splits(rep)
    sims = project(splits, rep["n_leaves"], gpu_split_seconds(speed, s, rep["n_images"], splits), workers)
    return {"device": speed["device"], "tree": str(GPU_REPORT.relative_to(HERE.parent)), "epochs": s.epochs,
            "refinements": s.refinements,
            "rows": [{"workers": r.workers, "wall_h": r.wall / 3600, "work_h": r.work / 3600,
                      "wasted_h": r.wasted / 3600} for r in sims]}


def markdown(res) -> str:
    L = [f"# Parallel growth on {res['machine']}", "",
         f"{res['images']:,} Fashion-MNIST images, {res['leaves']} leaves, {res['profile']} profile "
         f"({res['steps'][0]}-{res['steps'][1]} steps per GAN), seed 0, "
         f"torch {res['torch']}, load average before/after {res['load_before']} / {res['load_after']}."
         + (" **--small run: tiny networks, not a measurement.**" if res["small"] else ""), "",
         "| executor | workers × threads | wall time | speed-up | identical to inline, 1 thread | ACC |",
         "|---|---|---|---|---|---|"]
    base = res["runs"][0]["wall_s"]
    for r in res["runs"]:
        L.append(f"| {r['executor']} | {r['workers']} × {r['threads']} | {r['wall_s']:.0f} s | "
                 f"{base / r['wall_s']:.2f}x | {'yes' if r['identical'] else 'no'} | {r['acc']:.3f} |")
    L += ["", "Simulated schedule for this tree (from its recorded split times; speculation included):", "",
          "| workers | wall time | training, all workers | of it wasted |", "|---|---|---|---|"]
    for r in res["simulated"]:
        L.append(f"| {r['workers']} | {r['wall_s']:.0f} s | {r['work_s']:.0f} s | {r['wasted_s']:.0f} s |")
    p = res.get("paper")
    if p:
        L += ["", f"Projection (not a measurement) for the paper-profile tree ({p['epochs']} epochs, "
              f"{p['refinements']} refinements per split; split masses of `{p['tree']}`, steps per second of "
              f"{p['device']} from `bench.py`):", "",
              "| GPUs | wall time | GPU time, all together | of it wasted |", "|---|---|---|---|"]
        for r in p["rows"]:
            L.append(f"| {r['workers']} | {r['wall_h']:.1f} h | {r['work_h']:.1f} h | {r['wasted_h']:.1f} h |")
    return "\n".join(L) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--executors", default=",".join(EXECUTORS))
    ap.add_argument("--leaves", type=int, default=10)
    ap.add_argument("--per-class", type=int, default=1000)
    ap.add_argument("--max-steps", type=int, default=None, help="cap on the steps per GAN (default: the profile's)")
    ap.add_argument("--small", action="store_true", help="tiny networks and 40 images per class: checks it runs")
    ap.add_argument("--out", default=str(HERE / "results"))
    args = ap.parse_args(argv)
    names = [e for e in args.executors.split(",") if e]
    bad = [e for e in names if e not in EXECUTORS]
    if bad or not names:
        ap.error(f"--executors: choose from {', '.join(EXECUTORS)}")
    if names[0] != "inline-1t":
        names.insert(0, "inline-1t")   # the reference
    cores = os.cpu_count() or 1
    settings = get_settings("quick", **(SMALL if args.small else {}))
    if args.max_steps:
        settings = settings.replace(max_steps=args.max_steps, min_steps=min(settings.min_steps, args.max_steps))
    data = load_fashion_mnist().subset(per_class=40 if args.small else args.per_class)
    res = {"machine": f"{platform.processor() or platform.machine()}, {cores} CPU cores", "torch": torch.__version__,
           "images": len(data), "leaves": args.leaves, "profile": "quick", "small": args.small,
           "steps": [settings.min_steps, settings.max_steps],
           "load_before": [round(v, 2) for v in os.getloadavg()], "runs": []}
    reference = None
    for name in names:
        print(f"[parallel] growing with {name} ...", flush=True)
        tree, wall = grow(name, data, args.leaves, settings, cores)
        reference = reference or tree
        run = {"executor": name, "workers": 1 if name.startswith("inline") else cores,
               "threads": 1 if name in ("inline-1t", "processes", "ray") else cores, "wall_s": wall,
               "train_s": tree.seconds, "identical": identical(tree, reference),
               "acc": evaluate(data.labels, tree.predict())["acc"], "spare": sorted(tree.spare)}
        res["runs"].append(run)
        print(f"[parallel] {name}: {wall:.1f} s, identical {run['identical']}, ACC {run['acc']:.3f}", flush=True)
        if name == "inline-1t":
            res["simulated"] = simulate_tree(tree)
            res["splits"] = tree_splits(tree)
    res["paper"] = simulate_paper()
    res["load_after"] = [round(v, 2) for v in os.getloadavg()]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "parallel-small" if args.small else f"parallel-cpu-{cores}cores"
    (out / f"{stem}.json").write_text(json.dumps(res, indent=2))
    (out / f"{stem}.md").write_text(markdown(res))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())

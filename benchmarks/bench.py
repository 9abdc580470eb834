"""Training speed of hcmgan_lite against a plain reference loop, on this machine.

Times training steps per second of the raw split (``mgan``) and of the
refinement (``pair``) at the quick and the paper widths, for the library's
``SplitGAN.train`` and, in the same run and on the same models, batch sizes
and data, for the plain loop of ``plain_loop.py``.  Medians over repeats;
library and plain runs alternate, so that a change in the machine's load hits
both.  Also times the membership re-estimation (images per second) and prints
a projection of a full 10-leaf Fashion-MNIST tree at the paper profile.

    python benchmarks/bench.py                 # full table, results/<device>.json and .md
    python benchmarks/bench.py --quick-only    # quick widths only
    python benchmarks/bench.py --small         # a few seconds: checks that everything runs
    python benchmarks/bench.py --tree          # also grow a whole quick-profile tree and score it
    python benchmarks/bench.py --precision     # the step in fp32 against bf16 (CPU), GFLOP/s, roof shares
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from hcmgan_lite.settings import get_settings, pick_device  # noqa: E402
from plain_loop import PLAIN_LOOP_SETTINGS  # noqa: E402
from hcmgan_lite.training import SplitGAN, steps_for  # noqa: E402
from plain_loop import PlainSplit  # noqa: E402

PHASES = {"raw": "mgan", "refine": "pair"}


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name} ({os.cpu_count()} cores)"


def device_slug(device: torch.device) -> str:
    if device.type == "cuda":
        return "cuda-" + "".join(c if c.isalnum() else "-" for c in torch.cuda.get_device_name(device).lower()).strip("-")
    return f"cpu-{os.cpu_count()}cores"


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def others_running() -> int:
    """Processes runnable besides this one: the median of 9 looks over ~1 s (Linux; 0 elsewhere)."""
    try:
        seen = []
        for _ in range(9):
            with open("/proc/loadavg") as f:
                seen.append(int(f.read().split()[3].split("/")[0]) - 1)
            time.sleep(0.1)
        return sorted(seen)[len(seen) // 2]
    except (OSError, ValueError, IndexError):
        return 0


WAIT_QUIET = {"max_wait": 0.0, "waited": 0.0}


def wait_quiet():
    """With --quiet: before a timed run, wait (up to --quiet seconds in all) until nothing else runs."""
    t = time.perf_counter()
    while WAIT_QUIET["waited"] + time.perf_counter() - t < WAIT_QUIET["max_wait"] and others_running() > 0:
        time.sleep(2)
    WAIT_QUIET["waited"] += time.perf_counter() - t


def timed(fn, device) -> float:
    wait_quiet()
    sync(device)
    t = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t


def bench_row(phase, width, args, device, X):
    """Steps/s of the library and of the plain loop for one phase and width."""
    mode = PHASES[phase]
    # one generator per refinement group and additive noise: what the plain loop implements
    s = get_settings(width, **{**PLAIN_LOOP_SETTINGS, **args.overrides})
    if args.small:  # every width divided by 4: the same table, tiny networks
        s = s.replace(g_width=s.g_width // 4, d_widths=tuple(w // 4 for w in s.d_widths))
    steps = args.steps if width == "quick" else args.paper_steps
    torch.manual_seed(0)
    kd = 1 if mode == "mgan" else 2
    s_l = torch.rand(len(X))
    weights = torch.ones(1, len(X)) if kd == 1 else torch.stack([s_l, 1 - s_l])
    gan = SplitGAN(mode, tuple(X.shape[1:]), s, device)
    plain = PlainSplit(mode, X, weights, s, device)
    Xd, wd = X.to(device), weights.to(device)
    lib_run = lambda n: gan.train(Xd, wd, n, progress=False)  # noqa: E731
    plain_run = plain.train
    load_before = load()
    for _ in range(args.warmup):
        lib_run(steps)
        plain_run(steps)
    lib, pl = [], []
    for r in range(args.repeats):  # alternate the order, so a drift in load hits both alike
        order = [(lib, lib_run), (pl, plain_run)]
        for out, fn in (order if r % 2 == 0 else order[::-1]):
            out.append(steps / timed(lambda: fn(steps), device))
    row = {"phase": phase, "mode": mode, "width": width, "g_width": s.g_width, "d_widths": list(s.d_widths),
           "batch_size": s.batch_size, "gen_batch_size": s.gen_batch_size, "steps": steps,
           "library_steps_s": statistics.median(lib), "plain_steps_s": statistics.median(pl),
           "library_runs": lib, "plain_runs": pl, "load_before": load_before, "load_after": load(),
           "execution": gan.execution}
    row["ratio"] = row["library_steps_s"] / row["plain_steps_s"]
    # the same from adjacent library/plain runs: robust to the load drifting during the row
    row["ratio_paired"] = statistics.median(a / b for a, b in zip(lib, pl))
    # membership re-estimation: all of X through the classifiers
    n = min(len(X), args.predict_images)
    gan.predict(Xd[:200]), plain.predict(X[:200])  # warm-up: the first pass at new shapes is slow
    lib_p, pl_p = [], []
    for _ in range(max(1, args.repeats // 2)):
        lib_p.append(n / timed(lambda: gan.predict(Xd[:n]), device))
        pl_p.append(n / timed(lambda: plain.predict(X[:n]), device))
    row.update(predict_images=n, library_predict_img_s=statistics.median(lib_p),
               plain_predict_img_s=statistics.median(pl_p))
    return row


def projection(rows, overrides):
    """Hours for a 10-leaf Fashion-MNIST tree at the paper profile, from the paper-width rows."""
    speed = {r["phase"]: r for r in rows if r["width"] == "paper"}
    if set(speed) != set(PHASES):
        return None
    s = get_settings("paper", "fashion-mnist")
    # a balanced tree: split masses 70,000, 2 x 35,000, 4 x 17,500, 2 x 8,750 (9 splits, 10 leaves)
    masses = [70000] + [35000] * 2 + [17500] * 4 + [8750] * 2
    raw = sum(steps_for(m, s) for m in masses)
    ref = sum(s.refinements * steps_for(m / 2, s) for m in masses)  # each group draws from half the mass
    n_ref = len(masses) * s.refinements                               # re-estimations over all 70,000 images
    out = {"splits": len(masses), "refinements": s.refinements, "epochs": s.epochs, "raw_steps": raw,
           "refine_steps": ref, "steps": raw + ref, "reestimation_images": (len(masses) + n_ref) * 70000}
    for who in ("library", "plain"):
        sec = (raw / speed["raw"][f"{who}_steps_s"] + ref / speed["refine"][f"{who}_steps_s"]
               + len(masses) * 70000 / speed["raw"][f"{who}_predict_img_s"]
               + n_ref * 70000 / speed["refine"][f"{who}_predict_img_s"])
        out[f"{who}_hours"] = sec / 3600
    out["hours"] = out["library_hours"]
    return out


def tree_run(device):
    from hcmgan_lite.data import load_fashion_mnist
    from hcmgan_lite.metrics import evaluate
    from hcmgan_lite.growth import grow_tree
    data = load_fashion_mnist().subset(per_class=1000)
    s = get_settings("quick")
    load_before = load()
    t = time.perf_counter()
    tree = grow_tree(data, 10, s, device, progress=False)
    seconds = time.perf_counter() - t
    scores = evaluate(data.labels, tree.predict())
    stages = [st for k in tree.splits for st in tree.nodes[k].split_logs]
    return {"images": len(data), "leaves": 10, "profile": "quick", "seconds": seconds,
            "acc": scores["acc"], "nmi": scores["nmi"], "load_before": load_before, "load_after": load(),
            "train_seconds": sum(st["seconds"] for st in stages), "stages": len(stages),
            "retries": sum(len(tree.nodes[k].retries) for k in tree.splits)}


def markdown(res) -> str:
    lines = [f"# Training speed on {res['device']}", "",
             f"torch {res['torch']}, {res['threads']} threads, load average before/after "
             f"{res['load_before']} / {res['load_after']}; medians of {res['settings']['repeats']} repeats "
             f"(ratio: of the medians; paired: median of adjacent library/plain runs)."
             + (" **--small run: tiny networks and batches, not a measurement.**" if res["settings"]["small"] else ""), "",
             "| phase | width | batch | library steps/s | plain steps/s | ratio (paired) | "
             "library / plain re-estimation img/s |",
             "|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        lines.append(f"| {r['phase']} | {r['width']} (g {r['g_width']}, d {tuple(r['d_widths'])}) | {r['batch_size']} | "
                     f"{r['library_steps_s']:.3f} | {r['plain_steps_s']:.3f} | "
                     f"{r['ratio']:.2f}x ({r['ratio_paired']:.2f}x) | "
                     f"{r['library_predict_img_s']:.0f} / {r['plain_predict_img_s']:.0f} |")
    p = res["projection"]
    if p:
        lines += ["", f"Projection (not a measurement): a 10-leaf Fashion-MNIST tree at the paper profile "
                  f"({p['splits']} splits, 1 raw split + {p['refinements']} refinements each, {p['epochs']:g} epochs, "
                  f"{p['steps']:,} steps) would take about {p['library_hours']:.1f} h with the library and "
                  f"{p['plain_hours']:.1f} h with the plain loop on this device."]
    if res.get("tree"):
        t = res["tree"]
        lines += ["", f"Quick-profile tree, measured: {t['images']:,} Fashion-MNIST images, {t['leaves']} leaves, "
                  f"{t['seconds'] / 60:.1f} min wall time, ACC {t['acc']:.3f}, NMI {t['nmi']:.3f} "
                  f"(load {t['load_before']} -> {t['load_after']})."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--steps", type=int, default=None, help="steps per timed run at the quick width")
    p.add_argument("--paper-steps", type=int, default=None, help="steps per timed run at the paper width")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--warmup", type=int, default=1, help="untimed runs before timing")
    p.add_argument("--images", type=int, default=70000, help="size of the (random) image set sampled from")
    p.add_argument("--predict-images", type=int, default=2000, help="images per timed re-estimation")
    p.add_argument("--quick-only", action="store_true", help="only the quick widths")
    p.add_argument("--small", action="store_true",
                   help="a few seconds, for CI: widths / 4, tiny batches, steps and repeats (not a measurement)")
    p.add_argument("--compile", action="store_true", help="time the library with torch.compile")
    p.add_argument("--tree", action="store_true", help="also grow a quick-profile 10-leaf tree (minutes)")
    p.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    p.add_argument("--quiet", type=float, default=0, metavar="SECONDS",
                   help="on a shared machine: before each timed run wait until no other process runs "
                        "(at most SECONDS in all)")
    p.add_argument("--precision", action="store_true",
                   help="instead: the library's step in fp32, bf16 autocast and oneDNN bf16 math, with GFLOP per "
                        "step and the share of this CPU's roofs (precision.py; --small and --quick-only apply)")
    args = p.parse_args(argv)
    if args.precision:
        import precision
        return precision.run((["--small"] if args.small else []) + (["--quick-only"] if args.quick_only else [])
                             + (["--out", args.out] if args.out else []))
    WAIT_QUIET["max_wait"] = args.quiet
    device = pick_device(args.device)
    cuda = device.type == "cuda"
    # no collapse watch while timing: a collapse would end a timed run early
    args.overrides = {"collapse_after": 1.0, **({"compile": True} if args.compile else {})}
    if args.small:
        args.overrides.update(batch_size=8, gen_batch_size=8)
        args.steps, args.paper_steps = args.steps or 2, args.paper_steps or 1
        args.repeats, args.warmup, args.images, args.predict_images = 2, 1, 1000, 100
    args.steps = args.steps or (200 if cuda else 10)
    args.paper_steps = args.paper_steps or (100 if cuda else 2)

    torch.manual_seed(0)
    X = torch.rand(args.images, 1, 28, 28) * 2 - 1   # speed does not depend on the pixels
    res = {"device": device_name(device), "device_type": device.type, "torch": torch.__version__,
           "threads": torch.get_num_threads(), "python": platform.python_version(),
           "load_before": load(), "settings": {k: v for k, v in vars(args).items() if k != "out"}, "rows": []}
    print(f"{res['device']}, torch {res['torch']}, {res['threads']} threads, load {res['load_before']}", flush=True)
    widths = ["quick"] if args.quick_only else ["quick", "paper"]
    print(f"{'phase':7s} {'width':6s} {'library':>10s} {'plain':>10s} {'ratio':>6s} {'paired':>7s}  "
          f"(steps/s, median)  load after")
    for width in widths:
        for phase in PHASES:
            r = bench_row(phase, width, args, device, X)
            res["rows"].append(r)
            print(f"{phase:7s} {width:6s} {r['library_steps_s']:10.3f} {r['plain_steps_s']:10.3f} "
                  f"{r['ratio']:5.2f}x {r['ratio_paired']:6.2f}x  {r['load_after']}", flush=True)
    res["projection"] = projection(res["rows"], args.overrides)
    p_ = res["projection"]
    if p_ and args.small:
        p_["note"] = "--small run: tiny networks and batches, so this projection means nothing"
    if p_:
        print(f"PROJECTION, not a measurement: a 10-leaf Fashion-MNIST tree at the paper profile "
              f"({p_['steps']:,} training steps + {p_['reestimation_images']:,} re-estimated images) would take "
              f"~{p_['library_hours']:.1f} h (library) / ~{p_['plain_hours']:.1f} h (plain loop) on this device."
              + (f" ({p_['note']})" if "note" in p_ else ""))
    if args.tree:
        res["tree"] = tree_run(device)
        t = res["tree"]
        print(f"quick tree: {t['seconds']:.0f} s, ACC {t['acc']:.3f}, NMI {t['nmi']:.3f}")
    res["load_after"] = load()
    res["waited_for_quiet_s"] = round(WAIT_QUIET["waited"], 1)
    out = Path(args.out) if args.out else HERE / "results"
    out.mkdir(parents=True, exist_ok=True)
    stem = device_slug(device) + ("-small" if args.small else "") + ("-compile" if args.compile else "")
    (out / f"{stem}.json").write_text(json.dumps(res, indent=1))
    (out / f"{stem}.md").write_text(markdown(res))
    print(f"wrote {out / stem}.json and .md")
    return res


if __name__ == "__main__":
    main()

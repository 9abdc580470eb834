"""Reproducible runs: fit a tree on a named dataset into a run directory, and report on it.

The command line (``python -m hcmgan_lite``) and the benchmark chapters of the
book both go through these functions, so every number in the book can be
reproduced with one command.
"""
from __future__ import annotations

import json
import logging
import platform
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from .data import ImageData, load_dataset
from .metrics import class_mass_table, evaluate, majority_side_purity
from .settings import get_settings, pick_device
from .tree import Tree, checked_executor, data_digest, grow_tree, run_lock

log = logging.getLogger(__name__)


def data_source(root=None) -> str:
    """The data folder a load reads (for messages)."""
    from .data import find_data_root
    try:
        return str(find_data_root(root))
    except (FileNotFoundError, ValueError):
        return "the data folder"


def load_subset(dataset: str, root=None, classes=None, per_class: int | None = None, seed: int = 0,
                announce=None) -> ImageData:
    """A named dataset, optionally restricted to some classes and images per class.

    ``announce(line)``: told which images were loaded (how many, from which folder, which subset kept).
    """
    from .data import describe
    data = load_dataset(dataset, root)
    line = describe(data)
    if classes is not None or per_class is not None:
        data = data.subset(classes=classes, per_class=per_class, seed=seed)
        line += f"; kept {len(data):,}" + (f" of classes {', '.join(map(str, classes))}" if classes else "") \
            + (f", at most {per_class:,} per class" if per_class else "")
    if announce is not None:
        announce(f"data: {line}")
    return data


def fit(dataset: str, run_dir, n_clusters: int = 10, profile: str = "quick", seed: int = 0, device="auto",
        root=None, classes=None, per_class: int | None = None, progress: bool = True, executor: str = "inline",
        workers: int | None = None, ray_address: str | None = None, announce=None, **overrides) -> Tree:
    """Grow a tree on a dataset into ``run_dir`` (resuming what is there) and return it.

    ``announce(line)``: told which images were loaded (the command line prints it).

    ``executor``, ``workers``, ``ray_address``: how many splits train at once and where (see
    :func:`~hcmgan_lite.tree.grow_tree`); they do not change the tree, so a run may be resumed
    with another executor.

    Everything is checked first (the arguments, the settings, the data, and that a tree already in
    ``run_dir`` was grown with the same configuration); only then, holding the run dir's lock, is
    ``config.json`` written, so a refused command leaves the run dir as it was (or uncreated).
    """
    import numbers
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"run dir {run_dir} is a file; a run dir must be a folder")
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, numbers.Integral) or n_clusters < 2:
        raise ValueError(f"n_clusters (--clusters) must be an integer >= 2, got {n_clusters!r}")
    if per_class is not None and (isinstance(per_class, bool) or not isinstance(per_class, numbers.Integral)
                                  or per_class < 1):
        raise ValueError(f"per_class (--per-class) must be a positive integer, got {per_class!r}")
    dev = pick_device(device)
    checked_executor(executor, workers, dev, ray_address)
    settings = get_settings(profile, dataset, seed=seed, **overrides)
    config = {"dataset": dataset, "n_clusters": n_clusters, "profile": profile, "seed": seed,
              "classes": classes, "per_class": per_class, "overrides": overrides}
    data = load_subset(dataset, root, classes, per_class, seed=0, announce=announce)
    if len(data) < n_clusters:
        raise ValueError(f"n_clusters (--clusters) is {n_clusters} but the data holds only {len(data)} images")
    cfg_path = run_dir / "config.json"

    def write_config(tree):   # called by grow_tree after its own checks (same data and settings as tree.pt)
        if not cfg_path.exists():
            tmp = cfg_path.with_name(cfg_path.name + ".tmp")
            tmp.write_text(json.dumps(config, indent=2))
            tmp.replace(cfg_path)

    t0 = time.perf_counter()
    with run_lock(run_dir):   # from here on no other process writes into run_dir
        if cfg_path.exists():
            try:
                old = json.loads(cfg_path.read_text())
            except ValueError as exc:
                raise ValueError(f"{cfg_path} is not valid JSON ({exc}); fix or delete it") from exc
            new = json.loads(json.dumps(config))
            if old != new:
                diff = "; ".join(f"{k}: {old.get(k)!r} there, {new.get(k)!r} now"
                                 for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k))
                raise ValueError(f"{run_dir} holds a run with another configuration ({diff}); "
                                 "run the same command to resume it, or use another run_dir")
        tree = grow_tree(data, n_clusters, settings, dev, run_dir, progress=progress, on_start=write_config,
                         executor=executor, workers=workers, ray_address=ray_address)
    log.info("grew %s in %.0f s on %s", tree, time.perf_counter() - t0, dev)
    return tree


# ---- saved runs --------------------------------------------------------------------
def latest_run(runs, pattern: str = "*") -> Path | None:
    """The most recently written run directory ``runs/<pattern>`` that holds a tree, or None."""
    found = sorted(Path(runs).glob(f"{pattern}/tree.pt"), key=lambda p: p.stat().st_mtime)
    return found[-1].parent if found else None


def load_run(path, root=None) -> tuple[Tree, ImageData | None]:
    """A saved tree (a run directory or its ``tree.pt``) and the images it was grown on.

    The images come back when the run directory's ``config.json`` (written by :func:`fit`)
    names them and they can be loaded and match the tree (same number, same pixels);
    otherwise the second value is None and the tree alone is returned.
    """
    path = Path(path)
    tree = Tree.load(path)
    config = (path if path.is_dir() else path.parent) / "config.json"
    if not config.is_file():
        return tree, None
    try:
        cfg = json.loads(config.read_text())
        data = load_subset(cfg["dataset"], root, cfg.get("classes"), cfg.get("per_class"))
    except (FileNotFoundError, KeyError, ValueError) as exc:
        log.info("the images of %s were not loaded: %s", path, exc)
        return tree, None
    if len(data) != tree.n_images or (tree.data_digest and data_digest(data.images) != tree.data_digest):
        return tree, None
    return tree, data


def sop_data(per_class: int | None = 300, root=None, stand_in=("Trouser", "Bag", "Sneaker", "Dress")):
    """(data, source, real): Stanford Online Products if it is under the data root, else a stand-in.

    The stand-in is ``per_class`` Fashion-MNIST images of each class in ``stand_in``, written in
    SOP's folder layout (:func:`~hcmgan_lite.data.write_sop_layout`, with the kettle and lamp decoys)
    and read back with :func:`~hcmgan_lite.data.load_sop`: the SOP pipeline runs for real, but its
    numbers are not SOP numbers, and ``source`` says so.
    """
    import tempfile
    from .data import find_data_root, load_fashion_mnist, load_sop, write_sop_layout
    base = find_data_root(root)
    if (base / "Stanford_Online_Products").is_dir():
        return load_sop(base, max_per_class=per_class), f"Stanford Online Products from {base}", True
    fm = load_fashion_mnist(root).subset(classes=list(stand_in), per_class=per_class or 300)
    with tempfile.TemporaryDirectory(prefix="sop-standin-") as tmp:   # read into memory, then removed
        data = load_sop(write_sop_layout(fm, tmp).parent, progress=False)
    source = (f"a stand-in in SOP's folder layout built from {len(fm):,} Fashion-MNIST images "
              f"({', '.join(fm.class_names)}), because Stanford Online Products was not found under {base}")
    return data, source, False


def refinement_chain(X, s_l, s_m, settings, n: int, guard: bool = False, seed: int = 0, device=None,
                     cache: dict | None = None) -> dict:
    """``n`` refinements of one split in a row, as Algorithm 1 runs them; returns what each did.

    With ``guard`` a refinement is kept only if it lowers :func:`~hcmgan_lite.tree.split_entropy`
    (the library's ``refine_guard``); otherwise every refinement is kept (the paper).
    Refinement ``t`` is seeded with ``seed * 1000 + t``; pass the same ``cache`` dict to two chains
    to train a refinement once when both start it from the same memberships.
    Returns ``{"history": [s_l after raw split, after refinement 1, ...], "kept": [bool, ...],
    "results": [SplitResult, ...], "seconds": training time}``.
    """
    from .training import refine
    from .tree import split_entropy
    cache = {} if cache is None else cache
    s_l, s_m = torch.as_tensor(s_l).cpu().float(), torch.as_tensor(s_m).cpu().float()
    s_k = s_l + s_m
    history, kept, results, seconds = [s_l], [], [], 0.0
    for t in range(1, n + 1):
        if t not in cache or not torch.equal(cache[t][0], s_l):
            torch.manual_seed(seed * 1000 + t)
            t0 = time.perf_counter()
            cache[t] = (s_l, refine(X, s_l.to(X.device), s_m.to(X.device), settings, device,
                                    desc=f"refinement {t}"), time.perf_counter() - t0)
        _, r, sec = cache[t]
        seconds += sec
        new_l, new_m = r.s_l.cpu().float(), r.s_m.cpu().float()
        keep = not guard or split_entropy(new_l, s_k) <= split_entropy(s_l, s_k)
        if keep:
            s_l, s_m = new_l, new_m
        history.append(s_l)
        kept.append(keep)
        results.append(r)
    return {"history": history, "kept": kept, "results": results, "seconds": seconds}


def refinement_summary(splits: list[dict]) -> dict:
    """Over the splits refined by ``benchmarks/refine_splits.py``: how many there were, how many rose in purity
    after the last refinement, the mean and range of the change, and how many the guard would have kept."""
    d = [sp["stages"][-1]["purity"] - sp["stages"][0]["purity"] for sp in splits]
    return {"n": len(d), "rose": sum(x > 0 for x in d), "mean_change": float(np.mean(d)) if d else None,
            "min_change": min(d, default=None), "max_change": max(d, default=None),
            "kept_by_guard": sum(bool(sp["stages"][-1]["guard_keeps"]) for sp in splits)}


def refinement_markdown(res: dict) -> str:
    """A table of one tree's splits (largest first): images, steps, purity after the raw split and after each
    refinement, whether the guard keeps the last one; then a sentence from :func:`refinement_summary`."""
    splits = sorted(res["splits"], key=lambda sp: -sp["mass"])
    n_ref = res["refinements"]
    head = ["split", "images", "steps (raw)", "purity raw"] + [f"after refinement {t}" for t in range(1, n_ref + 1)]
    lines = ["| " + " | ".join(head + ["change", "guard keeps it"]) + " |", "|" + "---|" * (len(head) + 2)]
    for sp in splits:
        st = sp["stages"]
        lines.append("| " + " | ".join([sp["path"] or "root", f"{sp['mass']:,.0f}", str(st[0]["steps"])]
                                       + [f"{x['purity']:.3f}" for x in st]
                                       + [f"{round(st[-1]['purity'] - st[0]['purity'], 3) + 0:+.3f}",
                                          "yes" if st[-1]["guard_keeps"] else "no"]) + " |")
    sm = refinement_summary(splits)
    if sm["n"]:
        lines += ["", f"Purity rose in {sm['rose']} of {sm['n']} splits; the change was {sm['mean_change']:+.3f} "
                      f"on average (from {sm['min_change']:+.3f} to {sm['max_change']:+.3f}); the guard would keep "
                      f"{sm['kept_by_guard']} of the {sm['n']} refinements."]
    return "\n".join(lines)


# ---- one split, watched closely (the ablations of the raw-split chapter) ----------------------
def collapse_verdict(history: dict, settings) -> dict:
    """What the collapse check says of a finished training's log, without acting on it.

    ``flagged`` is True when, from where the run watches (``collapse_after`` of the
    training, or epoch ``collapse_epoch``) on, a
    logged spread ratio (the least varied generator's spread over its real
    batch's) fell below ``settings.collapse_spread``: the spread check of
    :meth:`~hcmgan_lite.training.SplitGAN.train`, judged with ``settings``
    whatever the run itself watched for.  (D's loss, the other check, is not
    judged here.)
    """
    steps = history.get("step", [])
    if not steps:
        return {"flagged": False, "threshold": settings.collapse_spread, "min_spread_ratio": None,
                "final_spread_ratio": None, "final_spread_ratio_each": []}
    from .training import watch_start
    start = watch_start(settings, steps[-1])
    watched = [i for i, t in enumerate(steps) if t >= start]
    ratios = history.get("spread_ratio", [])
    low_spread = any(ratios[i] < settings.collapse_spread for i in watched) if ratios else False
    each = history.get("spread_ratio_each") or [[]]
    return {"flagged": bool(low_spread), "threshold": settings.collapse_spread,
            "min_spread_ratio": min(ratios[i] for i in watched) if ratios else None,
            "final_spread_ratio": ratios[-1] if ratios else None,
            "final_spread_ratio_each": list(each[-1]),
            "final_g_spread": history["g_std"][-1] if history.get("g_std") else None,
            "final_real_spread": history["real_std"][-1] if history.get("real_std") else None}


def split_experiment(dataset: str, classes=None, per_class: int | None = None, profile: str = "quick",
                     seed: int = 0, device="cpu", root=None, progress: bool = True, announce=None,
                     **overrides) -> dict:
    """One split of a dataset's images (a raw split, then ``refinements`` refinements), measured.

    No retries and no collapse action (``collapse_loss`` and ``collapse_spread``
    are switched off for the run), so that every setting shows what it does;
    what the collapse check *would* have said is in ``collapse`` (judged with
    the profile's thresholds).  Returns a JSON-ready dict: the configuration, and
    per stage the two-way ACC (each image to its larger share), the
    majority-side purity, the generators' and the real images' spread, the
    classifier's accuracy and the seconds.
    """
    from .training import raw_split, refine
    dev = pick_device(device)
    judge = get_settings(profile, dataset, seed=seed, **overrides)
    s = judge.replace(collapse_loss=0.0, collapse_spread=0.0)
    data = load_subset(dataset, root, classes, per_class, seed=0, announce=announce)
    X = data.images.to(dev)
    s_k = torch.ones(len(data), device=dev)
    torch.manual_seed(seed)
    stages, t_all = [], time.perf_counter()
    res = raw_split(X, s_k, s, dev, progress=progress)
    s_l = res.s_l
    for t in range(s.refinements + 1):
        if t > 0:
            res = refine(X, s_l, s_k - s_l, s, dev, desc=f"refinement {t}", progress=progress)
            s_l = res.s_l
        a, b = s_l.cpu(), (s_k - s_l).cpu()
        h = res.log.history
        stages.append({"stage": "raw" if t == 0 else f"refinement {t}", "steps": res.log.steps,
                       "seconds": round(res.log.seconds, 2),
                       "acc": evaluate(data.labels, (b > a).long())["acc"] if data.labels is not None else None,
                       "purity": majority_side_purity(a, b, data.labels) if data.labels is not None else None,
                       "smaller_side": float(min(a.sum(), b.sum()) / s_k.sum()),
                       "c_acc": h["c_acc"][-1], "d_fake": h["d_fake"][-1],
                       "collapse": collapse_verdict(h, judge),
                       "history": {k: [round(v, 4) for v in h.get(k, [])]
                                   for k in ("step", "d_fake", "c_acc", "g_std", "spread_ratio")}})
    return {"dataset": dataset, "classes": classes, "per_class": per_class, "n_images": len(data),
            "profile": profile, "seed": seed, "overrides": overrides, "settings": s.to_dict(),
            "device": str(dev), "threads": torch.get_num_threads(), "torch": torch.__version__,
            "seconds": round(time.perf_counter() - t_all, 1), "stages": stages}


def two_means(dataset: str, classes=None, per_class: int | None = None, root=None, seed: int = 0) -> dict:
    """k-means with 2 clusters on the pixels of a split's images: its two-way ACC and majority-side purity."""
    from sklearn.cluster import KMeans
    data = load_subset(dataset, root, classes, per_class, seed=0)
    pred = KMeans(2, n_init=10, random_state=seed).fit_predict(data.images.reshape(len(data), -1).cpu().numpy())
    side = torch.as_tensor(pred == 0, dtype=torch.float32)
    return {"acc": evaluate(data.labels, pred)["acc"], "purity": majority_side_purity(side, 1 - side, data.labels)}


def curve_points(results: list[dict], metric: str) -> dict:
    """``{generator width: {steps: [the raw split's metric, one per seed]}}`` from ``split`` results."""
    groups: dict = {}
    for r in results:
        st = r["stages"][0]
        groups.setdefault(r["settings"]["g_width"], {}).setdefault(st["steps"], []).append(st[metric])
    return groups


def compute_summary(results: list[dict], metric: str, level: float, what: str, level_name: str = "k-means") -> str:
    """One sentence on a compute curve: the mean at each step count, and where (if anywhere) it passes ``level``."""
    parts = []
    for w, pts in sorted(curve_points(results, metric).items()):
        xs = sorted(pts)
        means = {n: float(np.mean(pts[n])) for n in xs}
        seeds = sorted({len(pts[n]) for n in xs})
        above = [n for n in xs if means[n] > level]
        where = (f"first above {level_name} ({level:.3f}) at {above[0]:,} steps" if above
                 else f"below {level_name} ({level:.3f}) at every step count measured, up to {xs[-1]:,}")
        parts.append(f"width {w}: " + ", ".join(f"{means[n]:.3f} at {n:,}" for n in xs)
                     + f" steps ({'-'.join(str(k) for k in seeds)} seed{'s' if seeds[-1] > 1 else ''} a point); {where}")
    return f"**{what}** ({metric}, mean over seeds): " + "; ".join(parts) + "."


def load_step_cost(path) -> tuple[dict, str]:
    """``({generator width: seconds per raw-split step}, the machine measured)`` from the JSON that
    ``benchmarks/step_cost.py`` writes."""
    d = json.loads(Path(path).read_text())
    return {int(w): float(s) for w, s in d["seconds_per_step"].items()}, d["machine"]


def compute_cost_summary(results: list[dict], metric: str, level: float, cost: dict, what: str,
                         level_name: str = "k-means") -> str:
    """One sentence on what a compute curve costs: for each width with a ``cost`` (:func:`load_step_cost`), the
    first step count whose mean passes ``level`` and the minutes of one CPU thread it takes, and which width
    gets there soonest."""
    first = {}
    parts = []
    for w, pts in sorted(curve_points(results, metric).items()):
        if w not in cost:
            continue
        above = [n for n in sorted(pts) if float(np.mean(pts[n])) > level]
        if above:
            first[w] = above[0] * cost[w] / 60
            parts.append(f"width {w} at {above[0]:,} steps, {first[w]:.1f} min")
        else:
            parts.append(f"width {w} not up to {max(pts):,} steps ({max(pts) * cost[w] / 60:.1f} min)")
    if not parts:
        return f"**{what}**: no width of the curve has a measured step cost."
    best = (f"; soonest: width {min(first, key=first.get)}" if first else "")
    return (f"**{what}**, first mean above {level_name} ({level:.3f}), in minutes of one CPU thread per GAN: "
            + "; ".join(parts) + best + ".")


def ablation_rows(results: list[dict], baseline: str = "authors' code") -> list[dict]:
    """Summaries of split experiments grouped by their ``variant`` field (mean, std, n over seeds)."""
    groups: dict[str, list[dict]] = {}
    for r in results:
        groups.setdefault(r.get("variant", baseline), []).append(r)
    rows = []
    for name, rs in groups.items():
        first, last = [r["stages"][0] for r in rs], [r["stages"][-1] for r in rs]
        rows.append({"variant": name, "seeds": sorted(r["seed"] for r in rs), "n_images": rs[0]["n_images"],
                     "acc_raw": _stats([f["acc"] for f in first]), "acc_final": _stats([f["acc"] for f in last]),
                     "purity_raw": _stats([f["purity"] for f in first]),
                     "purity_final": _stats([f["purity"] for f in last]),
                     "spread_ratio": _stats([f["collapse"]["final_spread_ratio"] for f in first]),
                     "smaller_side": _stats([f["smaller_side"] for f in first]),
                     "g_spread": _stats([f["collapse"]["final_g_spread"] for f in first]),
                     "flagged": sum(f["collapse"]["flagged"] for f in first),
                     "refinements": len(rs[0]["stages"]) - 1,
                     "seconds": _stats([r["seconds"] for r in rs])})
    return rows


def ablation_markdown(rows: list[dict], metric: str = "acc") -> str:
    """The ablation table: one row per variant, mean ± sample std over its seeds.

    "spread ÷ real": the least varied generator's spread over the real images' at the end of the raw split;
    "check fires": in how many seeds the collapse check would have fired.
    """
    def ms(st, d=3):
        return f"{st['mean']:.{d}f} ± {st['std']:.{d}f}" if st["n"] > 1 else f"{st['mean']:.{d}f}"
    name = {"acc": "ACC", "purity": "purity"}[metric]
    refine = any(r["refinements"] for r in rows)
    head = ["variant", f"{name} (raw split)"] + ([f"{name} (refined)"] if refine else []) + [
        "smaller side", "spread ÷ real", "check fires", "seconds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["variant"], ms(r[f"{metric}_raw"])]
        if refine:
            cells.append(ms(r[f"{metric}_final"]) if r["refinements"] else "")
        cells += [f"{r['smaller_side']['mean']:.0%}", ms(r["spread_ratio"], 2),
                  f"{r['flagged']} of {len(r['seeds'])}", f"{r['seconds']['mean']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ablation_summary(tables: dict, baseline: str = "quick profile") -> str:
    """Sentences comparing each variant with ``baseline``, computed from :func:`ablation_rows` of each split.

    ``tables`` maps a split's name (``"running-example"``, ``"fmnist-root"``) to its rows; the running example
    is read by ACC, any other split by purity.
    """
    out = []
    for split, rows in tables.items():
        metric = "acc" if split == "running-example" else "purity"
        base = next((r for r in rows if r["variant"] == baseline), None)
        if base is None:
            continue
        parts = []
        for r in rows:
            if r["variant"] == baseline or r["refinements"]:
                continue
            d = r[f"{metric}_raw"]["mean"] - base[f"{metric}_raw"]["mean"]
            parts.append(f"{r['variant']}: {metric.upper() if metric == 'acc' else metric} "
                         f"{r[f'{metric}_raw']['mean']:.3f} ({d:+.3f}), spread ratio "
                         f"{r['spread_ratio']['mean']:.2f}, check fired in {r['flagged']} of {len(r['seeds'])}")
        name = {"running-example": "Threes vs fives", "fmnist-root": "Fashion-MNIST root"}.get(split, split)
        raw_rows = [r for r in rows if not r["refinements"]]
        best = max(raw_rows, key=lambda r: r[f"{metric}_raw"]["mean"])
        parts.append(f"the highest mean {metric.upper() if metric == 'acc' else metric} came from "
                     f"*{best['variant']}*, whose collapse check fired in {best['flagged']} of {len(best['seeds'])} runs")
        out.append(f"* **{name}**, against the quick profile ({metric.upper() if metric == 'acc' else metric} "
                   f"{base[f'{metric}_raw']['mean']:.3f}, spread ratio {base['spread_ratio']['mean']:.2f}, check "
                   f"fired in {base['flagged']} of {len(base['seeds'])}): " + "; ".join(parts) + ".")
        ref = [r for r in rows if r["refinements"]]
        if ref:
            out.append("* **One refinement** of the threes-vs-fives split: " + "; ".join(
                f"{r['variant']}: ACC {r['acc_raw']['mean']:.3f} → {r['acc_final']['mean']:.3f} "
                f"({r['acc_final']['mean'] - r['acc_raw']['mean']:+.3f})" for r in ref) + ".")
    return "\n".join(out)


def load_results(folder) -> list[dict]:
    """Every ``*.json`` result in a folder, sorted by file name."""
    paths = sorted(Path(folder).glob("*.json"))
    if not paths:
        raise FileNotFoundError(f"no results (*.json) in {folder}")
    return [json.loads(p.read_text()) for p in paths]


def baselines(data: ImageData, n_clusters: int, seed: int = 0, ward_max: int = 20000) -> dict:
    """k-means and agglomerative (Ward) clustering on the raw pixels of the same images."""
    from sklearn.cluster import AgglomerativeClustering, KMeans
    X = data.images.reshape(len(data), -1).cpu().numpy()
    out = {}
    t = time.perf_counter()
    km = KMeans(n_clusters, n_init=10, random_state=seed).fit_predict(X)
    out["k-means"] = {**evaluate(data.labels, km), "seconds": time.perf_counter() - t}
    if len(X) <= ward_max:  # Ward needs O(N^2) memory
        t = time.perf_counter()
        ward = AgglomerativeClustering(n_clusters, linkage="ward").fit_predict(X)
        out["ward"] = {**evaluate(data.labels, ward), "seconds": time.perf_counter() - t}
    return out


def split_purities(tree: Tree) -> list[dict]:
    """Per split: share of the mass on each class's majority side, after the raw split and at the end."""
    if tree.labels is None:
        return []
    rows = []
    for k in tree.splits:
        node = tree.nodes[k]
        s_k = node.membership
        raw = majority_side_purity(node.history[0], s_k - node.history[0], tree.labels)
        final = majority_side_purity(node.history[-1], s_k - node.history[-1], tree.labels)
        rows.append({"node": k, "children": list(node.children), "mass": round(float(s_k.sum()), 1),
                     "purity_raw": raw, "purity_final": final, "retries": len(node.retries)})
    return rows


def tree_scores(tree: Tree) -> dict:
    """ACC/NMI/ARI/mean per-class ACC of the full tree and of the raw splits alone."""
    if tree.labels is None:
        return {}
    return {"final": evaluate(tree.labels, tree.predict()), "per_cut": {
        n: evaluate(tree.labels, tree.predict(n)) for n in range(2, tree.n_leaves + 1)}}


def report(run_dir, with_baselines: bool = False, root=None, figure: bool = True) -> dict:
    """Scores, per-split purity, time and device of a run; writes report.json, report.md and tree.png."""
    run_dir = Path(run_dir)
    tree = Tree.load(run_dir)
    cfg = json.loads((run_dir / "config.json").read_text()) if (run_dir / "config.json").exists() else {}
    rep = {"run_dir": str(run_dir), "config": cfg, "n_images": tree.n_images, "n_leaves": tree.n_leaves,
           "complete": tree.pending is None and tree.n_leaves == cfg.get("n_clusters", tree.n_leaves),
           "seconds": round(tree.seconds, 1), "wall_seconds": round(tree.wall, 1), "device": tree.device,
           "seeding": tree.seeding,
           "device_name": tree.env.get("device_name", ""), "host": tree.env.get("host", platform.node()),
           "environments": tree.envs,
           "torch": tree.env.get("torch", torch.__version__), "settings": tree.settings.to_dict(),
           "scores": tree_scores(tree), "splits": split_purities(tree),
           "leaf_sizes": torch.bincount(tree.predict(), minlength=tree.n_leaves).tolist(),   # images per leaf (argmax)
           "retries": sum(len(n.retries) for n in tree.nodes)}
    if tree.labels is not None:   # where each class's mass went: a row per leaf, % of the class's mass
        rep["leaves"] = tree.leaves()
        rep["class_names"] = tree.class_names
        rep["class_mass"] = np.round(class_mass_table(tree.memberships(), tree.labels, tree.class_names), 2).tolist()
    if with_baselines and cfg.get("dataset") and tree.labels is not None:
        data = load_subset(cfg["dataset"], root, cfg.get("classes"), cfg.get("per_class"))
        if len(data) != tree.n_images or (tree.data_digest and data_digest(data.images) != tree.data_digest):
            raise ValueError(f"the {cfg['dataset']} images found now ({len(data)} from {data_source(root)}) are not "
                             f"the {tree.n_images} the tree in {run_dir} was grown on; the baselines would be "
                             "computed on other images. Point HCMGAN_DATA (or --data-root) at the data of the run")
        rep["baselines"] = baselines(data, tree.n_leaves, seed=cfg.get("seed", 0))
        rep["baselines_images"] = f"the tree's own {len(data):,} images (fingerprint {tree.data_digest})"
    (run_dir / "report.json").write_text(json.dumps(rep, indent=2, default=_jsonable))
    (run_dir / "report.md").write_text(report_markdown(rep))
    if figure:
        try:
            from .figures import tree_figure
            fig = tree_figure(tree)
            fig.savefig(run_dir / "tree.png", dpi=110, bbox_inches="tight")
            import matplotlib.pyplot as plt
            plt.close(fig)
        except Exception as exc:  # a report without its figure is still a report
            log.warning("tree figure not written: %s", exc)
    return rep


def _jsonable(x):
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, torch.Tensor):
        return x.tolist()
    return str(x)


def report_markdown(rep: dict) -> str:
    cfg = rep.get("config", {})
    lines = [f"# HC-MGAN Lite run: {cfg.get('dataset', '?')}, profile {cfg.get('profile', '?')}, seed {cfg.get('seed', '?')}",
             "", f"{rep['n_images']} images, {rep['n_leaves']} leaves, {rep['seconds']:.0f} s on {rep['device']}"
             + (f" ({rep['device_name']})" if rep.get("device_name") else "") +
             f" (torch {rep['torch']}); retries: {rep['retries']}", ""]
    envs = rep.get("environments") or []
    if len(envs) > 1:   # a run resumed elsewhere: every machine it was grown on
        lines += ["Grown on, in order: " + "; ".join(
            f"{e.get('device_name', '?')} ({e.get('host', '?')}, torch {e.get('torch', '?')}, "
            f"{e.get('threads', '?')} threads)" for e in envs), ""]
    rows = []
    if rep["scores"]:
        rows.append(("HC-MGAN", rep["scores"]["final"]))
    rows += list(rep.get("baselines", {}).items())
    if rows:
        lines += ["| method | ACC | NMI | ARI | mean per-class ACC |", "|---|---|---|---|---|"]
        lines += [f"| {name} | {r['acc']:.3f} | {r['nmi']:.3f} | {r['ari']:.3f} | {r['mean_per_class_acc']:.3f} |"
                  for name, r in rows]
        lines.append("")
    if rep["splits"]:
        lines += ["| split node | children | mass | purity after raw split | after refinement | retries |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {r['node']} | {r['children'][0]}, {r['children'][1]} | {r['mass']:.0f} | {r['purity_raw']:.3f}"
                  f" | {r['purity_final']:.3f} | {r['retries']} |" for r in rep["splits"]]
    return "\n".join(lines) + "\n"


# Table 1 of the paper (ACC, NMI): HC-MGAN with and without refinements, and the classical baselines.
PAPER_TABLE1 = {
    "mnist": {"HC-MGAN (paper)": (.943, .905), "HC-MGAN raw splits only (paper)": (.877, .856),
              "k-means (paper)": (.572, .500), "agglomerative (paper)": (.695, .609)},
    "fashion-mnist": {"HC-MGAN (paper)": (.721, .691), "HC-MGAN raw splits only (paper)": (.704, .690),
                      "k-means (paper)": (.474, .512), "agglomerative (paper)": (.500, .564)},
    "sop": {"HC-MGAN (paper; ACC = mean per-class ACC)": (.229, .072),
            "HC-MGAN raw splits only (paper)": (.204, .063)},
}


def comparison_rows(rep: dict, dataset: str) -> list[tuple]:
    """(method, data, ACC, NMI, mean per-class ACC) rows: this run, baselines on the same images, the paper."""
    what = f"{rep['n_images']:,} images"
    rows = []
    if rep["scores"]:
        f = rep["scores"]["final"]
        rows.append((f"HC-MGAN Lite ({rep['config'].get('profile', '?')} profile)", what, f["acc"], f["nmi"],
                     f["mean_per_class_acc"]))
    for name, r in rep.get("baselines", {}).items():
        rows.append((f"{name} on raw pixels", what, r["acc"], r["nmi"], r["mean_per_class_acc"]))
    for name, (acc, nmi) in PAPER_TABLE1.get(dataset, {}).items():
        rows.append((name, "all images", acc, nmi, float("nan")))
    return rows


def comparison_markdown(rows) -> str:
    out = ["| method | data | ACC | NMI | mean per-class ACC |", "|---|---|---|---|---|"]
    for name, what, acc, nmi, mpc in rows:
        out.append(f"| {name} | {what} | {acc:.3f} | {nmi:.3f} | {'' if mpc != mpc else f'{mpc:.3f}'} |")
    return "\n".join(out)


# ---- several runs (seeds) -------------------------------------------------------
def load_reports(paths) -> list[dict]:
    """report.json files (or run directories holding one), in the order given."""
    out = []
    for p in paths:
        p = Path(p)
        p = p / "report.json" if p.is_dir() else p
        if not p.is_file():
            raise FileNotFoundError(f"no report at {p}; run `python -m hcmgan_lite report <run_dir>` first")
        out.append(json.loads(p.read_text()))
    return out


def _stats(values) -> dict:
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max()), "n": int(len(v)), "values": v.tolist()}


def seed_summary(reports: list[dict]) -> dict:
    """Mean, sample standard deviation, min and max over runs of ACC, NMI, ARI, mean per-class ACC and time.

    Baselines (k-means, Ward) are summarised over the reports that hold them.
    Runs on different data (image count, dataset, classes) are refused.
    """
    if not reports:
        raise ValueError("seed_summary needs at least one report")
    keys = {(r["n_images"], r["config"].get("dataset"), json.dumps(r["config"].get("classes")),
             r["config"].get("per_class")) for r in reports}
    if len(keys) > 1:
        raise ValueError(f"the reports are of different data: {sorted(keys)}")
    out = {"seeds": [r["config"].get("seed") for r in reports], "n_images": reports[0]["n_images"],
           "device": sorted({r.get("device_name") or r["device"] for r in reports}),
           "seconds": _stats([r["seconds"] for r in reports]),
           "retries": sum(r.get("retries", 0) for r in reports), "methods": {},
           "smallest_leaf": [min(r["leaf_sizes"]) for r in reports if r.get("leaf_sizes")]}
    named = [("HC-MGAN", [r["scores"]["final"] for r in reports])]
    for name in ("k-means", "ward"):
        named.append((name, [r["baselines"][name] for r in reports if name in r.get("baselines", {})]))
    for name, scores in named:
        if scores:
            out["methods"][name] = {m: _stats([s[m] for s in scores])
                                    for m in ("acc", "nmi", "ari", "mean_per_class_acc")}
    return out


def seed_markdown(summary: dict) -> str:
    """A table: method, runs, ACC and NMI as mean ± sample std (min-max)."""
    def fmt(st):
        return (f"{st['mean']:.3f} ± {st['std']:.3f} ({st['min']:.3f}–{st['max']:.3f})" if st["n"] > 1
                else f"{st['mean']:.3f}")
    lines = ["| method | runs | ACC mean ± std (min–max) | NMI mean ± std (min–max) |", "|---|---|---|---|"]
    for name, m in summary["methods"].items():
        lines.append(f"| {name} | {m['acc']['n']} | {fmt(m['acc'])} | {fmt(m['nmi'])} |")
    return "\n".join(lines)


def seed_section(reports: list[dict]) -> str:
    """What a benchmark chapter shows for the committed seeds of a run: a note if they were grown before the
    latent fix, the :func:`seed_markdown` table, and a line on the images, seeds, time, retrained GANs and the
    smallest leaf of each seed."""
    summ = seed_summary(reports)
    leaves = (f"; the smallest leaf under the argmax holds {' / '.join(map(str, summ['smallest_leaf']))} "
              "images (one number per seed)." if summ["smallest_leaf"] else ".")
    return (grown_before_the_fix(reports) + "\n\n" + seed_markdown(summ) + "\n\n"
            f"{summ['n_images']:,} images, seeds {summ['seeds']}; training {summ['seconds']['mean'] / 60:.1f} min "
            f"per run on average ({', '.join(summ['device'])}); {summ['retries']} retrained GANs in all" + leaves)


def versus_baselines(summary: dict, metric: str = "acc") -> str:
    """'above k-means but below ward in ACC ...': HC-MGAN's mean against the baselines' in a seed summary."""
    m = summary["methods"]
    hc = m["HC-MGAN"][metric]["mean"]
    names = [n for n in ("k-means", "ward") if n in m]
    above = [n for n in names if hc > m[n][metric]["mean"]]
    below = [n for n in names if n not in above]
    parts = ([f"above {' and '.join(above)}"] if above else []) + ([f"below {' and '.join(below)}"] if below else [])
    return " but ".join(parts) + f" in {metric.upper()} on the same images" if parts else "no baselines to compare"


def grown_before_the_fix(reports) -> str:
    """A warning (Markdown) when any report's tree was grown with Table 2's U[0,1] latent, else ''.

    Reports written before the ``latent`` setting existed have no such entry: those versions drew z from
    U[0, 1], under which each generator learned to draw one image for every latent code.
    """
    from .settings import LEGACY
    old = [r for r in reports if r.get("settings", {}).get("latent", LEGACY["latent"]) == "positive"]
    if not old:
        return ""
    return (f"```{{warning}}\n{len(old)} of these {len(reports)} runs were grown with Table 2's latent code, "
            "z ~ U[0, 1], with which every generator draws one image for every code (see \"The MGAN raw split\"); "
            "their numbers measure that collapsed method, not HC-MGAN, and are kept as a record until they are "
            "grown again.\n```")


def runs_markdown(runs) -> str:
    """A table of finished runs: ``runs`` is a list of (name, report) or (name, [reports of several seeds]).

    Columns: images, schedule (epochs, refinements, generator width), ACC,
    NMI (mean ± sample std over seeds), training time and device. A single
    report with baselines gets a row per baseline right after it.
    """
    def cell(st):
        return f"{st['mean']:.3f} ± {st['std']:.3f}" if st["n"] > 1 else f"{st['mean']:.3f}"
    lines = ["| run | images | schedule | ACC | NMI | training time | device |", "|---|---|---|---|---|---|---|"]
    for name, reps in runs:
        reps = reps if isinstance(reps, list) else [reps]
        summ = seed_summary(reps)
        st, hc = reps[0]["settings"], summ["methods"]["HC-MGAN"]
        schedule = f"{st['epochs']:g} epochs, {st['refinements']} refinements, width {st['g_width']}"
        each = " each" if len(reps) > 1 else ""
        lines.append(f"| {name} | {summ['n_images']:,} | {schedule} | {cell(hc['acc'])} | {cell(hc['nmi'])} | "
                     f"{summ['seconds']['mean'] / 60:.1f} min{each} | {', '.join(summ['device'])} |")
        if len(reps) == 1:
            for b, r in reps[0].get("baselines", {}).items():
                lines.append(f"| {b} (same images) | {summ['n_images']:,} | | {r['acc']:.3f} | {r['nmi']:.3f} | | |")
    return "\n".join(lines)


def paired_rows(results, dataset: str, folders: dict) -> list[dict]:
    """The same seeds grown two (or more) ways: ``folders`` maps a label to a seed folder under ``results``
    (``scripts/seeds.sh``), the first being the one the others are compared with. One row per label and seed
    that it shares with the first folder (the first: the seeds any other shares): ACC, NMI, the root split's
    purity, the mass-weighted mean purity of the splits below the root, the smallest leaf and the time."""
    reps = {label: {r["config"]["seed"]: r for r in load_reports(sorted((Path(results) / f).glob(f"{dataset}-s*.json")))}
            for label, f in folders.items()}
    if not reps:
        return []
    base, *others = reps
    shared = {label: set(reps[label]) & set(reps[base]) for label in others}
    shared[base] = set().union(*shared.values()) if others else set(reps[base])
    rows = []
    for label in folders:
        for seed in sorted(shared[label]):
            r = reps[label][seed]
            below = [sp for sp in r["splits"] if sp["node"] != 0]
            mass = sum(sp["mass"] for sp in below)
            rows.append({"label": label, "seed": seed, "acc": r["scores"]["final"]["acc"],
                         "nmi": r["scores"]["final"]["nmi"],
                         "root_purity": next(sp["purity_final"] for sp in r["splits"] if sp["node"] == 0),
                         "below_purity": sum(sp["purity_final"] * sp["mass"] for sp in below) / mass if mass else None,
                         "smallest_leaf": min(r["leaf_sizes"]) if r.get("leaf_sizes") else None,
                         "minutes": r["seconds"] / 60})
    return rows


def paired_markdown(rows: list[dict]) -> str:
    """:func:`paired_rows` as a table, each label's seeds then their mean."""
    cols = ("acc", "nmi", "root_purity", "below_purity")
    lines = ["| run | seed | ACC | NMI | root split purity | purity of the splits below (mass-weighted) "
             "| smallest leaf | minutes |", "|---|---|---|---|---|---|---|---|"]
    for label in dict.fromkeys(r["label"] for r in rows):
        mine = [r for r in rows if r["label"] == label]
        for r in mine:
            lines.append(f"| {label} | {r['seed']} | " + " | ".join(f"{r[c]:.3f}" for c in cols)
                         + f" | {r['smallest_leaf']} | {r['minutes']:.1f} |")
        if len(mine) > 1:
            lines.append(f"| **{label}, mean** | {len(mine)} seeds | "
                         + " | ".join(f"**{np.mean([r[c] for r in mine]):.3f}**" for c in cols) + " | | |")
    return "\n".join(lines)


def paired_summary(rows: list[dict], base: str, other: str) -> str:
    """One sentence: ``other`` against ``base`` on the same seeds (means, and in how many seeds it is higher)."""
    b = [r for r in rows if r["label"] == other]
    a = [next(x for x in rows if x["label"] == base and x["seed"] == y["seed"]) for y in b]
    if not b:
        return f"no seed holds both {base!r} and {other!r}"
    parts = []
    for c, name in (("acc", "ACC"), ("nmi", "NMI"), ("below_purity", "the purity of the splits below the root")):
        higher = sum(y[c] > x[c] for x, y in zip(a, b))
        parts.append(f"{name} {np.mean([y[c] for y in b]):.3f} against {np.mean([x[c] for x in a]):.3f} "
                     f"(higher in {higher} of {len(a)} seeds)")
    return f"{other}, seeds {', '.join(str(r['seed']) for r in a)}: " + "; ".join(parts)


# ---- one results table --------------------------------------------------------
def _schedule(st: dict) -> str:
    steps = f" ({st['min_steps']}–{st['max_steps']} steps)" if st.get("max_steps") else ""
    return f"{st['epochs']:g} epochs per GAN{steps}, {st['refinements']} refinements, width {st['g_width']}"


def result_rows(data: str, reports, command: str, name: str | None = None) -> list[dict]:
    """Rows of the results table for one run or several seeds of it: HC-MGAN Lite, then its baselines.

    ``reports``: one report or a list (seeds of the same run). ACC and NMI are mean ± sample std over them;
    k-means and Ward come from the reports that ran them, on the same images.
    """
    reps = reports if isinstance(reports, list) else [reports]
    summ = seed_summary(reps)
    cfg, st = reps[0].get("config", {}), reps[0]["settings"]
    label = name or f"HC-MGAN Lite, {cfg.get('profile', '?')} profile"
    old = bool(grown_before_the_fix(reps))
    rows = [{"data": data, "method": label + (" (grown before the latent fix)" if old else ""),
             "schedule": _schedule(st), "seeds": summ["seeds"], "acc": summ["methods"]["HC-MGAN"]["acc"],
             "nmi": summ["methods"]["HC-MGAN"]["nmi"], "seconds": summ["seconds"]["mean"],
             "device": ", ".join(summ["device"]), "command": command, "paper": False}]
    for b in ("k-means", "ward"):
        if b in summ["methods"]:
            m = summ["methods"][b]
            secs = [r["baselines"][b].get("seconds") for r in reps if b in r.get("baselines", {})]
            rows.append({"data": data, "method": f"{b} on the pixels",
                         "schedule": "scikit-learn on the raw pixels of the same images, computed by `--baselines`",
                         "seeds": [r["config"].get("seed") for r in reps if b in r.get("baselines", {})],
                         "acc": m["acc"], "nmi": m["nmi"], "seconds": float(np.mean(secs)) if all(secs) else None,
                         "device": "CPU", "command": command, "paper": False})
    return rows


def deep_baseline_rows(reports: list[dict], command: str) -> list[dict]:
    """The results table's row for a deep-clustering baseline run by ``benchmarks/deep_baselines.py`` (one file per
    seed, all of one method on the same images): ACC and NMI as mean ± sample std over the seeds."""
    if not reports:
        return []
    r0, p = reports[0], reports[0]["params"]
    schedule = (f"ClustPy {r0.get('clustpy', '?')} defaults on the pixels scaled to {r0.get('pixels', '[0, 1]')}: "
                f"feed-forward autoencoder to {p['embedding_size']} dimensions, {p['pretrain_epochs']} pre-training "
                f"and {p['clustering_epochs']} clustering epochs, batch {p['batch_size']}")
    return [{"data": data_label(r0), "method": f"{r0['method']} (deep clustering baseline)", "schedule": schedule,
             "seeds": [r["config"]["seed"] for r in reports],
             "acc": _stats([r["scores"]["acc"] for r in reports]), "nmi": _stats([r["scores"]["nmi"] for r in reports]),
             "seconds": float(np.mean([r["seconds"] for r in reports])),
             "device": ", ".join(sorted({r.get("device_name") or r["device"] for r in reports})),
             "command": command, "paper": False}]


# The committed runs the results table shows besides the paper's rows and a live run: (label, folder under the
# results folder, extra `fit` arguments of their command, whether the row brings its baselines).
COMMITTED_SEEDS = (
    ("HC-MGAN Lite, quick profile", "quick-cpu", "", True),
    ("HC-MGAN Lite, quick with a fixed 1,600 steps per GAN", "steps1600-fixed",
     "--set min_steps=1600 --set max_steps=1600", False),
    ("HC-MGAN Lite, quick with a fixed 3,200 steps per GAN", "steps3200-fixed",
     "--set min_steps=3200 --set max_steps=3200", False),
    ("HC-MGAN Lite, quick with the earlier cap of 600 steps per GAN", "quick600-cpu", "--set max_steps=600", False),
    ("HC-MGAN Lite, quick with a classifier rate x10 (an extension, not in the paper)", "lrc10-cpu",
     "--set lr_c=2e-4", False),
    ("HC-MGAN Lite, quick with warm-started children (an extension, not in the paper)", "warm-cpu",
     "--set warm_start=True", False),
)
# Committed GPU runs: (folder under the results folder, label, `fit` arguments with {} for the data set's).
GPU_RUNS = (
    ("gpu", "HC-MGAN Lite, gpu profile, one GPU", "{} --profile gpu --device cuda"),
    ("gpu-h200-provisional", "HC-MGAN Lite, paper networks, 2,500 steps per GAN, one H200 (provisional)",
     "{} --profile paper --device cuda --set refinements=0 --set min_steps=2500 --set max_steps=2500"),
    ("gpu-h100", "HC-MGAN Lite, paper networks, GPU", "{} --profile paper --device cuda --set epochs=15 "
                                                      "--set refinements=0"),
)
_DEEP = "`python benchmarks/deep_baselines.py {} --method idec --seeds {} --out book/results/deep-baselines`"


def gpu_results(results, pattern: str) -> tuple[Path | None, list[Path]]:
    """The committed GPU results matching ``pattern`` (a glob, e.g. ``"running-example-s*.json"``): those of
    the ``gpu`` profile's reference run (``results/gpu``) when there are any, else the provisional ones."""
    for folder in ("gpu", "gpu-h200-provisional"):
        found = sorted((Path(results) / folder).glob(pattern))
        if found:
            return Path(results) / folder, found
    return None, []


def steps_per_gan(settings: dict) -> str:
    """How long each GAN of a run trained, in words: "6,400 steps per GAN" or "120 epochs per GAN (...)"."""
    lo, hi = settings.get("min_steps") or 0, settings.get("max_steps")
    if hi is not None and lo == hi:
        return f"{hi:,} steps per GAN"
    return f"{settings['epochs']:g} epochs per GAN" + (f" ({lo:,}-{hi:,} steps)" if hi else "")


def fit_command(args: str, seed="S") -> str:
    """The command of a results-table row grown with ``fit``: ``args`` are the data set and its options."""
    return f"`python -m hcmgan_lite fit {args} --clusters 10 --seed {seed} --run-dir RUN --baselines`"


def committed_rows(results, dataset: str, data_args: str = "") -> list[dict]:
    """The results table's rows for the reports committed under ``results`` (``book/results``): the seed folders of
    :data:`COMMITTED_SEEDS` (grown with ``scripts/seeds.sh``), the IDEC baseline and the GPU runs, each with the
    command that reproduces it. ``data_args``: the images' ``fit`` arguments (``"--per-class 1000"``)."""
    results, out = Path(results), []
    for label, folder, extra, with_baselines in COMMITTED_SEEDS:
        reps = load_reports(sorted((results / folder).glob(f"{dataset}-s*.json")))
        if reps:
            args = " ".join(a for a in (data_args, extra) if a)
            seeds = " ".join(str(r["config"]["seed"]) for r in reps)
            cmd = f'`bash scripts/seeds.sh book/results/{folder} {dataset} "{args}" {seeds}`'
            rows = result_rows(data_label(reps[0]), reps, cmd, label)
            out += rows if with_baselines else rows[:1]
    deep = load_reports(sorted((results / "deep-baselines").glob(f"{dataset}-idec-s*.json")))
    out += deep_baseline_rows(deep, _DEEP.format(" ".join(a for a in (dataset, data_args) if a),
                                                 " ".join(str(r["config"]["seed"]) for r in deep)))
    for folder, label, command in GPU_RUNS:
        for subset in ("all", "1000"):
            reps = load_reports(sorted((results / folder).glob(f"{dataset}-{subset}-s*.json")))
            if reps:
                data = dataset + (" --per-class 1000" if subset == "1000" else "")
                out += result_rows(data_label(reps[0]), reps, fit_command(command.format(data)), label)
    return out


class FewClassRun(NamedTuple):
    """Committed trees on a few classes that look unlike each other, grown with ``scripts/seeds.sh``: what the
    quick profile does at the CPU budget when the classes differ more than a data set's ten do."""
    label: str           # the results table's method
    name: str            # a short name for sentences
    folder: str          # under the results folder
    dataset: str
    classes: tuple
    per_class: int

    @property
    def args(self) -> str:
        """The ``fit`` arguments that pick the images and the number of leaves (one per class)."""
        return f"--per-class {self.per_class} --classes {','.join(self.classes)} --clusters {len(self.classes)}"


FEW_CLASS_SEEDS = (
    FewClassRun("HC-MGAN Lite, quick profile, four classes", "four classes", "four-classes-cpu", "fashion-mnist",
                ("Trouser", "Bag", "Sneaker", "T-shirt/top"), 1000),
)


def few_class_rows(results, run: FewClassRun = FEW_CLASS_SEEDS[0]) -> list[dict]:
    """The results table's rows (HC-MGAN Lite, then k-means and Ward on the same images) for the committed reports
    of ``run``, with the command that reproduces them."""
    reps = load_reports(sorted((Path(results) / run.folder).glob(f"{run.dataset}-s*.json")))
    if not reps:
        return []
    seeds = " ".join(str(r["config"]["seed"]) for r in reps)
    cmd = f'`bash scripts/seeds.sh book/results/{run.folder} {run.dataset} "{run.args}" {seeds}`'
    return result_rows(data_label(reps[0]), reps, cmd, run.label)


def few_class_splits(results, run: FewClassRun = FEW_CLASS_SEEDS[0]) -> dict:
    """Split by split, the committed trees of ``run``: ``rows`` (:func:`paired_rows`, one per seed), ``root`` (their
    mean root-split purity) and ``two_means`` (k-means with two clusters on the same images, computed here)."""
    rows = paired_rows(results, run.dataset, {run.name: run.folder})
    return {"rows": rows, "root": float(np.mean([r["root_purity"] for r in rows])) if rows else None,
            "two_means": two_means(run.dataset, list(run.classes), run.per_class)}


def row_verdict(rows: list[dict], label: str) -> str:
    """A sentence comparing the results-table row called ``label`` with k-means and Ward on the same images
    (of each, the row with the most seeds: k-means' result depends on its seed)."""
    hc = next((r for r in rows if r["method"] == label or r["method"].startswith(label + " (")), None)
    if hc is None:
        return "no committed reports"
    def bar(name):   # the baseline on the same images run with the most seeds (k-means depends on its seed)
        same = [r for r in rows if r["method"].startswith(name) and r["data"] == hc["data"]]
        return max(same, key=lambda r: len(r["seeds"] or []), default=None)
    km, ward = bar("k-means"), bar("ward")
    side = lambda m, b: "above" if hc[m]["mean"] > b[m]["mean"] else "below"   # noqa: E731
    n = len(hc["seeds"])
    out = f"{n} seed{'s' if n > 1 else ''}, ACC {hc['acc']['mean']:.3f} / NMI {hc['nmi']['mean']:.3f}"
    for name, b, it in (("k-means'", km, " it"), ("Ward's", ward, "")):
        if b is not None:
            seeds = f" (mean of seeds {', '.join(map(str, b['seeds']))})" if len(b["seeds"] or []) > 1 else ""
            out += (f"{' against' if b is km else ' and'} {name} {b['acc']['mean']:.3f} / {b['nmi']['mean']:.3f}"
                    f"{seeds}{' on the same images' if b is km else ''} ({side('acc', b)}{it} in ACC, "
                    f"{side('nmi', b)} in NMI)")
    return out


def data_label(report: dict) -> str:
    """Which images a run used, from its report: '10,000 (1,000 per class)', '70,000 (all)', '1,895 (2 classes)'."""
    cfg, n = report.get("config", {}), report["n_images"]
    parts = [f"{len(cfg['classes'])} classes" if cfg.get("classes") else "",
             f"{cfg['per_class']:,} per class" if cfg.get("per_class") else ""]
    detail = ", ".join(p for p in parts if p)
    return f"{n:,} ({detail})" if detail else f"{n:,} (all)"


def paper_rows(dataset: str, data: str = "70,000 (all)") -> list[dict]:
    """The paper's Table 1 rows for a dataset, marked as the paper's."""
    one = lambda v: {"mean": v, "std": 0.0, "n": 1}  # noqa: E731
    rows = []
    for name, (acc, nmi) in PAPER_TABLE1.get(dataset, {}).items():
        ours = name.startswith("HC-MGAN")
        schedule = ("the paper's Table 3 schedule, refinements left out" if "raw" in name
                    else "the paper's Table 3 schedule") if ours else ""
        rows.append({"data": data, "method": name, "schedule": schedule, "seeds": None, "acc": one(acc),
                     "nmi": one(nmi), "seconds": None, "device": "GPU (paper)" if ours else "",
                     "command": "", "paper": True})
    return rows


def _short_device(name: str) -> str:
    import re
    out = re.sub(r"\(R\)|\(TM\)|\bProcessor\b|\bNVIDIA\b", "", name or "")
    return re.sub(r"\s+,", ",", re.sub(r"\s+", " ", out)).strip(" ,")


def results_markdown(rows: list[dict]) -> str:
    """The results table: images, method, seeds, ACC, NMI (mean ± sample std over seeds), time per run, device,
    and a note number; under it the numbered notes, each a row's schedule and the command that reproduces it."""
    def cell(st):
        return f"{st['mean']:.3f} ± {st['std']:.3f}" if st.get("n", 1) > 1 else f"{st['mean']:.3f}"

    def secs(s):
        return "" if s is None else (f"{s / 60:.1f} min" if s >= 60 else f"{s:.0f} s")
    notes, shown = [], set()
    lines = ["| images | method | seeds | ACC | NMI | time per run | device | how |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        key = (r["data"], r["method"], round(r["acc"]["mean"], 6), round(r["nmi"]["mean"], 6))
        if not r["method"].startswith("HC-MGAN") and key in shown:
            continue       # a baseline already in the table (the same images, the same result)
        shown.add(key)
        seeds = "paper" if r["paper"] else ", ".join(str(s) for s in r["seeds"])
        note = "; ".join(x for x in (r["schedule"], f"command: {r['command']}" if r["command"] else "") if x)
        ref = ""
        if note:
            if note not in notes:
                notes.append(note)
            ref = f"({notes.index(note) + 1})"
        lines.append(f"| {r['data']} | {r['method']} | {seeds} | {cell(r['acc'])} | {cell(r['nmi'])} | "
                     f"{secs(r['seconds'])} | {_short_device(r['device'])} | {ref} |")
    if notes:
        lines += [""] + [f"{i}. {n}" for i, n in enumerate(notes, 1)]
    return "\n".join(lines)

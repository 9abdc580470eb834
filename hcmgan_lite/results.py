"""Results: committed reports and split results, loaded and summarised over seeds.

What the book's tables and sentences are computed from: :func:`load_reports`
and :func:`load_results` read JSON files, :func:`seed_summary` gives mean,
sample standard deviation, min and max over seeds, :func:`ablation_rows` and
:func:`paired_rows` group split results and trees grown two ways, and a few
functions say in one sentence how two summaries compare.

Imports: settings, figures (``curve_points``).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .figures import curve_points

def refinement_summary(splits: list[dict]) -> dict:
    """Over the splits refined by ``benchmarks/refine_splits.py``: how many there were, how many rose in purity
    after the last refinement, the mean and range of the change, and how many the guard would have kept."""
    d = [sp["stages"][-1]["purity"] - sp["stages"][0]["purity"] for sp in splits]
    return {"n": len(d), "rose": sum(x > 0 for x in d), "mean_change": float(np.mean(d)) if d else None,
            "min_change": min(d, default=None), "max_change": max(d, default=None),
            "kept_by_guard": sum(bool(sp["stages"][-1]["guard_keeps"]) for sp in splits)}


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


def data_label(report: dict) -> str:
    """Which images a run used, from its report: '10,000 (1,000 per class)', '70,000 (all)', '1,895 (2 classes)'."""
    cfg, n = report.get("config", {}), report["n_images"]
    parts = [f"{len(cfg['classes'])} classes" if cfg.get("classes") else "",
             f"{cfg['per_class']:,} per class" if cfg.get("per_class") else ""]
    detail = ", ".join(p for p in parts if p)
    return f"{n:,} ({detail})" if detail else f"{n:,} (all)"

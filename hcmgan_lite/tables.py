"""Tables: the book's and the README's tables of committed results, built with :mod:`hcmgan_lite.results`.

The catalogue of committed runs (which folder holds which run, and the
command that grew it) and the few tables whose shape is the book's own: the
results table with its numbered notes (:func:`results_rows`,
:func:`results_markdown`, :func:`verdicts`), a benchmark chapter's seed
section, the ablation table and the refinement table.

Imports: results, runs (the paper's Table 1), settings (the latent of older runs).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .results import cell, data_label, flatten, load, stats, summarise, table
from .runs import PAPER_TABLE1

__all__ = ["results_rows", "results_markdown", "hierarchy_rows", "hierarchy_markdown", "hierarchy_verdicts", "verdicts", "seed_section", "ablation_markdown",
           "refinement_markdown", "refinement_summary", "COMMITTED_SEEDS", "GPU_RUNS", "FEW_CLASS_SEEDS"]


# ---- the catalogue --------------------------------------------------------------------------
# The committed runs the results table shows besides the paper's rows: (label, folder under the results
# folder, extra `fit` arguments of their command, whether the row brings its baselines).
COMMITTED_SEEDS = (
    ("HC-MGAN Lite, quick profile", "quick-cpu", "", True),
    ("HC-MGAN Lite, quick with a fixed 1,600 steps per GAN", "steps1600-fixed",
     "--set min_steps=1600 --set max_steps=1600", False),
    ("HC-MGAN Lite, quick with a fixed 3,200 steps per GAN", "steps3200-fixed",
     "--set min_steps=3200 --set max_steps=3200", False),
    ("HC-MGAN Lite, quick with a classifier rate x10 (an extension, not in the paper)", "lrc10-cpu",
     "--set lr_c=2e-4", False),
    ("HC-MGAN Lite, quick with warm-started children (an extension, not in the paper)", "warm-cpu",
     "--set warm_start=True", False),
    ("HC-MGAN Lite, quick with a fixed 6,400 steps per GAN, bf16 autocast", "steps6400-bf16",
     "--set min_steps=6400 --set max_steps=6400 --set amp=True", False),
)

# Committed GPU runs: (folder under the results folder, label, `fit` arguments with {} for the data set's).
GPU_RUNS = (
    ("gpu", "HC-MGAN Lite, gpu profile, one GPU", "{} --profile gpu --device cuda"),
    ("gpu-h200-provisional", "HC-MGAN Lite, paper networks, 2,500 steps per GAN, one H200 (provisional)",
     "{} --profile paper --device cuda --set refinements=0 --set min_steps=2500 --set max_steps=2500"),
)

# The images of the committed seed runs: the `fit` arguments of each data set.
DATA_ARGS = {"fashion-mnist": "--per-class 1000", "mnist": ""}


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

_DEEP = "`python benchmarks/deep_baselines.py {} --method {} --seeds {} --out book/results/deep-baselines`"


def fit_command(args: str, seed="S") -> str:
    """The command of a results-table row grown with ``fit``: ``args`` are the data set and its options."""
    return f"`hcmgan fit {args} --clusters 10 --seed {seed} --run-dir RUN --baselines`"


def collapsed_latent(reports) -> bool:
    """Whether any report's tree was grown with Table 2's U[0,1] latent (reports without a ``latent`` entry
    drew z from U[0, 1]): every generator then draws one image for every code, so such a run measures a
    collapsed method, not HC-MGAN, and no results table shows it."""
    from .settings import LEGACY
    return any(r.get("settings", {}).get("latent", LEGACY["latent"]) == "positive" for r in reports)


# ---- the results table --------------------------------------------------------------------------
def _schedule(st: dict) -> str:
    steps = f" ({st['min_steps']}–{st['max_steps']} steps)" if st.get("max_steps") else ""
    return f"{st['epochs']:g} epochs per GAN{steps}, {st['refinements']} refinements, width {st['g_width']}"


def result_rows(data: str, reports, command: str, name: str | None = None) -> list[dict]:
    """Rows of the results table for one run or several seeds of it: HC-MGAN Lite, then its baselines.

    ``reports``: one report or a list (seeds of the same run). ACC and NMI are mean ± sample std over them;
    k-means and Ward come from the reports that ran them, on the same images.
    """
    reps = reports if isinstance(reports, list) else [reports]
    by = {s["method"]: s for s in summarise(flatten(reps, "methods"), by="method")}
    cfg, st = reps[0].get("config", {}), reps[0]["settings"]
    label = name or f"HC-MGAN Lite, {cfg.get('profile', '?')} profile"
    if collapsed_latent(reps):
        return []
    hc = by["HC-MGAN"]
    rows = [{"data": data, "method": label,
             "schedule": _schedule(st), "seeds": [r["config"].get("seed") for r in reps], "acc": hc["acc"],
             "nmi": hc["nmi"], "seconds": hc["seconds"]["mean"], "device": hc["device"], "command": command,
             "paper": False}]
    for b in ("k-means", "ward"):
        if b in by:
            m = by[b]
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
    if "max_n_leaf_nodes" in p:
        schedule += f", a tree grown to {p['max_n_leaf_nodes']} leaves and cut to {r0['config']['n_clusters']}"
    kind = "hierarchical deep clustering baseline" if "trees" in r0 else "deep clustering baseline"
    return [{"data": data_label(r0), "method": f"{r0['method']} ({kind})", "schedule": schedule,
             "seeds": [r["config"]["seed"] for r in reports],
             "acc": stats([r["scores"]["acc"] for r in reports]), "nmi": stats([r["scores"]["nmi"] for r in reports]),
             "seconds": float(np.mean([r["seconds"] for r in reports])),
             "device": ", ".join(sorted({r.get("device_name") or r["device"] for r in reports})),
             "command": command, "paper": False}]


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


def _committed(folder: Path, pattern: str) -> list[dict]:
    return load(folder, pattern) if folder.is_dir() else []        # a catalogued run not committed (yet)


def _committed_rows(results: Path, dataset: str, data_args: str) -> list[dict]:
    out = []
    for label, folder, extra, with_baselines in COMMITTED_SEEDS:
        reps = _committed(results / folder, f"{dataset}-s*.json")
        if reps:
            args = " ".join(a for a in (data_args, extra) if a)
            seeds = " ".join(str(r["config"]["seed"]) for r in reps)
            cmd = f'`bash scripts/seeds.sh book/results/{folder} {dataset} "{args}" {seeds}`'
            rows = result_rows(data_label(reps[0]), reps, cmd, label)
            out += rows if with_baselines else rows[:1]
    for method in ("idec", "deepect"):
        deep = _committed(results / "deep-baselines", f"{dataset}-{method}-s*.json")
        out += deep_baseline_rows(deep, _DEEP.format(" ".join(a for a in (dataset, data_args) if a), method,
                                                     " ".join(str(r["config"]["seed"]) for r in deep)))
    for folder, label, command in GPU_RUNS:
        for subset in ("all", "1000"):
            reps = _committed(results / folder, f"{dataset}-{subset}-s*.json")
            if reps:
                data = dataset + (" --per-class 1000" if subset == "1000" else "")
                out += result_rows(data_label(reps[0]), reps, fit_command(command.format(data)), label)
    return out


def _few_class_rows(results: Path, run: FewClassRun) -> list[dict]:
    reps = _committed(results / run.folder, f"{run.dataset}-s*.json")
    if not reps:
        return []
    seeds = " ".join(str(r["config"]["seed"]) for r in reps)
    cmd = f'`bash scripts/seeds.sh book/results/{run.folder} {run.dataset} "{run.args}" {seeds}`'
    return result_rows(data_label(reps[0]), reps, cmd, run.label)


def results_rows(what: str, results="results", kind: str = "flat", tree_run: str | None = None) -> list[dict]:
    """The results table's rows, each with the command that reproduces it.

    ``what``: a data set (``"fashion-mnist"``, ``"mnist"``): the paper's Table 1, then the runs committed under
    ``results`` (``book/results``): the seed folders of :data:`COMMITTED_SEEDS` (``scripts/seeds.sh``), the IDEC
    baseline and the GPU runs of :data:`GPU_RUNS`. Or the name of a :data:`FEW_CLASS_SEEDS` run
    (``"four classes"``): its trees, with k-means and Ward on the same images.

    ``kind="hierarchy"``: the trees scored as trees instead (:func:`hierarchy_rows`; ``tree_run``, the HC-MGAN run
    under ``results``); :func:`results_markdown` and :func:`verdicts` take either kind of rows."""
    if kind == "hierarchy":
        return hierarchy_rows(what, results, tree_run)
    if kind != "flat":
        raise ValueError(f"kind must be 'flat' or 'hierarchy', got {kind!r}")
    results = Path(results)
    few = {run.name: run for run in FEW_CLASS_SEEDS}
    if what in few:
        return _few_class_rows(results, few[what])
    if what not in DATA_ARGS:
        raise ValueError(f"no committed results for {what!r}; choose one of {', '.join([*DATA_ARGS, *few])}")
    return paper_rows(what) + _committed_rows(results, what, DATA_ARGS[what])


def _short_device(name: str) -> str:
    out = re.sub(r"\(R\)|\(TM\)|\bProcessor\b|\bNVIDIA\b", "", name or "")
    return re.sub(r"\s+,", ",", re.sub(r"\s+", " ", out)).strip(" ,")


def results_markdown(rows: list[dict]) -> str:
    """The results table: images, method, seeds, ACC, NMI (mean ± sample std over seeds), time per run, device,
    and a note number; under it the numbered notes, each a row's schedule and the command that reproduces it."""
    if rows and "dp" in rows[0]:
        return hierarchy_markdown(rows)

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


def _verdict(rows: list[dict], hc: dict) -> str:
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


def verdicts(rows: list[dict]) -> list[str]:
    """For every committed HC-MGAN Lite and deep-baseline row of a results table (not the paper's, not the
    baselines on the pixels): "what: n seeds, ACC / NMI against k-means' and Ward's on the same images (above or
    below each)". ``what`` is the row's method without "HC-MGAN Lite, " and " (deep clustering baseline)".
    Rows of ``results_rows(..., kind="hierarchy")``: :func:`hierarchy_verdicts`."""
    if rows and "dp" in rows[0]:
        return hierarchy_verdicts(rows)
    out = []
    for r in rows:
        if r["paper"] or " on the pixels" in r["method"]:
            continue
        what = r["method"].removeprefix("HC-MGAN Lite, ").removesuffix(" (deep clustering baseline)")
        out.append(f"{what}: {_verdict(rows, r)}")
    return out


# ---- a benchmark chapter's seeds --------------------------------------------------------------------
def seed_section(reports: list[dict]) -> str:
    """What a benchmark chapter shows for the committed seeds of a run: a table of HC-MGAN and the baselines (runs, ACC and NMI as mean ± sample std (min–max)), and a
    line on the images, seeds, time, retrained GANs and the smallest leaf of each seed."""
    def fmt(st):
        return (f"{st['mean']:.3f} ± {st['std']:.3f} ({st['min']:.3f}–{st['max']:.3f})" if st["n"] > 1
                else f"{st['mean']:.3f}")
    methods = summarise(flatten(reports, "methods"), by="method")
    tree = summarise(flatten(reports, "tree"))[0]
    md = table(methods, {"method": "method", "runs": lambda s: s["acc"]["n"],
                         "ACC mean ± std (min–max)": lambda s: fmt(s["acc"]),
                         "NMI mean ± std (min–max)": lambda s: fmt(s["nmi"])})
    smallest = tree.get("smallest_leaf")
    leaves = (f"; the smallest leaf under the argmax holds {' / '.join(f'{v:.0f}' for v in smallest['values'])} "
              "images (one number per seed)." if smallest else ".")
    return (md + "\n\n"
            f"{reports[0]['n_images']:,} images, seeds {[r['config'].get('seed') for r in reports]}; training "
            f"{tree['seconds']['mean'] / 60:.1f} min per run on average ({tree['device']}); "
            f"{tree['retries']['sum']:.0f} retrained GANs in all" + leaves)


# ---- the ablation and the refinement tables ---------------------------------------------------------
def ablation_markdown(rows: list[dict], metric: str = "acc") -> str:
    """The ablation table from ``summarise(flatten(results, "split"), by="variant")``: one row per variant,
    mean ± sample std over its seeds. "spread ÷ real": the least varied generator's spread over the real images'
    at the end of the raw split; "check fires": in how many seeds the collapse check would have fired."""
    name = {"acc": "ACC", "purity": "purity"}[metric]
    columns = {"variant": "variant", f"{name} (raw split)": f"{metric}_raw"}
    if any(r["refinements"]["max"] for r in rows):
        columns[f"{name} (refined)"] = lambda r: cell(r[f"{metric}_final"]) if r["refinements"]["max"] else ""
    columns.update({"smaller side": lambda r: f"{r['smaller_side']['mean']:.0%}", "spread ÷ real": "spread_ratio:.2f",
                    "check fires": lambda r: f"{r['flagged']['sum']:.0f} of {r['n']}",
                    "seconds": lambda r: f"{r['seconds']['mean']:.0f}"})
    return table(rows, columns)


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


# ---- the hierarchy table ---------------------------------------------------------------------
TREEVAE = {"mnist": 0.879, "fashion-mnist": 0.534}   # TreeVAE's published dendrogram purity (its own test split)


def hierarchy_rows(dataset: str, results="results", tree_run: str | None = None) -> list[dict]:
    """Trees on the same images, scored as trees: HC-MGAN's committed tree (``trees/<dataset>-quick-s0``, or
    ``tree_run``) with its report's Ward and k-means, then (without ``tree_run``) each :data:`COMMITTED_SEEDS`
    folder whose reports carry hierarchy scores, DeepECT's seeds (``deep-baselines``), and TreeVAE's published
    number (its data). Each row: method, images, seeds, ACC, NMI, dendrogram purity, leaf purity (mean ± std
    over seeds), minutes."""
    import json
    results = Path(results)
    one = lambda v: None if v is None else {"mean": v, "std": 0.0, "n": 1}  # noqa: E731
    rows = []
    run = results / (tree_run or f"trees/{dataset}-quick-s0")
    families = []
    if (run / "report.json").is_file():
        rep = json.loads((run / "report.json").read_text())
        families.append((f"HC-MGAN Lite, {rep['config'].get('profile', '?')} profile, one tree", [rep]))
    if tree_run is None:          # the committed seed folders whose reports score the tree as a tree
        families += [(label, [r for r in _committed(results / folder, f"{dataset}-s*.json") if "hierarchy" in r])
                     for label, folder, *_ in COMMITTED_SEEDS]
    for label, reps in families:
        if not reps:
            continue
        scored = all(r.get("hierarchy") for r in reps)          # older reports carry no hierarchy scores
        tree = lambda key: stats([r["hierarchy"][key] for r in reps]) if scored else None  # noqa: E731
        flat = lambda key: stats([r["scores"]["final"][key] for r in reps])  # noqa: E731
        rows.append({"method": f"{label}, {reps[0]['n_leaves']} leaves", "images": f"{reps[0]['n_images']:,}",
                     "seeds": ", ".join(str(r["config"].get("seed", "")) for r in reps),
                     "acc": flat("acc"), "nmi": flat("nmi"), "dp": tree("dendrogram_purity"),
                     "lp": tree("leaf_purity"), "minutes": float(np.mean([r["seconds"] for r in reps])) / 60})
    if (run / "report.json").is_file():
        what, k = f"{rep['n_images']:,}", rep["n_leaves"]
        b = rep.get("baselines", {})
        if "dendrogram_purity" in b.get("ward", {}):
            w = b["ward"]
            rows.append({"method": f"Ward, its tree cut at {k} clusters", "images": what, "seeds": "",
                         "acc": one(w["acc"]), "nmi": one(w["nmi"]), "dp": one(w["dendrogram_purity"]),
                         "lp": one(w["leaf_purity"]), "minutes": w["seconds"] / 60})
            rows.append({"method": "Ward, its full tree (a leaf per image)", "images": what, "seeds": "",
                         "acc": None, "nmi": None, "dp": one(w["dendrogram_purity_full"]), "lp": None,
                         "minutes": w["seconds"] / 60})
        if "leaf_purity" in b.get("k-means", {}):
            km = b["k-means"]
            rows.append({"method": f"k-means, {k} clusters (flat: no tree)", "images": what, "seeds": "0",
                         "acc": one(km["acc"]), "nmi": one(km["nmi"]), "dp": None, "lp": one(km["leaf_purity"]),
                         "minutes": km["seconds"] / 60})
    deep = _committed(results / "deep-baselines", f"{dataset}-deepect-s*.json")
    if deep and all("dendrogram_purity" in r["trees"]["cut"] for r in deep):
        seeds = ", ".join(str(r["config"]["seed"]) for r in deep)
        for name, label in (("cut", "DeepECT, its tree cut to {} leaves"), ("full", "DeepECT, its full tree ({} leaves)")):
            ts = [r["trees"][name] for r in deep]
            flat = name == "cut"
            rows.append({"method": label.format(ts[0]["n_leaves"]), "images": f"{deep[0]['n_images']:,}", "seeds": seeds,
                         "acc": stats([t["scores"]["acc"] for t in ts]) if flat else None,
                         "nmi": stats([t["scores"]["nmi"] for t in ts]) if flat else None,
                         "dp": stats([t["dendrogram_purity"] for t in ts]), "lp": stats([t["leaf_purity"] for t in ts]),
                         "minutes": float(np.mean([r["seconds"] for r in deep])) / 60})
    if dataset in TREEVAE:
        rows.append({"method": "TreeVAE (published: its own test split and training)", "images": "10,000 (test)",
                     "seeds": "paper", "acc": None, "nmi": None, "dp": one(TREEVAE[dataset]), "lp": None,
                     "minutes": None})
    return rows


def hierarchy_markdown(rows: list[dict]) -> str:
    """The hierarchy table: ACC, NMI, dendrogram purity, leaf purity (mean ± std over seeds), minutes per run."""
    c = lambda v: "" if v is None else cell(v)  # noqa: E731
    lines = ["| method | images | seeds | ACC | NMI | dendrogram purity | leaf purity | minutes |",
             "|---|---|---|---|---|---|---|---|"]
    mins = lambda m: "" if m is None else f"{m:.1f}"  # noqa: E731
    lines += [f"| {r['method']} | {r['images']} | {r['seeds']} | {c(r['acc'])} | {c(r['nmi'])} | {c(r['dp'])} | "
              f"{c(r['lp'])} | {mins(r['minutes'])} |" for r in rows]
    return "\n".join(lines)


def hierarchy_verdicts(rows: list[dict]) -> list[str]:
    """Computed sentences: where HC-MGAN's tree is below (or above) each peer's on dendrogram and leaf purity."""
    trees = [r for r in rows if r["method"].startswith("HC-MGAN") and r["dp"] is not None]
    if not trees:
        return []
    out = []
    for hc in trees:
        parts = []
        for r in rows:
            if r["method"].startswith("HC-MGAN") or r["dp"] is None or r["seeds"] == "paper":
                continue
            for key, name in (("dp", "dendrogram purity"), ("lp", "leaf purity")):
                if r[key] is not None and hc[key] is not None:
                    d = hc[key]["mean"] - r[key]["mean"]
                    parts.append(f"{name} {hc[key]['mean']:.3f} against {r[key]['mean']:.3f} for {r['method']} "
                                 f"({'above' if d > 0 else 'below'} by {abs(d):.3f})")
        if parts:
            out.append(f"{hc['method']}: " + "; ".join(parts) + ".")
    hc = max(trees, key=lambda r: r["dp"]["mean"])
    paper = next((r for r in rows if r["seeds"] == "paper"), None)
    if paper is not None:
        out.append(f"TreeVAE's published dendrogram purity, {paper['dp']['mean']:.3f}, is "
                   f"{'above' if paper['dp']['mean'] > hc['dp']['mean'] else 'below'} the best "
                   f"HC-MGAN tree's here, {hc['dp']['mean']:.3f} (other images and training: a reference, not a comparison on the "
                   "same images).")
    return out

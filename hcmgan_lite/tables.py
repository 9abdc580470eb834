"""Tables: the Markdown tables of the book and the README, built from :mod:`hcmgan_lite.results`.

The results table (every committed run with the command that reproduces
it), the seed tables of the benchmark chapters, the ablation and refinement
tables, and the catalogue of committed runs they read.

Imports: results, runs (the paper's Table 1; k-means on a split's images).
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from .results import (_stats, data_label, grown_before_the_fix, load_reports, paired_rows, refinement_summary,
                      seed_summary)
from .runs import PAPER_TABLE1, two_means

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

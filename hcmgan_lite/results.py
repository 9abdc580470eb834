"""Results: reports and split results loaded, flattened into rows, summarised over seeds, tabled and compared.

A small general API for every number the book and the README show:

* :func:`load` reads JSON files: a report, a run folder, a folder of results;
* :func:`flatten` turns them into flat rows, one per seed: ``"tree"`` (a tree
  report), ``"methods"`` (a tree report, one row per method: HC-MGAN, k-means,
  Ward) or ``"split"`` (a ``split`` result);
* :func:`summarise` groups rows by the fields you name and gives each numeric
  field's mean, sample standard deviation, min and max over the group;
* :func:`table` writes rows or summaries as a Markdown table;
* :func:`compare` says, one sentence per group, how a group compares with a
  base group on the seeds they share;
* :func:`curve_summary` says where a compute curve passes a level, and what it
  costs in minutes of one CPU thread.

Imports: figures (``curve_points``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np

from .figures import curve_points

__all__ = ["load", "flatten", "summarise", "table", "compare", "curve_summary", "cell", "data_label", "stats"]


# ---- load ---------------------------------------------------------------------------
def load(where, pattern: str = "*.json", first: bool = False) -> list[dict]:
    """JSON records from ``where``: a file, a run folder (its ``report.json``), a folder (its files matching
    ``pattern``, sorted by name), or a list of these, in that order. Each record gets ``"_file"``, the path it
    was read from. ``first=True``: only the records of the first place that has any (missing places are
    skipped), e.g. a reference run's folder, else a provisional one."""
    out = []
    for p in map(Path, [where] if isinstance(where, (str, Path)) else where):
        if p.is_dir() and ((p / "report.json").is_file() or (p / "config.json").is_file()):
            if not (p / "report.json").is_file():
                raise FileNotFoundError(f"no report at {p / 'report.json'}; run "
                                        f"`python -m hcmgan_lite report {p}` first")
            files = [p / "report.json"]
        elif p.is_dir():
            files = sorted(p.glob(pattern))
        elif p.is_file():
            files = [p]
        elif first:
            continue
        else:
            raise FileNotFoundError(f"no report or results at {p}")
        records = [dict(json.loads(f.read_text()), _file=str(f)) for f in files]
        if first and records:
            return records
        out += records
    return out


# ---- flatten --------------------------------------------------------------------------
def data_label(report: dict) -> str:
    """Which images a run used, from its report: '10,000 (1,000 per class)', '70,000 (all)', '1,895 (2 classes)'."""
    cfg, n = report.get("config", {}), report["n_images"]
    parts = [f"{len(cfg['classes'])} classes" if cfg.get("classes") else "",
             f"{cfg['per_class']:,} per class" if cfg.get("per_class") else ""]
    detail = ", ".join(p for p in parts if p)
    return f"{n:,} ({detail})" if detail else f"{n:,} (all)"


def _data_key(r: dict) -> str:
    cfg = r.get("config", r)
    return json.dumps([r["n_images"], cfg.get("dataset"), cfg.get("classes"), cfg.get("per_class")])


def _device(r: dict) -> str:
    return r.get("device_name") or r["device"]


def _tree_row(r: dict) -> list[dict]:
    below = [sp for sp in r.get("splits", []) if sp["node"] != 0]
    mass = sum(sp["mass"] for sp in below)
    root = next((sp["purity_final"] for sp in r.get("splits", []) if sp["node"] == 0), None)
    return [{"seed": r["config"].get("seed"), **r["scores"]["final"], "root_purity": root,
             "below_purity": sum(sp["purity_final"] * sp["mass"] for sp in below) / mass if mass else None,
             "smallest_leaf": min(r["leaf_sizes"]) if r.get("leaf_sizes") else None,
             "minutes": r["seconds"] / 60, "seconds": r["seconds"], "retries": r.get("retries", 0),
             "images": data_label(r), "device": _device(r), "_data": _data_key(r)}]


def _method_rows(r: dict) -> list[dict]:
    named = [("HC-MGAN", {**r["scores"]["final"], "seconds": r["seconds"]})]
    named += [(b, r["baselines"][b]) for b in ("k-means", "ward") if b in r.get("baselines", {})]
    return [{"method": name, "seed": r["config"].get("seed"),
             **{m: s[m] for m in ("acc", "nmi", "ari", "mean_per_class_acc") if m in s},
             "seconds": s.get("seconds"), "images": data_label(r),
             "device": _device(r) if name == "HC-MGAN" else "CPU", "_data": _data_key(r)} for name, s in named]


def _split_row(r: dict) -> list[dict]:
    first, last = r["stages"][0], r["stages"][-1]
    col = first.get("collapse", {})
    return [{"variant": r.get("variant"), "seed": r["seed"], "n_images": r["n_images"], "steps": first["steps"],
             "g_width": r["settings"].get("g_width"), "acc_raw": first["acc"], "acc_final": last["acc"],
             "purity_raw": first["purity"], "purity_final": last["purity"], "smaller_side": first["smaller_side"],
             "spread_ratio": col.get("final_spread_ratio"), "g_spread": col.get("final_g_spread"),
             "flagged": int(bool(col.get("flagged"))), "refinements": len(r["stages"]) - 1,
             "seconds": r["seconds"], "device": r["device"], "torch": r.get("torch"), "_data": _data_key(r)}]


VIEWS: dict[str, Callable[[dict], list[dict]]] = {"tree": _tree_row, "methods": _method_rows, "split": _split_row}


def flatten(records: list[dict], view: str, **extra) -> list[dict]:
    """Flat rows, one per record (``"methods"``: one per record and method), in the order given.

    ``view``: ``"tree"`` for tree reports (seed, acc, nmi, ari, mean_per_class_acc, root_purity, the
    mass-weighted below_purity of the splits under the root, smallest_leaf, minutes, retries, images, device);
    ``"methods"`` for tree reports, one row for HC-MGAN and one per baseline it holds (method, seed, acc, nmi,
    ari, mean_per_class_acc, seconds); ``"split"`` for ``split`` results (variant, seed, steps, g_width,
    acc_raw/acc_final and purity_raw/purity_final after the raw split and the last refinement, smaller_side,
    spread_ratio, g_spread, flagged, refinements, seconds). ``extra`` fields are added to every row
    (``label="quick profile"``)."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
    return [{**row, **extra, "_view": view} for r in records for row in VIEWS[view](r)]


# ---- summarise --------------------------------------------------------------------------
def stats(values) -> dict:
    """Mean, sample standard deviation (0 for one value), min, max, sum and n of some numbers."""
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max()), "sum": float(v.sum()), "n": int(len(v)),
            "values": v.tolist()}


def _is_number(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def summarise(rows: list[dict], by=None) -> list[dict]:
    """One summary per group of ``rows`` (groups in order of first appearance).

    ``by``: a field name or a tuple of them (``None``: one group). A summary holds the ``by`` fields, ``seeds``
    (sorted), ``n`` (rows), for each numeric field its :func:`stats` over the rows that have it, and each other
    field where all rows agree (else their distinct values, joined). Rows of different images are never put in
    one group: that raises ``ValueError``."""
    keys = (by,) if isinstance(by, str) else tuple(by or ())
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r.get(k) for k in keys), []).append(r)
    out = []
    for key, rs in groups.items():
        data = {r.get("_data") for r in rs}
        if len(data) > 1:
            raise ValueError(f"the rows of {dict(zip(keys, key)) or 'the group'} are of different data: {sorted(data)}")
        s = {**dict(zip(keys, key)), "seeds": sorted(r["seed"] for r in rs if r.get("seed") is not None),
             "n": len(rs), "_view": rs[0].get("_view")}
        for f in dict.fromkeys(f for r in rs for f in r):
            if f in s or f in ("seed", "_data"):
                continue
            vals = [r[f] for r in rs if r.get(f) is not None]
            if vals and all(_is_number(v) for v in vals):
                s[f] = stats(vals)
            elif vals:
                s[f] = ", ".join(sorted({str(v) for v in vals}))
        out.append(s)
    return out


# ---- table ------------------------------------------------------------------------------
DEFAULT_COLUMNS = {
    "tree": {"ACC": "acc", "NMI": "nmi", "root split purity": "root_purity",
             "purity of the splits below (mass-weighted)": "below_purity", "smallest leaf": "smallest_leaf:.0f",
             "minutes": "minutes:.1f"},
    "methods": {"ACC": "acc", "NMI": "nmi", "ARI": "ari", "seconds": "seconds:.0f"},
    "split": {"steps": "steps:,.0f", "ACC": "acc_raw", "purity": "purity_raw", "smaller side": "smaller_side:.1%",
              "seconds": "seconds:.0f", "device": "device"},
}


def cell(value, fmt: str = "", spread: bool = True) -> str:
    """A value as a table cell: a summarised field (:func:`stats`) as mean ± sample std (the mean alone for one
    value, or with ``spread=False``), numbers in ``fmt`` (default ``.3f``; whole numbers as they are)."""
    if value is None:
        return ""
    if isinstance(value, dict):              # stats
        m = format(value["mean"], fmt or ".3f")
        return f"{m} ± {format(value['std'], fmt or '.3f')}" if spread and value["n"] > 1 else m
    if isinstance(value, (int, np.integer)) and not fmt:
        return str(value)
    return format(value, fmt or ".3f") if _is_number(value) else str(value)


def table(rows: list[dict], columns: dict | None = None, means_by: str | None = None) -> str:
    """``rows`` (of :func:`flatten` or :func:`summarise`) as a Markdown table.

    ``columns`` maps a header to a field (``"acc"``, or with a format: ``"minutes:.1f"``) or to a function of
    the row that returns the cell. A summarised field shows mean ± sample std when it has more than one value.
    Without ``columns``: the row's grouping fields (``label``, ``variant``, ``method``) and ``seed``, then the
    view's usual columns. ``means_by``: after the rows of each value of that field, a bold row of their means
    (when there are several)."""
    if not rows:
        return "(no rows)"
    if columns is None:
        first = rows[0]
        columns = {{"label": "run"}.get(k, k): k for k in ("label", "variant", "method") if k in first}
        columns.update({"seed": "seed"} if "seed" in first else {"seeds": lambda r: ", ".join(map(str, r["seeds"]))})
        columns.update(DEFAULT_COLUMNS.get(first.get("_view"), {}))

    def cells(r, bold=False):
        out = []
        for spec in columns.values():
            if callable(spec):
                out.append(str(spec(r)))
                continue
            field, _, fmt = spec.partition(":")
            c = cell(r.get(field), fmt, spread=not bold)
            out.append(f"**{c}**" if bold and c and isinstance(r.get(field), dict) else c)
        return out
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    groups = [[r for r in rows if r.get(means_by) == g] for g in dict.fromkeys(r.get(means_by) for r in rows)] \
        if means_by else [rows]
    for rs in groups:
        lines += ["| " + " | ".join(cells(r)) + " |" for r in rs]
        if means_by and len(rs) > 1:
            mean = summarise(rs, by=means_by)[0]
            row = cells(mean, bold=True)
            names = list(columns.values())
            for i, spec in enumerate(names):
                if spec == means_by:
                    row[i] = f"**{mean[means_by]}, mean**"
                elif spec == "seed":
                    row[i] = f"{mean['n']} seeds"
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


# ---- compare ----------------------------------------------------------------------------
def compare(rows: list[dict], base, by: str = "label", fields: dict | None = None, others=None) -> list[str]:
    """One sentence per group (of ``by``) other than ``base``, or per group in ``others``: its mean of each
    field against ``base``'s on the seeds both hold, and in how many of those seeds it is higher.

    ``fields`` maps a field to its name in the sentence (default ``{"acc": "ACC", "nmi": "NMI"}``)."""
    fields = fields or {"acc": "ACC", "nmi": "NMI"}
    groups = list(dict.fromkeys(r.get(by) for r in rows))
    if base not in groups:
        raise ValueError(f"no rows with {by}={base!r}; there are {groups}")
    ref = {r["seed"]: r for r in rows if r.get(by) == base}
    out = []
    for g in (others or [g for g in groups if g != base]):
        mine = [r for r in rows if r.get(by) == g and r["seed"] in ref]
        if not mine:
            out.append(f"no seed holds both {base!r} and {g!r}")
            continue
        parts = []
        for f, name in fields.items():
            pairs = [(ref[r["seed"]][f], r[f]) for r in mine if r.get(f) is not None and ref[r["seed"]].get(f) is not None]
            if pairs:
                higher = sum(b > a for a, b in pairs)
                parts.append(f"{name} {np.mean([b for _, b in pairs]):.3f} against {np.mean([a for a, _ in pairs]):.3f} "
                             f"(higher in {higher} of {len(pairs)} seed{'s' if len(pairs) > 1 else ''})")
        out.append(f"{g} against {base}, seed{'s' if len(mine) > 1 else ''} "
                   f"{', '.join(str(r['seed']) for r in mine)}: " + "; ".join(parts))
    return out


# ---- compute curves -----------------------------------------------------------------------
def curve_summary(results: list[dict], metric: str, level: float, what: str, cost: dict | None = None,
                  level_name: str = "k-means") -> str:
    """One sentence on a compute curve (``split`` results at several steps and widths).

    Without ``cost``: the mean at each step count, width by width, and where (if anywhere) it first passes
    ``level``. With ``cost`` (``{width: seconds per step}``, as ``benchmarks/step_cost.py`` measures it): for
    each width, the first step count whose mean passes ``level`` in minutes of one CPU thread, and which width
    gets there soonest."""
    parts, first = [], {}
    for w, pts in sorted(curve_points(results, metric).items()):
        xs = sorted(pts)
        means = {n: float(np.mean(pts[n])) for n in xs}
        above = [n for n in xs if means[n] > level]
        if cost is None:
            seeds = sorted({len(pts[n]) for n in xs})
            where = (f"first above {level_name} ({level:.3f}) at {above[0]:,} steps" if above
                     else f"below {level_name} ({level:.3f}) at every step count measured, up to {xs[-1]:,}")
            parts.append(f"width {w}: " + ", ".join(f"{means[n]:.3f} at {n:,}" for n in xs)
                         + f" steps ({'-'.join(str(k) for k in seeds)} seed{'s' if seeds[-1] > 1 else ''} a point); "
                         + where)
        elif w in cost:
            if above:
                first[w] = above[0] * cost[w] / 60
                parts.append(f"width {w} at {above[0]:,} steps, {first[w]:.1f} min")
            else:
                parts.append(f"width {w} not up to {xs[-1]:,} steps ({xs[-1] * cost[w] / 60:.1f} min)")
    if cost is None:
        return f"**{what}** ({metric}, mean over seeds): " + "; ".join(parts) + "."
    if not parts:
        return f"**{what}**: no width of the curve has a measured step cost."
    best = f"; soonest: width {min(first, key=first.get)}" if first else ""
    return (f"**{what}**, first mean above {level_name} ({level:.3f}), in minutes of one CPU thread per GAN: "
            + "; ".join(parts) + best + ".")

"""Figures of the book and the explorer (matplotlib + seaborn).

Every function returns the matplotlib ``Figure`` it drew on and never calls
``plt.show()``.  Images may be uint8 (``N×C×H×W``, 0..255) or float in
``[-1, 1]`` (the generators' range).  Class colours come from
:func:`class_palette`, so a class has the same colour in every figure.

- :func:`image_grid`, :func:`sample_by_membership`, :func:`membership_shaded_grid`
- :func:`class_mass_bars`, :func:`class_mass_heatmap`, :func:`split_progression`, :func:`split_acc`, :func:`split_acc_curve`
- :func:`training_curves`, :func:`snapshot_strip`
- :func:`tree_figure` (the paper's Figures 1 and 5, one row per leaf)
- :func:`compute_curve`, :func:`compute_curves`, :func:`schedule_figure` (growth on several workers, simulated)

Imports: metrics.
"""
from __future__ import annotations

import numpy as np
import matplotlib.pyplot as plt
import seaborn as sns
import torch
from matplotlib.colors import LinearSegmentedColormap
from torchvision.utils import make_grid

from .metrics import class_mass_table, cluster_acc, majority_side_purity

REAL, GENERATED = "#2ca02c", "#d62728"   # the paper's green (real) and red (generated) frames
SPLIT_CMAP = LinearSegmentedColormap.from_list("split", ["#e8423f", "#b06be0", "#3f7fe8"])  # s_m .. s_l


def class_palette(n: int) -> list:
    """``n`` fixed colours, one per class (seaborn's tab10, then husl beyond 10)."""
    return sns.color_palette("tab10" if n <= 10 else "husl", n)


def _uint8(images) -> torch.Tensor:
    x = torch.as_tensor(images).detach().cpu()
    if x.dtype != torch.uint8:
        x = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x[None] if x.ndim == 3 else x


def _new_axes(ax, figsize):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def _frame(ax, color, width=3.0):
    ax.set_xticks([]), ax.set_yticks([])
    for sp in ax.spines.values():
        sp.set_visible(color is not None)
        if color is not None:
            sp.set_edgecolor(color), sp.set_linewidth(width)


def image_grid(images, nrow: int = 5, ax=None, title=None, border=None):
    """A grid of images, ``nrow`` per row; ``border`` colours the frame (e.g. ``GENERATED``)."""
    x = _uint8(images)
    grid = make_grid(x, nrow=nrow, padding=1, pad_value=255).permute(1, 2, 0).numpy()
    fig, ax = _new_axes(ax, (2.4, 2.4 * grid.shape[0] / grid.shape[1]))
    ax.imshow(grid, cmap="gray" if grid.shape[2] == 1 else None, vmin=0, vmax=255, interpolation="nearest")
    _frame(ax, border)
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def sample_by_membership(images, membership, n: int = 25, seed: int = 0, return_index: bool = False):
    """``n`` uint8 images drawn with replacement in proportion to ``membership`` (seeded).

    ``images``: ``N×C×H×W`` (uint8 or float in [-1, 1]) or an ``ImageData``.
    """
    images = torch.as_tensor(getattr(images, "images", images))
    g = torch.Generator().manual_seed(seed)
    w = torch.as_tensor(membership).detach().cpu().float().clamp_min(0) + 1e-12
    idx = torch.multinomial(w, n, replacement=True, generator=g)
    out = _uint8(images[idx.to(images.device)])
    return (out, idx) if return_index else out


def membership_shaded_grid(images, s_l, s_m, n: int = 36, seed: int = 0, nrow=None, ax=None):
    """Real images of node ``s_k = s_l + s_m``, each tinted by how the split shares it (Figure 3, bottom).

    An image is drawn from ``P_{s_k}`` and coloured with ``SPLIT_CMAP`` at
    ``f = s_l / (s_l + s_m)``: blue goes to ``s_l``, red to ``s_m``.
    """
    s_l, s_m = (torch.as_tensor(v).detach().cpu().float() for v in (s_l, s_m))
    x, idx = sample_by_membership(images, s_l + s_m, n, seed, return_index=True)
    frac = (s_l[idx] / (s_l[idx] + s_m[idx]).clamp_min(1e-12)).numpy()
    gray = x.float().mean(1, keepdim=True) / 255                                # (n, 1, H, W)
    tint = torch.tensor(SPLIT_CMAP(frac)[:, :3], dtype=torch.float32)[:, :, None, None]
    shaded = (gray * tint * 255).round().to(torch.uint8)
    nrow = nrow or int(np.ceil(np.sqrt(n)))
    fig, ax = _new_axes(ax, (3.2, 2.6))
    image_grid(shaded, nrow=nrow, ax=ax)
    sm = plt.cm.ScalarMappable(cmap=SPLIT_CMAP, norm=plt.Normalize(0, 1))
    cb = fig.colorbar(sm, ax=ax, fraction=0.046, pad=0.04, ticks=[0, 0.5, 1])
    cb.set_label("share of the image's mass in $s_l$", fontsize=8)
    cb.ax.set_yticklabels(["0 ($s_m$)", ".5", "1 ($s_l$)"], fontsize=7)
    return fig


def class_mass_bars(memberships, labels, class_names, node_names=None, ax=None, legend=True):
    """Grouped bars: for each node, % of each class's total mass it holds (``class_mass_table``).

    Bars are drawn node by node, class by class, so ``ax.patches[k * C + c]``
    is node ``k``, class ``c``.
    """
    m = torch.as_tensor(memberships).detach().cpu().float()
    m = m[None] if m.ndim == 1 else m
    table = class_mass_table(m, labels, class_names)
    n_nodes, n_cls = table.shape
    names = class_names or [str(c) for c in range(n_cls)]
    colors = class_palette(n_cls)
    fig, ax = _new_axes(ax, (1.0 + 0.35 * n_nodes * n_cls, 2.4))
    width = 0.8 / n_cls
    for k in range(n_nodes):
        for c in range(n_cls):
            h = 0.0 if np.isnan(table[k, c]) else table[k, c]
            ax.bar(k + (c - (n_cls - 1) / 2) * width, h, width, color=colors[c],
                   label=names[c] if k == 0 else None)
    ax.set_ylim(0, 100)
    ax.set_ylabel("% of class mass", fontsize=8)
    ax.set_xticks(range(n_nodes))
    ax.set_xticklabels(node_names or [f"node {k}" for k in range(n_nodes)], fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    if legend:
        ax.legend(fontsize=7, frameon=False, bbox_to_anchor=(1.0, 1.0), loc="upper left")
    sns.despine(ax=ax)
    return fig


def split_acc(s_l, s_m, labels, threshold: float = 0.5) -> float:
    """ACC of a two-way split, with hard assignments.

    Each image goes to the child holding more of its mass (``s_l >= s_m``);
    only the images that belong to the node, ``s_k = s_l + s_m > threshold``,
    count.  ACC is :func:`~hcmgan_lite.metrics.cluster_acc` (one-to-one
    Hungarian map), so with more than two classes in the node it is at most
    the share of the two matched classes.
    """
    s_l, s_m = (torch.as_tensor(v).detach().cpu().float() for v in (s_l, s_m))
    keep = (s_l + s_m) > threshold
    if not keep.any():
        return float("nan")
    return cluster_acc(torch.as_tensor(labels)[keep], (s_l < s_m)[keep].long())


def _stage_names(n):
    return ["raw split"] + [f"refinement {t}" for t in range(1, n)]


def split_progression(history, s_k, labels, class_names, stages=None, max_cols: int = 5):
    """The paper's Figure 2: the two children's class-mass bars after each stage of a split.

    ``history[t]`` is ``s_l`` after stage ``t`` (0 = raw split); ``s_m = s_k - s_l``.
    One panel per stage in ``stages`` (default: all), ``max_cols`` panels a row.
    With labels, each panel title gives :func:`split_acc` and the share of the
    mass on each class's majority side.
    """
    s_k = torch.as_tensor(s_k).detach().cpu().float()
    stages = list(range(len(history))) if stages is None else list(stages)
    names = _stage_names(len(history))
    ncol = min(len(stages), max_cols)
    nrows = -(-len(stages) // ncol)
    fig, axes = plt.subplots(nrows, ncol, figsize=(2.4 * ncol + 1.4, 2.6 * nrows), sharey=True, squeeze=False)
    for ax in axes.flat[len(stages):]:
        fig.delaxes(ax)
    for i, (t, ax) in enumerate(zip(stages, axes.flat)):
        s_l = torch.as_tensor(history[t]).cpu().float()
        s_m = s_k - s_l
        class_mass_bars(torch.stack([s_l, s_m]), labels, class_names, ["$s_l$", "$s_m$"], ax=ax,
                        legend=i == len(stages) - 1)
        title = names[t]
        if labels is not None:
            title += f"\nACC {split_acc(s_l, s_m, labels):.3f} · majority side " \
                     f"{majority_side_purity(s_l, s_m, labels):.0%}"
        ax.set_title(title, fontsize=8)
        if i % ncol:
            ax.set_ylabel("")
    fig.tight_layout()
    return fig


def split_acc_curve(tree_or_history, s_k=None, labels=None, ax=None):
    """ACC (:func:`split_acc`) per stage: one line per split node of a tree, or one for a history."""
    if hasattr(tree_or_history, "nodes"):
        tree = tree_or_history
        labels = tree.labels if labels is None else labels
        series = {f"node {k}": (tree.nodes[k].history, tree.nodes[k].membership) for k in tree.splits}
    else:
        series = {"split": (tree_or_history, s_k)}
    if labels is None:
        raise ValueError("split_acc_curve needs labels (the tree has none; pass labels=...)")
    fig, ax = _new_axes(ax, (4.2, 2.8))
    n_max = 1
    for name, (hist, sk) in series.items():
        sk = torch.as_tensor(sk).cpu().float()
        accs = [split_acc(h, sk - torch.as_tensor(h).cpu().float(), labels) for h in hist]
        ax.plot(range(len(accs)), accs, marker="o", label=name)
        n_max = max(n_max, len(accs))
    ax.set_xticks(range(n_max))
    ax.set_xticklabels(["raw"] + [f"ref {t}" for t in range(1, n_max)], fontsize=8)
    ax.set_ylabel("ACC of the split")
    ax.legend(fontsize=7, frameon=False)
    sns.despine(ax=ax)
    return fig


def _history(train_log) -> dict:
    for attr in ("log", "history"):   # SplitResult -> TrainLog -> dict
        if hasattr(train_log, attr):
            train_log = getattr(train_log, attr)
    if isinstance(train_log, dict) and "history" in train_log:   # an entry of node.split_logs
        train_log = train_log["history"]
    return train_log


def training_curves(train_log, collapse_spread: float | None = None):
    """Losses of D, G and C, C's accuracy and, where logged, each generator's spread over the real images'.

    ``train_log``: a TrainLog, SplitResult or split log.  ``collapse_spread`` draws the collapse threshold.
    """
    h = _history(train_log)
    if not h.get("step"):
        raise ValueError("this training log holds no steps (a refinement whose every try failed is not trained)")
    each = h.get("spread_ratio_each")
    fig, axes = plt.subplots(1, 3 if each else 2, figsize=(11 if each else 8, 2.8))
    a1, a2 = axes[0], axes[1]
    mk = "o" if len(h["step"]) < 20 else None
    for key, name in (("d_real", "D on real"), ("d_fake", "D on generated"),
                      ("g_adv", "G adversarial"), ("c_loss", "C")):
        a1.plot(h["step"], h[key], label=name, marker=mk)
    a1.set_xlabel("step"), a1.set_ylabel("loss"), a1.legend(fontsize=7, frameon=False)
    a2.plot(h["step"], h["c_acc"], color="k", marker=mk)
    a2.set_ylim(0, 1.02), a2.set_xlabel("step"), a2.set_ylabel("classifier accuracy")
    if each:
        a3, ratios = axes[2], np.asarray(each, dtype=float)
        names = [r"$G_\alpha$", r"$G_\beta$"] if ratios.shape[1] == 2 else [f"G{j}" for j in range(ratios.shape[1])]
        for j, name in enumerate(names):
            a3.plot(h["step"], ratios[:, j], marker=mk, label=name)
        if collapse_spread:
            a3.axhline(collapse_spread, color="r", ls="--", lw=1, label="collapse below")
        a3.set_ylim(0, max(1.05, float(ratios.max()) * 1.05))
        a3.set_xlabel("step"), a3.set_ylabel("spread ÷ real images'"), a3.legend(fontsize=7, frameon=False)
    sns.despine(fig)
    fig.tight_layout()
    return fig


def snapshot_strip(snapshots, nrow: int = 8, max_rows=None):
    """Generator samples over training: a row per snapshot step, a column per generator."""
    snaps = list(getattr(snapshots, "snapshots", snapshots))
    if max_rows and len(snaps) > max_rows:
        snaps = [snaps[i] for i in np.linspace(0, len(snaps) - 1, max_rows).round().astype(int)]
    fig, axes = plt.subplots(len(snaps), 2, figsize=(6, 0.2 + 1.6 * len(snaps) * 2 / nrow * 2), squeeze=False)
    for (step, fakes), row in zip(snaps, axes):
        for j, ax in enumerate(row):
            image_grid(fakes[j], nrow=nrow, ax=ax, border=GENERATED)
            ax.set_ylabel(f"step {step}", fontsize=8) if j == 0 else None
    axes[0, 0].set_title(r"$G_\alpha$ / $G_l$", fontsize=9)
    axes[0, 1].set_title(r"$G_\beta$ / $G_m$", fontsize=9)
    fig.tight_layout()
    return fig


# Sizes (inches at the book's 100 dpi) that keep a figure legible in a page about 6.8 in wide.
PAGE_WIDTH = 6.8


def _drawn_tree(tree, n_clusters, max_depth):
    """(leaves in drawing order, internal nodes, leaves of the cut) of the tree cut at ``n_clusters`` and ``max_depth``."""
    cut = set(tree.leaves(n_clusters))
    leaves, internal = [], []

    def walk(k):
        node = tree.nodes[k]
        if k in cut or node.children is None or (max_depth is not None and node.depth >= max_depth):
            leaves.append(k)
            return
        internal.append(k)
        for c in node.children:
            walk(c)
    walk(0)
    return leaves, internal, cut


def tree_figure(tree, n_clusters=None, n_images: int = 16, max_depth=None):
    """The paper's Figures 1 and 5, laid out to be read on a page: root on the left, one row per leaf.

    Every leaf of the tree cut at ``n_clusters`` (default: all grown leaves) gets
    a row at the right: real images drawn from its membership (thick black
    frame) and, with labels, a bar per class, the percentage of that class's
    mass the leaf holds. Split nodes sit in a column per depth, each with its
    number, mass and (with labels) the same bars, joined to their children.
    ``max_depth`` stops the drawing at that depth (those nodes get a grey frame).
    The figure is about :data:`PAGE_WIDTH` wide whatever the tree, so the image
    grids stay about 1 in (100 px) wide; it grows downwards, about 1.4 in per leaf.
    """
    leaves, internal, cut = _drawn_tree(tree, n_clusters, max_depth)
    labelled = tree.labels is not None
    n_cls = (len(tree.class_names) if tree.class_names else int(tree.labels.max()) + 1) if labelled else 0
    colors = class_palette(n_cls) if labelled else None
    names = (tree.class_names or [str(c) for c in range(n_cls)]) if labelled else None

    img, row_h, bar_w = 1.05, 1.45, 1.2
    leaf_w = img + (0.4 + bar_w if labelled else 1.3)
    n_cols = 1 + max((tree.nodes[k].depth for k in internal), default=-1)
    col_w = min(1.15, max(0.7, (PAGE_WIDTH - 0.2 - leaf_w) / max(n_cols, 1)))
    top = 0.75 if labelled else 0.1
    W = 0.1 + n_cols * col_w + leaf_w + 0.1
    H = top + len(leaves) * row_h
    fig = plt.figure(figsize=(W, H))
    back = fig.add_axes([0, 0, 1, 1])
    back.set_xlim(0, W), back.set_ylim(H, 0), back.axis("off")

    def axes_at(x, y, w, h):   # x, y: left and top in inches, y downwards
        return fig.add_axes([x / W, 1 - (y + h) / H, w / W, h / H])

    centre, left, right = {}, {}, {}
    x_leaf = 0.1 + n_cols * col_w
    for i, k in enumerate(leaves):
        centre[k], left[k], right[k] = top + (i + 0.5) * row_h + 0.05, x_leaf, x_leaf + img
    for k in reversed(internal):           # children before parents
        node = tree.nodes[k]
        centre[k] = sum(centre[c] for c in node.children) / 2
        left[k] = 0.1 + node.depth * col_w
        right[k] = left[k] + col_w - 0.2
    for k in internal:                     # elbow connectors: parent -> children
        kids = tree.nodes[k].children
        xm = right[k] + 0.1
        back.plot([right[k], xm], [centre[k]] * 2, color="0.55", lw=1)
        back.plot([xm, xm], [centre[kids[0]], centre[kids[1]]], color="0.55", lw=1)
        for c in kids:
            back.plot([xm, left[c] - 0.04], [centre[c]] * 2, color="0.55", lw=1)

    def bars(ax, k, yticks):
        table = np.nan_to_num(class_mass_table(tree.nodes[k].membership[None], tree.labels, tree.class_names)[0])
        ax.bar(range(len(table)), table, color=colors, width=0.85)
        ax.set_ylim(0, 100), ax.set_xlim(-0.6, len(table) - 0.4), ax.set_xticks([])
        ax.set_yticks([0, 50, 100] if yticks else [])
        ax.tick_params(labelsize=7, length=2, pad=1)
        sns.despine(ax=ax)
        return table

    for k in internal:
        node, w = tree.nodes[k], col_w - 0.2
        if labelled:
            ax = axes_at(left[k], centre[k] - 0.22, w, 0.44)
            bars(ax, k, yticks=False)
            ax.set_title(f"node {k}", fontsize=8, pad=2)
            ax.set_xlabel(f"mass {node.mass:,.0f}", fontsize=7.5, labelpad=1)
        else:
            back.plot([left[k] - 0.04, right[k]], [centre[k]] * 2, color="0.55", lw=1)
            back.plot([left[k] + w / 2], [centre[k]], "o", color="0.3", ms=5)
            back.text(left[k] + w / 2, centre[k] - 0.12, f"node {k}\nmass {node.mass:,.0f}", fontsize=7.5,
                      ha="center", va="bottom")
    for k in leaves:
        node, y = tree.nodes[k], centre[k] - img / 2
        ax = axes_at(x_leaf, y, img, img)
        real = node.real if node.real is not None else torch.zeros(1, *tree.image_shape, dtype=torch.uint8)
        nrow = int(np.ceil(np.sqrt(min(n_images, len(real)))))
        image_grid(real[:n_images], nrow=nrow, ax=ax, border="k" if k in cut else "0.6")
        label = f"node {k} · mass {node.mass:,.0f}"
        weight = "bold" if k in cut else None
        if labelled:
            bx = axes_at(x_leaf + img + 0.4, y + 0.36, bar_w, img - 0.36)
            table = bars(bx, k, yticks=True)
            c = int(np.argmax(table))
            name = f"class {names[c]}" if names[c].isdigit() else names[c]
            bx.text(0, 1.06, f"holds {table[c]:.0f}% of {name}", transform=bx.transAxes, fontsize=7.5)
            bx.text(0, 1.25, label, transform=bx.transAxes, fontsize=8, fontweight=weight)
        else:
            back.text(x_leaf + img + 0.1, y + 0.1, label, fontsize=8, fontweight=weight, va="top")
        if node.children is not None and k not in cut:
            back.text(x_leaf + img + 0.1, y + img, "(split further: see the explorer)", fontsize=7)
    if labelled:
        handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors]
        fig.legend(handles, names, loc="upper left", bbox_to_anchor=(0.1 / W, 1), fontsize=8, frameon=False,
                   ncol=min(len(names), 5), handlelength=1, columnspacing=1,
                   title="bars: % of each class's mass in the node", title_fontsize=8, alignment="left")
    return fig


def class_mass_heatmap(memberships, labels, class_names, node_names=None, ax=None):
    """A table of colour: row per node (e.g. the leaves), column per class, % of the class's mass in the node.

    Readable for many nodes and classes where grouped bars (:func:`class_mass_bars`) are not.
    Each cell is written out; a class split cleanly has one cell near 100 in its column.
    """
    m = torch.as_tensor(memberships).detach().cpu().float()
    m = m[None] if m.ndim == 1 else m
    table = class_mass_table(m, labels, class_names)
    n_nodes, n_cls = table.shape
    names = class_names or [str(c) for c in range(n_cls)]
    rows = node_names or [f"node {k}" for k in range(n_nodes)]
    fig, ax = _new_axes(ax, (min(PAGE_WIDTH, 1.3 + 0.55 * n_cls), 0.9 + 0.34 * n_nodes))
    sns.heatmap(np.nan_to_num(table), ax=ax, vmin=0, vmax=100, cmap="Blues", annot=True, fmt=".0f",
                annot_kws={"fontsize": 8}, cbar=False, linewidths=0.5, linecolor="white",
                xticklabels=names, yticklabels=rows)
    ax.tick_params(labelsize=8, length=0)
    ax.set_xticklabels(names, rotation=35, ha="right")
    ax.set_yticklabels(rows, rotation=0)
    ax.set_title("% of each class's mass in each node", fontsize=9)
    return fig


def compute_curve(results, metric: str = "acc", level=None, level_name: str = "k-means", ax=None, ylim=(0.5, 1.0),
                  cost=None, legend: bool = True):
    """A split's quality against the steps per GAN: a line per width (mean over seeds), each seed a dot.

    ``results``: ``split`` results (``runs.split_experiment``); the raw split's ``metric``
    ("acc" or "purity") is drawn at its step count, on a log axis. ``level`` draws a baseline's value.
    The y axis runs from 0.5 (a two-way split can do no worse) to 1 unless ``ylim`` says otherwise.
    ``cost``: ``{width: seconds per step}`` (as ``benchmarks/step_cost.py`` measures it) puts every point at its
    training time instead, steps x seconds per step of its width, in minutes of one CPU thread; widths
    without a cost are left out.  A seed whose collapse check fired (a generator's samples stopped
    varying, or D's loss on them fell to ~0) is also marked with a cross.  ``legend=False`` leaves the
    legend to the caller (:func:`compute_curves`) and writes the level's value at its line instead.
    """
    def at(w, steps):            # where a point of width w goes: its steps, or its minutes of one thread
        return steps if cost is None else steps * cost[w] / 60
    drawn = (lambda w: True) if cost is None else (lambda w: w in cost)
    groups = {w: {at(w, n): v for n, v in pts.items()} for w, pts in curve_points(results, metric).items() if drawn(w)}
    fig, ax = _new_axes(ax, (5.6, 3.4))
    for w, pts in sorted(groups.items()):
        xs = sorted(pts)
        line, = ax.plot(xs, [np.mean(pts[x]) for x in xs], "o-", label=f"width {w} (mean over seeds)")
        for x in xs:
            ax.plot([x] * len(pts[x]), pts[x], ".", color=line.get_color(), alpha=0.5)
    raw = [(r["settings"]["g_width"], r["stages"][0]) for r in results]
    flagged = [(at(w, st["steps"]), st[metric]) for w, st in raw if drawn(w) and st.get("collapse", {}).get("flagged")]
    if flagged:
        ax.plot(*zip(*flagged), "x", color="k", ms=5, mew=1, label="a seed whose collapse check fired")
    if level is not None:
        ax.axhline(level, color="k", ls="--", lw=1, label=f"{level_name} ({level:.3f})" if legend else level_name)
        if not legend:
            ax.annotate(f"{level_name} {level:.3f}", (1, level), xycoords=("axes fraction", "data"), xytext=(-2, -3),
                        textcoords="offset points", fontsize=8, ha="right", va="top")
    ax.set_xscale("log", base=2)
    if cost is None:
        all_x = sorted({x for pts in groups.values() for x in pts})
        ax.set_xticks(all_x, [str(x) for x in all_x])
        ax.set_xlabel("training steps per GAN")
    else:
        lo, hi = (min(x for pts in groups.values() for x in pts), max(x for pts in groups.values() for x in pts)) \
            if groups else (1, 1)
        ticks = [t for t in (0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 240) if lo / 1.5 <= t <= hi * 1.5]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.set_xlabel("minutes of one CPU thread per GAN")
    ax.set_ylabel({"acc": "ACC", "purity": "majority-side purity"}.get(metric, metric))
    ax.set_ylim(*ylim) if ylim else None
    if legend:
        ax.legend(fontsize=8, frameon=False, loc="best")
    ax.grid(alpha=0.3)
    sns.despine(ax=ax)
    return fig


def compute_curves(panels, cost=None, level_name: str = "k-means", ylim=(0.5, 1.0)):
    """:func:`compute_curve` side by side at the page's width, one legend under all of them.

    ``panels``: ``(title, results, metric, level)`` per panel; ``cost`` as in :func:`compute_curve`.
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(PAGE_WIDTH, 3.5), squeeze=False)
    entries = {}
    for ax, (title, results, metric, level) in zip(axes[0], panels):
        compute_curve(results, metric, level, level_name, ax=ax, ylim=ylim, cost=cost, legend=False)
        ax.set_title(title, fontsize=10)
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label.replace(" (mean over seeds)", ""), handle)
    ncol = min(len(entries), 3 if len(entries) > 5 else 5)
    fig.legend(list(entries.values()), list(entries), loc="lower center", ncol=ncol, fontsize=8, frameon=False,
               columnspacing=1.2, handletextpad=0.4)
    rows = -(-len(entries) // ncol)
    fig.tight_layout(rect=(0, 0.02 + 0.05 * rows, 1, 1))
    return fig


def schedule_figure(sims, unit: str = "h", title=None):
    """The simulated schedules of :func:`hcmgan_lite.schedule.simulate`: one panel per worker count.

    Each worker is a row; each split a bar from its start to its end, labelled with the node's path
    (root: "root"); blue bars are splits the tree uses, grey bars speculation it did not need
    (hatched: stopped when the tree was complete).
    """
    scale = {"h": 3600.0, "min": 60.0, "s": 1.0}[unit]
    sims = list(sims)
    heights = [max(s.workers, 1) * 0.32 + 0.55 for s in sims]
    fig, axes = plt.subplots(len(sims), 1, figsize=(PAGE_WIDTH, sum(heights) + 0.3), squeeze=False,
                             gridspec_kw={"height_ratios": heights}, sharex=True)
    end = max(s.wall for s in sims) / scale
    for ax, sim in zip(axes[:, 0], sims):
        for worker, path, start, stop, used in sim.jobs:
            color = "#3f7fe8" if used else "#bbbbbb"
            ax.barh(worker, (stop - start) / scale, left=start / scale, height=0.8, color=color,
                    edgecolor="white", hatch=None if used or stop < sim.wall else "//")
            if (stop - start) / scale > end / 25:
                ax.text((start + stop) / 2 / scale, worker, path or "root", ha="center", va="center", fontsize=7,
                        color="white" if used else "black", clip_on=True)
        ax.axvline(sim.wall / scale, color="k", lw=1)
        ax.set_yticks(range(sim.workers), [f"worker {i + 1}" for i in range(sim.workers)], fontsize=7)
        ax.set_ylim(sim.workers - 0.5, -0.5)
        ax.set_title(f"{sim.workers} worker{'s' if sim.workers > 1 else ''}: {sim.wall / scale:.1f} {unit}",
                     fontsize=9, loc="left")
        sns.despine(ax=ax)
    axes[-1, 0].set_xlabel(f"time ({unit})")
    axes[-1, 0].set_xlim(0, end * 1.02)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def curve_points(results: list[dict], metric: str) -> dict:
    """``{generator width: {steps: [the raw split's metric, one per seed]}}`` from ``split`` results."""
    groups: dict = {}
    for r in results:
        st = r["stages"][0]
        groups.setdefault(r["settings"]["g_width"], {}).setdefault(st["steps"], []).append(st[metric])
    return groups

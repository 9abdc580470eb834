"""Figures of the book and the explorer (matplotlib + seaborn).

Every function returns the matplotlib ``Figure`` it drew on and never calls
``plt.show()``.  Images may be uint8 (``N×C×H×W``, 0..255) or float in
``[-1, 1]`` (the generators' range).  Class colours come from
:func:`class_palette`, so a class has the same colour in every figure.

- :func:`image_grid`, :func:`sample_by_membership`, :func:`membership_shaded_grid`
- :func:`class_mass_bars`, :func:`split_progression`, :func:`split_acc`, :func:`split_acc_curve`
- :func:`training_curves`, :func:`snapshot_strip`
- :func:`tree_figure` (the paper's Figures 1 and 5)
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


def _layout(tree, max_depth):
    """x (in leaf slots) and depth of every drawn node; leaves of the drawn tree get one slot each."""
    pos, slot = {}, [0]

    def place(k):
        node = tree.nodes[k]
        if node.children is None or (max_depth is not None and node.depth >= max_depth):
            pos[k] = slot[0]
            slot[0] += 1
        else:
            for c in node.children:
                place(c)
            pos[k] = (pos[node.children[0]] + pos[node.children[1]]) / 2
    place(0)
    return pos, slot[0]


def tree_figure(tree, n_clusters=None, n_images: int = 16, max_depth=None):
    """The paper's Figures 1 and 5: the tree top-down, each node's real samples with its class-mass bars.

    Leaves of the tree cut at ``n_clusters`` (default: all grown leaves) get a
    thick black frame.  The figure grows with the tree (about 2.5 in per leaf
    slot and 2.1 in per level), so it stays legible at 10 leaves.
    """
    pos, n_slots = _layout(tree, max_depth)
    depth = max(tree.nodes[k].depth for k in pos)
    cut = set(tree.leaves(n_clusters))
    labelled = tree.labels is not None
    cell_w, cell_h = (2.5 if labelled else 1.5), 2.1
    W, H = max(n_slots * cell_w, 4.0), (depth + 1) * cell_h + 0.5
    fig = plt.figure(figsize=(W, H))
    back = fig.add_axes([0, 0, 1, 1])
    back.set_xlim(0, W), back.set_ylim(H, 0), back.axis("off")
    img_w, img_h = 1.25, 1.25
    gap = 0.3                     # room for the bars' tick labels
    bar_w = cell_w - img_w - gap - 0.25
    nrow = int(np.ceil(np.sqrt(n_images)))

    def box(k):   # left, top of the node's image (inches; y grows downward)
        width = img_w + (gap + bar_w if labelled else 0)
        return (pos[k] + 0.5) * cell_w - width / 2, 0.6 + tree.nodes[k].depth * cell_h

    for k in pos:
        node = tree.nodes[k]
        if node.parent is not None:
            (px, py), (cx, cy) = box(node.parent), box(k)
            back.plot([px + img_w / 2, cx + img_w / 2], [py + img_h, cy - 0.2], color="0.6", lw=1, zorder=0)
    colors = class_palette(len(tree.class_names) if tree.class_names else int(tree.labels.max()) + 1) \
        if labelled else None
    for k in pos:
        node = tree.nodes[k]
        x, y = box(k)
        ax = fig.add_axes([x / W, 1 - (y + img_h) / H, img_w / W, img_h / H])
        real = node.real if node.real is not None else torch.zeros(1, *tree.image_shape, dtype=torch.uint8)
        image_grid(real[:n_images], nrow=nrow, ax=ax, border="k" if k in cut else None)
        if k not in cut:
            _frame(ax, "0.75", 0.8)
        ax.set_title(f"node {k} · mass {node.mass:,.0f}", fontsize=7, fontweight="bold" if k in cut else None)
        if labelled:
            bx = fig.add_axes([(x + img_w + gap) / W, 1 - (y + img_h) / H, bar_w / W, img_h / H])
            table = class_mass_table(node.membership[None], tree.labels, tree.class_names)[0]
            bx.bar(range(len(table)), np.nan_to_num(table), color=colors, width=0.85)
            bx.set_ylim(0, 100), bx.set_xticks([]), bx.set_yticks([0, 50, 100])
            bx.tick_params(labelsize=5, length=2, pad=1)
            sns.despine(ax=bx)
    if labelled:
        names = tree.class_names or [str(c) for c in range(len(colors))]
        handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors]
        fig.legend(handles, names, loc="upper left", fontsize=7, frameon=False, ncol=min(len(names), 5),
                   title="% of each class's mass in the node", title_fontsize=7)
    return fig

"""Walk a grown tree node by node: an ipywidgets explorer that also works without a kernel.

``explore(tree)`` (or ``explore("runs/my-tree")``, a run folder or a
``tree.pt`` file) returns a widget with two parts:

- a node picker: a ``Dropdown`` listing the tree's outline, and a ``Stack``
  holding one pre-rendered view per node (real samples, the generator's
  samples, class-mass bars, and for split nodes the split stage by stage);
- a cluster-count slider with a second ``Stack``: one pre-rendered summary per
  cut of the tree (sizes of the clusters, and ACC/NMI when labels are known).

The pickers are tied to their stacks with ``widgets.jslink``, which runs in the
browser: in a rendered page with no Python behind it the views still switch.
Figures are PNG images inside ``widgets.Image``, so they are saved with the page.

Imports: metrics, tree, figures, data (held-out images).
"""
from __future__ import annotations

import html
import io
from pathlib import Path

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch

from . import figures
from .metrics import cluster_acc, nmi
from .tree import Tree

NBSP = "\u00a0"


def _load(tree_or_path) -> Tree:
    if isinstance(tree_or_path, Tree):
        return tree_or_path
    if isinstance(tree_or_path, (str, Path)):
        return Tree.load(tree_or_path)
    raise TypeError(f"explore() takes a Tree or the path of a saved tree, got {type(tree_or_path).__name__}")


def _png(fig, dpi: int) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _image(fig, dpi: int) -> widgets.Image:
    # at its own size (a VBox would stretch it to the full width), shrunk to fit narrow pages
    layout = widgets.Layout(max_width="100%", height="auto", align_self="flex-start", margin="0")
    return widgets.Image(value=_png(fig, dpi), format="png", layout=layout)


def _table(header, rows) -> str:
    cell = "style='padding:1px 12px 1px 0; text-align:{}'"
    th = "".join(f"<th {cell.format('left')}>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td {cell.format('right' if i else 'left')}>{v}</td>"
                                    for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table style='border-collapse:collapse; margin:4px 0'><tr>{th}</tr>{body}</table>"


def outline(tree: Tree) -> list[tuple[int, str]]:
    """``(node id, label)`` in depth-first order, each label drawn like a file tree."""
    rows = []

    def walk(k, prefix, last, root):
        node = tree.nodes[k]
        kind = "leaf" if node.children is None else f"split #{tree.splits.index(k) + 1}"
        text = f"node {k} · {kind} · mass {node.mass:,.0f}"
        rows.append((k, prefix + ("" if root else ("└─ " if last else "├─ ")) + text))
        if node.children is not None:
            inner = prefix + ("" if root else ("   " if last else "│  "))
            for i, c in enumerate(node.children):
                walk(c, inner, i == 1, False)
    walk(0, "", True, True)
    return [(k, label.replace(" ", NBSP)) for k, label in rows]


def _leaf_range(tree: Tree, k: int) -> tuple[int, int]:
    """Cluster counts n for which node k is a leaf of the cut tree (inclusive)."""
    parent = tree.nodes[k].parent
    first = 1 if parent is None else tree.splits.index(parent) + 2
    last = tree.splits.index(k) + 1 if k in tree.splits else tree.n_leaves
    return first, last


def _composition(tree: Tree, membership: torch.Tensor, top: int = 2) -> str:
    """The classes making up most of a node's mass, e.g. 'Trouser 61%, Bag 30%'."""
    if tree.labels is None:
        return ""
    n = len(tree.class_names) if tree.class_names else int(tree.labels.max()) + 1
    mass = torch.zeros(n).index_add_(0, tree.labels, membership.float())
    share = mass / mass.sum().clamp_min(1e-12)
    names = tree.class_names or [str(c) for c in range(n)]
    best = share.argsort(descending=True)[:top]
    return ", ".join(f"{html.escape(names[c])} {share[c]:.0%}" for c in best.tolist())


def explorer_summary(tree_or_path) -> dict:
    """The numbers the explorer shows, without drawing anything.

    ``outline``: ``[(node id, label)]`` in the order of the node picker;
    ``cuts``: per cluster count ``n`` (1..leaves), the leaves, their hard sizes
    and masses, and with labels ``acc``/``nmi`` of ``tree.predict(n)``.
    """
    tree = _load(tree_or_path)
    cuts = []
    for n in range(1, tree.n_leaves + 1):
        pred = tree.predict(n)
        cut = {"n_clusters": n, "leaves": tree.leaves(n),
               "sizes": torch.bincount(pred, minlength=n).tolist(),
               "masses": [tree.nodes[k].mass for k in tree.leaves(n)]}
        if tree.labels is not None:
            cut["acc"], cut["nmi"] = cluster_acc(tree.labels, pred), nmi(tree.labels, pred)
        cuts.append(cut)
    return {"outline": outline(tree), "cuts": cuts, "n_nodes": len(tree.nodes), "n_leaves": tree.n_leaves}


def _node_header(tree: Tree, k: int) -> str:
    node = tree.nodes[k]
    line1 = [f"<b>node {k}</b> · depth {node.depth} · mass {node.mass:,.1f} "
             f"({node.mass / tree.n_images:.1%} of the {tree.n_images:,} images)",
             "the root" if node.parent is None else f"parent: node {node.parent}"]
    if node.children is not None:
        a, b = node.children
        line1.append(f"children: node {a} (mass {tree.nodes[a].mass:,.0f}) and node {b} "
                     f"(mass {tree.nodes[b].mass:,.0f}), split #{tree.splits.index(k) + 1} of the tree")
    else:
        line1.append("a leaf of the grown tree")
    first, last = _leaf_range(tree, k)
    line2 = [f"one of the clusters when the tree is cut at {first}" + (f"–{last}" if last > first else "")
             + f" cluster{'s' if last > 1 else ''}"]
    comp = _composition(tree, node.membership)
    if comp:
        line2.append(f"mostly {comp}")
    return " · ".join(line1) + "<br>" + " · ".join(line2)


def _stage_table(node) -> str:
    if not node.split_logs:
        return ""
    guarded = any("accepted" in lg for lg in node.split_logs)
    rows = []
    for lg in node.split_logs:
        row = [html.escape(str(lg.get("stage"))), lg.get("steps"), f"{lg.get('seconds', 0):.1f}",
               "" if lg.get("c_acc") is None else f"{lg['c_acc']:.2f}",
               "" if lg.get("spread_ratio") is None else f"{lg['spread_ratio']:.2f}",
               "" if lg.get("change") is None else f"{lg['change']:,.1f}"]
        if guarded:   # refine_guard: a refinement that made the split less decisive is not kept
            row.append("no (every try failed)" if lg.get("failed") else
                       {True: "yes", False: "no (less decisive)"}.get(lg.get("accepted"), ""))
        rows.append(row)
    header = ["stage", "steps", "seconds", "classifier accuracy", "generator spread ÷ real",
              "mass it would move"] + ["kept"] * guarded
    retries = "".join(f"<li>{html.escape(r['reason'])}{' (kept: every try failed)' if r.get('kept') else ''}</li>"
                      for r in node.retries)
    return ("<b>The trainings of this split</b>" + _table(header, rows)
            + (f"Trainings thrown away and redone:<ul>{retries}</ul>" if retries else ""))


def _nrow(images) -> int:
    return int(np.ceil(np.sqrt(len(images))))


def _held_out_view(tree: Tree, k: int, held, dpi: int) -> widgets.VBox:
    """New images the tree routes to node ``k``: drawn by their routed membership, with their count and mass."""
    images, routed, share = held
    mass = float(routed[k].sum())
    head = (f"<b>Held-out images routed here</b>: mass {mass:,.1f} of {len(images):,} "
            f"({100 * mass / max(len(images), 1):.1f}%), {int(share[k]):,} of them most of all")
    if mass <= 0:
        return widgets.VBox([widgets.HTML(head)])
    fig, ax = plt.subplots(figsize=(2.9, 2.9))
    grid = figures.sample_by_membership(images, routed[k], 25, seed=k)
    figures.image_grid(grid, nrow=_nrow(grid), ax=ax, border=figures.REAL,
                       title="images it never saw, drawn by routed membership")
    return widgets.VBox([widgets.HTML(head), _image(fig, dpi)])


def _node_view(tree: Tree, k: int, images, dpi: int, held=None) -> widgets.VBox:
    node = tree.nodes[k]
    labelled = tree.labels is not None
    items = [widgets.HTML(_node_header(tree, k))]
    # real samples | the parent's generator for this node | class-mass bars
    n_panels = 2 + labelled
    fig, axes = plt.subplots(1, n_panels, figsize=(2.6 * n_panels + 0.4, 2.7),
                             gridspec_kw={"width_ratios": [1, 1] + [1.3] * labelled})
    real = node.real if images is None else figures.sample_by_membership(images, node.membership, 25, seed=k)
    figures.image_grid(real, nrow=_nrow(real), ax=axes[0], title="real images, drawn from $P_{s_k}$",
                       border=figures.REAL)
    if node.generated is not None:
        figures.image_grid(node.generated, nrow=_nrow(node.generated), ax=axes[1], border=figures.GENERATED,
                           title=f"generated for it (node {node.parent}'s split)")
    else:
        axes[1].axis("off")
        axes[1].text(0.5, 0.5, "the root has no generator:\nall images, mass 1 each", ha="center",
                     va="center", fontsize=8, transform=axes[1].transAxes)
    if labelled:
        figures.class_mass_bars(node.membership, tree.labels, tree.class_names, [f"node {k}"], ax=axes[2])
        axes[2].set_title("% of each class's mass", fontsize=9)
    fig.tight_layout()
    items.append(_image(fig, dpi))
    if node.children is not None and node.split_fakes:
        a, b = node.children
        s_l = tree.nodes[a].membership
        s_m = tree.nodes[b].membership
        n_panels = 2 + (images is not None)
        fig, axes = plt.subplots(1, n_panels, figsize=(2.7 * n_panels + 0.3, 2.7))
        fakes = node.split_fakes[-1]
        stage = "raw split" if len(node.split_fakes) == 1 else f"refinement {len(node.split_fakes) - 1}"
        for j, (ax, c) in enumerate(zip(axes, (a, b))):
            figures.image_grid(fakes[j], nrow=_nrow(fakes[j]), ax=ax, border=figures.GENERATED,
                               title=f"generator of node {c} ({stage})")
        if images is not None:
            figures.membership_shaded_grid(images, s_l, s_m, n=25, seed=k, ax=axes[2])
            axes[2].set_title(f"its images: blue → node {a}, red → node {b}", fontsize=8)
        fig.tight_layout()
        items.append(_image(fig, dpi))
        if labelled and node.history:
            fig = figures.split_progression(node.history, node.membership, tree.labels, tree.class_names)
            fig.suptitle(f"how node {k} splits into $s_l$ = node {a} and $s_m$ = node {b}, stage by stage",
                         fontsize=9, y=1.04)
            items.append(_image(fig, dpi))
        items.append(widgets.HTML(_stage_table(node)))
    if held is not None:
        items.append(_held_out_view(tree, k, held, dpi))
    return widgets.VBox(items)


def _cut_view(tree: Tree, cut: dict, dpi: int) -> widgets.VBox:
    n = cut["n_clusters"]
    head = f"<b>{n} cluster{'s' if n > 1 else ''}</b>: leaves " + ", ".join(f"node {k}" for k in cut["leaves"])
    if "acc" in cut:
        head += f" · <b>ACC {cut['acc']:.3f}</b> · <b>NMI {cut['nmi']:.3f}</b>"
    rows = [(i, f"node {k}", f"{size:,}", f"{mass:,.1f}", _composition(tree, tree.nodes[k].membership))
            for i, (k, size, mass) in enumerate(zip(cut["leaves"], cut["sizes"], cut["masses"]))]
    header = ["cluster", "leaf", "images (argmax)", "mass", "mostly" if tree.labels is not None else ""]
    items = [widgets.HTML(head + _table(header, rows))]
    if tree.labels is not None:
        n_cls = len(tree.class_names) if tree.class_names else int(tree.labels.max()) + 1
        names = [f"node {k}" for k in cut["leaves"]]
        if n * n_cls <= 30:      # a few bars: grouped bars read best
            fig, ax = plt.subplots(figsize=(1.5 + 0.12 * n * n_cls + 0.4 * n, 2.5))
            figures.class_mass_bars(tree.memberships(n), tree.labels, tree.class_names, names, ax=ax)
        else:                    # many: a table of colour stays legible
            fig = figures.class_mass_heatmap(tree.memberships(n), tree.labels, tree.class_names, names)
            ax = fig.axes[0]
        ax.set_title(f"% of each class's mass in the {n} clusters", fontsize=9)
        items.append(_image(fig, dpi))
    return widgets.VBox(items)


class TreeExplorer(widgets.VBox):
    """The widget :func:`explore` returns.

    Parts, for use in code and tests: ``node_picker`` (Dropdown), ``node_stack``
    (Stack, one view per node in the picker's order), ``node_ids`` (node id of
    each option), ``cut_slider`` (SelectionSlider over 1..leaves), ``cut_stack``
    (Stack, one summary per cluster count), ``links`` (the two jslinks) and
    ``summary`` (:func:`explorer_summary`).
    """

    def __init__(self, tree: Tree, images=None, dpi: int = 80, held_out=None):
        held = None
        if held_out is not None:   # images the tree never saw, sent down it by the splits' kept classifiers
            from .data import ImageData, from_tensor
            held_out = held_out if isinstance(held_out, ImageData) else from_tensor(held_out)
            x, routed = held_out.images, tree.route(held_out, device="cpu")
            # images whose largest share of all the nodes of their depth is this node's
            depth = torch.tensor([n.depth for n in tree.nodes])
            share = torch.zeros(len(tree.nodes))
            for d in depth.unique():
                ids = (depth == d).nonzero().flatten()
                share[ids] = torch.bincount(routed[ids].argmax(0), minlength=len(ids)).float()
            held = (torch.as_tensor(x).cpu(), routed, share)
        if images is not None:
            images = getattr(images, "images", images)
            if len(images) != tree.n_images:
                raise ValueError(f"images has {len(images)} images but the tree was grown on {tree.n_images}")
            images = images.cpu()
        self.tree = tree
        self.summary = explorer_summary(tree)
        rows = self.summary["outline"]
        self.node_ids = [k for k, _ in rows]
        self.node_picker = widgets.Dropdown(options=[(label, k) for k, label in rows], value=0,
                                            description="Node", layout=widgets.Layout(width="480px"))
        self.node_stack = widgets.Stack([_node_view(tree, k, images, dpi, held) for k in self.node_ids],
                                        selected_index=0)
        n = tree.n_leaves
        self.cut_slider = widgets.SelectionSlider(options=[(str(i), i) for i in range(1, n + 1)], value=n,
                                                  description="Clusters", continuous_update=True)
        self.cut_stack = widgets.Stack([_cut_view(tree, c, dpi) for c in self.summary["cuts"]],
                                       selected_index=n - 1)
        self.links = [widgets.jslink((self.node_picker, "index"), (self.node_stack, "selected_index")),
                      widgets.jslink((self.cut_slider, "index"), (self.cut_stack, "selected_index"))]
        s = tree.settings
        refs = f"{s.refinements} refinement{'' if s.refinements == 1 else 's'} per split"
        title = (f"<b style='font-size:1.15em'>A tree of {n} leaves, {len(tree.nodes)} nodes, "
                 f"{tree.n_images:,} images</b>, grown with the {html.escape(str(s.profile))} settings "
                 f"({refs}) in {tree.seconds:.0f} s"
                 + (f" on {html.escape(tree.device)}" if tree.device else "") + ".")
        super().__init__([
            widgets.HTML(title),
            widgets.HTML("<b>Pick a node</b> (the outline is the tree: ├─ and └─ lead to a node's "
                         "two children)"),
            self.node_picker, self.node_stack,
            widgets.HTML("<hr><b>Cut the tree</b> at a number of clusters (the latest splits are undone first)"),
            self.cut_slider, self.cut_stack,
        ])


def explore(tree_or_path, images=None, dpi: int = 80, held_out=None) -> TreeExplorer:
    """An explorer widget for a :class:`~hcmgan_lite.tree.Tree` or the path of a saved one.

    ``images``: the data the tree was grown on (``ImageData`` or ``N×C×H×W``),
    optional; with it, each node shows fresh samples and split nodes also show
    their images tinted by the split (Figure 3, bottom).  ``held_out``: images
    the tree was not grown on (a tree with kept classifiers); each node then also
    shows those the tree routes there.  ``dpi`` sets the resolution of the
    pre-rendered figures.
    """
    return TreeExplorer(_load(tree_or_path), images=images, dpi=dpi, held_out=held_out)

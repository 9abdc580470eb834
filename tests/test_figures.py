"""Figures on a small tree grown for real (a few seconds of training at tiny widths)."""
import os
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from hcmgan_lite import figures as F  # noqa: E402
from hcmgan_lite import from_tensor, get_settings, grow_tree, load_fashion_mnist, raw_split  # noqa: E402
from hcmgan_lite.metrics import class_mass_table  # noqa: E402

# collapse_spread=0: networks this small, trained this briefly, never vary like real images
TINY = dict(collapse_spread=0, g_width=8, d_widths=(8, 16, 32), batch_size=16, gen_batch_size=16, max_steps=6, min_steps=6,
            log_every=2, refinements=1, n_samples=9, max_retries=0, collapse_loss=0.0)
REPO = Path(__file__).resolve().parents[1]


def small_data():
    """240 Fashion-MNIST images of 4 classes, or random images with 4 labels when the data is absent."""
    for root in (os.environ.get("HCMGAN_DATA"), REPO / "data"):
        if root:
            try:
                return load_fashion_mnist(root).subset(classes=[1, 8, 7, 0], per_class=60)
            except FileNotFoundError:
                continue
    g = torch.Generator().manual_seed(0)
    return from_tensor(torch.rand(240, 1, 28, 28, generator=g) * 2 - 1, labels=torch.arange(240) % 4)


def grow_small_tree(tmp_path_factory, data):
    """A 4-leaf tree; grown once per test session (the second caller resumes the saved tree)."""
    run = tmp_path_factory.getbasetemp() / "small_tree"
    return grow_tree(data, 4, get_settings("quick", **TINY), "cpu", run_dir=run, progress=False), run


@pytest.fixture(scope="module")
def data():
    return small_data()


@pytest.fixture(scope="module")
def tree(tmp_path_factory, data):
    return grow_small_tree(tmp_path_factory, data)[0]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


def test_image_grid_shows_the_given_pixels():
    white = torch.full((6, 1, 8, 8), 255, dtype=torch.uint8)
    fig = F.image_grid(white, nrow=3, border=F.GENERATED, title="t")
    arr = fig.axes[0].images[0].get_array()
    assert arr.shape == (2 * 9 + 1, 3 * 9 + 1, 3) and (arr == 255).all()
    assert all(np.allclose(sp.get_edgecolor()[:3], matplotlib.colors.to_rgb(F.GENERATED))
               for sp in fig.axes[0].spines.values())
    black = -torch.ones(6, 1, 8, 8)                      # float in [-1, 1]
    arr = F.image_grid(black, nrow=3).axes[0].images[0].get_array()
    assert (arr == 0).sum() == 6 * 8 * 8 * 3              # every image pixel black, the padding white


def test_sample_by_membership_follows_the_membership():
    x = torch.arange(5, dtype=torch.uint8)[:, None, None, None].expand(5, 1, 2, 2) * 50
    s = torch.tensor([0, 0, 1.0, 0, 0])
    out = F.sample_by_membership(x, s, n=7, seed=3)
    assert out.shape == (7, 1, 2, 2) and (out == 100).all()
    s = torch.rand(5)
    assert torch.equal(F.sample_by_membership(x, s, 10, seed=1), F.sample_by_membership(x, s, 10, seed=1))


def test_membership_shaded_grid_tints_by_the_split(data):
    n = len(data)
    fig = F.membership_shaded_grid(data.images, torch.ones(n), torch.zeros(n), n=9)
    assert len(fig.axes) == 2                             # the grid and its colour bar
    arr = fig.axes[0].images[0].get_array().astype(int)
    assert (arr[..., 2] >= arr[..., 0]).all() and (arr[..., 2] > arr[..., 0]).any()   # s_l: blue
    arr = F.membership_shaded_grid(data.images, torch.zeros(n), torch.ones(n), n=9).axes[0].images[0]
    arr = arr.get_array().astype(int)
    assert (arr[..., 0] >= arr[..., 2]).all() and (arr[..., 0] > arr[..., 2]).any()   # s_m: red


def test_class_mass_bars_heights_are_the_table(tree):
    m = tree.memberships()
    fig = F.class_mass_bars(m, tree.labels, tree.class_names)
    heights = [p.get_height() for p in fig.axes[0].patches]
    table = np.nan_to_num(class_mass_table(m, tree.labels, tree.class_names))
    assert np.allclose(heights, table.ravel())
    assert np.allclose(table.sum(0), 100, atol=1e-3)      # the leaves partition every class


def test_split_acc():
    y = torch.tensor([0, 0, 1, 1, 1])
    assert F.split_acc(torch.tensor([1.0, 1, 0, 0, 0]), torch.tensor([0.0, 0, 1, 1, 1]), y) == 1.0
    # the last image is outside the node (s_k = 0.2): it does not count
    assert F.split_acc(torch.tensor([1.0, 1, 0, 0, 0.2]), torch.tensor([0.0, 0, 1, 1, 0]), y) == 1.0


def test_split_progression_has_a_panel_per_stage(tree):
    node = tree.nodes[0]
    fig = F.split_progression(node.history, node.membership, tree.labels, tree.class_names)
    assert len(fig.axes) == len(node.history) == 1 + TINY["refinements"]
    for t, ax in enumerate(fig.axes):
        s_l = node.history[t]
        acc = F.split_acc(s_l, node.membership - s_l, tree.labels)
        assert f"ACC {acc:.3f}" in ax.get_title()
    assert len(F.split_progression(node.history, node.membership, tree.labels, tree.class_names,
                                   stages=[1]).axes) == 1


def test_split_acc_curve_has_a_line_per_split(tree):
    fig = F.split_acc_curve(tree)
    lines = fig.axes[0].get_lines()
    assert len(lines) == len(tree.splits)
    node = tree.nodes[tree.splits[0]]
    expected = [F.split_acc(h, node.membership - h, tree.labels) for h in node.history]
    assert np.allclose(lines[0].get_ydata(), expected)


def test_training_curves_and_snapshots(data):
    s = get_settings("quick", **TINY)
    res = raw_split(data.images, torch.ones(len(data)), s, torch.device("cpu"), snapshot_every=4, progress=False)
    fig = F.training_curves(res.log, collapse_spread=0.1)
    assert len(fig.axes) == 3 and len(fig.axes[0].get_lines()) == 4
    assert list(fig.axes[1].get_lines()[0].get_xdata()) == res.log.history["step"]
    spread = fig.axes[2].get_lines()                     # one line per generator, then the threshold
    assert list(spread[1].get_ydata()) == [r[1] for r in res.log.history["spread_ratio_each"]]
    assert list(spread[2].get_ydata()) == [0.1, 0.1]
    fig = F.snapshot_strip(res.log.snapshots)
    assert len(image_axes(fig)) == 2 * len(res.log.snapshots) and len(res.log.snapshots) >= 3
    assert len(image_axes(F.snapshot_strip(res.log, max_rows=2))) == 4


def test_tree_figure_draws_every_node(tree):
    fig = F.tree_figure(tree, n_clusters=3)
    leaves = tree.leaves(3)
    axes = image_axes(fig)
    assert len(axes) == 3                                 # one image grid per leaf of the cut
    assert all(ax.spines["top"].get_linewidth() == 3.0 for ax in axes)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert sorted(t for t in texts if t.startswith("node")) == sorted(
        f"node {k} · mass {tree.nodes[k].mass:,.0f}" for k in leaves)
    internal = [k for k in range(len(tree.nodes)) if k in tree.splits[:2]]
    bar_titles = sorted(ax.get_title() for ax in fig.axes if ax.patches and not ax.images and ax.get_title())
    assert bar_titles == sorted(f"node {k}" for k in internal)   # the split nodes of the cut, with their bars
    for ax in fig.axes:                                    # every bar chart shows the class-mass table
        if ax.patches and ax.get_title() in [f"node {k}" for k in internal]:
            k = int(ax.get_title().split()[1])
            table = class_mass_table(tree.nodes[k].membership[None], tree.labels, tree.class_names)[0]
            assert np.allclose([p.get_height() for p in ax.patches], np.nan_to_num(table))
    assert len(image_axes(F.tree_figure(tree, max_depth=1))) == 2


def synthetic_tree(splits, n=400, n_cls=10):
    """A tree with a given split order and random memberships (no training): for layout tests."""
    from hcmgan_lite.tree import Node, Tree
    g = torch.Generator().manual_seed(0)
    t = Tree(n, (1, 28, 28), get_settings("quick"), labels=torch.arange(n) % n_cls,
             class_names=[f"class name {c}" for c in range(n_cls)])
    real = torch.randint(0, 255, (16, 1, 28, 28), dtype=torch.uint8, generator=g)
    t.nodes.append(Node(0, None, 0, torch.ones(n), real=real))
    for k in splits:
        parent = t.nodes[k]
        share = torch.rand(n, generator=g)
        ids = (len(t.nodes), len(t.nodes) + 1)
        for i, part in zip(ids, (share, 1 - share)):
            t.nodes.append(Node(i, k, parent.depth + 1, parent.membership * part, real=real))
        parent.children = ids
        t.splits.append(k)
    return t


@pytest.mark.parametrize("splits", [
    [0, 1, 2, 3, 4, 5, 6, 7, 8],            # balanced-ish: depth 4
    [0, 1, 3, 5, 7, 2, 4, 6, 8],            # one long branch: depth 5
    [0, 1, 3, 5, 7, 9],                     # a chain to depth 6
])
def test_tree_figure_is_legible_at_the_page_width(splits):
    """At the book's 100 dpi in a page PAGE_WIDTH wide: image grids >= ~100 px, text >= 7 pt, height per leaf."""
    t = synthetic_tree(splits)
    fig = F.tree_figure(t)
    width, height = fig.get_size_inches()
    shrink = min(1.0, F.PAGE_WIDTH / width)
    grids = image_axes(fig)
    assert len(grids) == t.n_leaves
    for ax in grids:
        w = ax.get_position().width * width * 100 * shrink
        assert w >= 95, f"an image grid is {w:.0f} px wide on the page"
    sizes = [t_.get_fontsize() * shrink for ax in fig.axes for t_ in ax.texts + [ax.title]] + \
        [lab.get_fontsize() * shrink for ax in fig.axes for lab in ax.get_yticklabels() if lab.get_text()]
    assert min(sizes) >= 6.5
    assert height <= 1.6 * t.n_leaves + 1


def test_class_mass_heatmap_cells_are_the_table(tree):
    m = tree.memberships()
    fig = F.class_mass_heatmap(m, tree.labels, tree.class_names, [f"leaf {k}" for k in tree.leaves()])
    table = class_mass_table(m, tree.labels, tree.class_names)
    cells = [float(t.get_text()) for t in fig.axes[0].texts]
    assert np.allclose(cells, np.round(np.nan_to_num(table)).ravel())
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [f"leaf {k}" for k in tree.leaves()]
    assert fig.get_size_inches()[0] <= F.PAGE_WIDTH


def test_compute_curve_means_per_width_and_the_level():
    def res(w, steps, acc):
        return {"settings": {"g_width": w}, "stages": [{"steps": steps, "acc": acc, "purity": acc}]}
    results = [res(32, 200, 0.5), res(32, 200, 0.7), res(32, 800, 0.8), res(64, 200, 0.4)]
    fig = F.compute_curve(results, "acc", level=0.702)
    lines = fig.axes[0].get_lines()
    means = [ln for ln in lines if ln.get_label().startswith("width")]
    assert [ln.get_label() for ln in means] == ["width 32 (mean over seeds)", "width 64 (mean over seeds)"]
    assert list(means[0].get_xdata()) == [200, 800] and np.allclose(means[0].get_ydata(), [0.6, 0.8])
    assert list(lines[-1].get_ydata()) == [0.702, 0.702]


def test_compute_curve_against_minutes_of_one_thread():
    def res(w, steps, acc):
        return {"settings": {"g_width": w}, "stages": [{"steps": steps, "acc": acc, "purity": acc}]}
    results = [res(16, 1200, 0.6), res(32, 200, 0.5), res(32, 200, 0.7), res(64, 200, 0.4)]
    fig = F.compute_curve(results, "acc", level=0.702, cost={16: 0.05, 32: 0.15})   # width 64: no cost, left out
    means = [ln for ln in fig.axes[0].get_lines() if ln.get_label().startswith("width")]
    assert [ln.get_label() for ln in means] == ["width 16 (mean over seeds)", "width 32 (mean over seeds)"]
    assert np.allclose(means[0].get_xdata(), [1.0]) and np.allclose(means[1].get_xdata(), [0.5])
    assert np.allclose(means[1].get_ydata(), [0.6])
    assert fig.axes[0].get_xlabel() == "minutes of one CPU thread per GAN"


def test_compute_curve_marks_seeds_whose_collapse_check_fired():
    def res(w, steps, acc, flagged):
        return {"settings": {"g_width": w},
                "stages": [{"steps": steps, "acc": acc, "collapse": {"flagged": flagged}}]}
    results = [res(16, 200, 0.7, True), res(16, 200, 0.6, False), res(16, 400, 0.65, False), res(64, 400, 0.5, True)]
    fig = F.compute_curve(results, "acc", level=0.702)
    marks = [ln for ln in fig.axes[0].get_lines() if ln.get_label() == "a seed whose collapse check fired"]
    assert len(marks) == 1 and list(marks[0].get_xdata()) == [200, 400] and list(marks[0].get_ydata()) == [0.7, 0.5]
    fig = F.compute_curve(results, "acc", cost={16: 0.06})     # width 64 has no cost: its cross is left out too
    marks = [ln for ln in fig.axes[0].get_lines() if ln.get_label() == "a seed whose collapse check fired"]
    assert np.allclose(marks[0].get_xdata(), [0.2]) and list(marks[0].get_ydata()) == [0.7]
    assert not [ln for ln in F.compute_curve(results[1:3], "acc").axes[0].get_lines()
                if ln.get_label() == "a seed whose collapse check fired"]


def test_compute_curves_share_one_legend_below_the_panels():
    def res(w, steps, acc, flagged=False):
        return {"settings": {"g_width": w},
                "stages": [{"steps": steps, "acc": acc, "purity": acc, "collapse": {"flagged": flagged}}]}
    left = [res(16, 200, 0.6, True), res(32, 200, 0.7)]
    right = [res(32, 400, 0.9), res(64, 400, 0.95)]
    fig = F.compute_curves([("a", left, "acc", 0.7), ("b", right, "purity", 0.8)])
    assert len(fig.axes) == 2 and [ax.get_title() for ax in fig.axes] == ["a", "b"]
    assert all(ax.get_legend() is None for ax in fig.axes) and len(fig.legends) == 1
    # every width once (16 and 32 from the left panel, 64 from the right), the cross and the level
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "width 16", "width 32", "a seed whose collapse check fired", "k-means", "width 64"]
    # each panel writes its own level at its line
    assert [t.get_text() for t in fig.axes[0].texts] == ["k-means 0.700"]
    assert [t.get_text() for t in fig.axes[1].texts] == ["k-means 0.800"]
    assert fig.get_size_inches()[0] == F.PAGE_WIDTH

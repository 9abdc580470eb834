"""The tree explorer: its structure, its numbers, and loading a saved tree."""
import ipywidgets as widgets
import matplotlib
import pytest
import torch
from ipywidgets.embed import embed_data
from ipywidgets.widgets.widget_link import Link

matplotlib.use("Agg")

from hcmgan_lite import Tree, cluster_acc, nmi  # noqa: E402
from hcmgan_lite.explorer import TreeExplorer, explore, explorer_summary  # noqa: E402
from test_figures import grow_small_tree, small_data  # noqa: E402


@pytest.fixture(scope="module")
def grown(tmp_path_factory):
    data = small_data()
    tree, run = grow_small_tree(tmp_path_factory, data)
    return tree, run, data


@pytest.fixture(scope="module")
def explorer(grown):
    return explore(grown[0], dpi=40)


def is_png(w):
    return isinstance(w, widgets.Image) and w.value[:8] == b"\x89PNG\r\n\x1a\n"


def test_node_picker_lists_the_tree(grown, explorer):
    tree = grown[0]
    options = explorer.node_picker.options
    assert isinstance(explorer, TreeExplorer) and isinstance(explorer.node_picker, widgets.Dropdown)
    assert len(options) == len(tree.nodes)
    assert sorted(k for _, k in options) == list(range(len(tree.nodes)))
    for label, k in options:
        node = tree.nodes[k]
        assert f"node\u00a0{k}\u00a0" in label
        assert ("leaf" in label) == (node.children is None)
        assert f"mass\u00a0{node.mass:,.0f}" in label
        assert label.startswith("node") == (k == 0)       # only the root is not drawn as a branch
    # depth-first: every child comes after its parent, deeper children indented further
    order = [k for _, k in options]
    for k in order[1:]:
        assert order.index(tree.nodes[k].parent) < order.index(k)


def test_one_view_per_node_linked_in_the_browser(grown, explorer):
    tree = grown[0]
    stack = explorer.node_stack
    assert isinstance(stack, widgets.Stack) and len(stack.children) == len(tree.nodes)
    link = explorer.links[0]
    assert isinstance(link, Link)                 # jslink: runs in the browser, no kernel needed
    assert link.source == (explorer.node_picker, "index") and link.target == (stack, "selected_index")
    for k, view in zip(explorer.node_ids, stack.children):
        node = tree.nodes[k]
        assert f"<b>node {k}</b>" in view.children[0].value
        pngs = [w for w in view.children if is_png(w)]
        # samples (+ generators and the split stage by stage for split nodes)
        assert len(pngs) == (3 if node.children is not None else 1)
        if node.children is not None:
            table = view.children[-1].value
            assert all(lg["stage"] in table for lg in node.split_logs)
            assert ("kept" in table) == any("accepted" in lg for lg in node.split_logs)
    # the picker drives the stack (the link syncs in the browser; here set both as the browser would)
    assert stack.selected_index == explorer.node_picker.index == 0


def test_cut_slider_and_its_summaries(grown, explorer):
    tree = grown[0]
    n = tree.n_leaves
    slider = explorer.cut_slider
    assert [v for _, v in slider.options] == list(range(1, n + 1)) and slider.value == n
    assert len(explorer.cut_stack.children) == n and explorer.cut_stack.selected_index == n - 1
    link = explorer.links[1]
    assert link.source == (slider, "index") and link.target == (explorer.cut_stack, "selected_index")
    acc, score = cluster_acc(tree.labels, tree.predict()), nmi(tree.labels, tree.predict())
    assert explorer.summary["cuts"][-1]["acc"] == acc
    full = explorer.cut_stack.children[-1].children[0].value
    assert f"ACC {acc:.3f}" in full and f"NMI {score:.3f}" in full
    for i, view in enumerate(explorer.cut_stack.children):
        cut = explorer.summary["cuts"][i]
        assert cut["n_clusters"] == i + 1 and sum(cut["sizes"]) == tree.n_images
        assert cut["leaves"] == tree.leaves(i + 1)


def test_widget_state_embeds_without_a_kernel(explorer):
    state = embed_data(views=[explorer])["manager_state"]["state"]
    models = {m["model_name"] for m in state.values()}
    assert {"DropdownModel", "StackModel", "LinkModel", "SelectionSliderModel", "ImageModel"} <= models


def test_explore_a_saved_tree(grown, tmp_path):
    tree = grown[0]
    path = tree.save(tmp_path / "saved" / "tree.pt")
    w = explore(str(path.parent), dpi=20)                  # a run folder holding tree.pt
    assert w.tree.splits == tree.splits and len(w.node_stack.children) == len(tree.nodes)
    labels = [label for _, label in explorer_summary(tree)["outline"]]
    assert [label for label, _ in w.node_picker.options] == labels
    assert explorer_summary(path) == explorer_summary(tree)   # the file itself
    with pytest.raises(FileNotFoundError):
        explore(tmp_path / "nothing here")


def test_explore_with_images_and_without_labels(grown):
    tree, _, data = grown
    w = explore(tree, images=data, dpi=20)
    root_view = w.node_stack.children[w.node_ids.index(0)]
    assert len([c for c in root_view.children if is_png(c)]) == 3
    with pytest.raises(ValueError, match="images"):
        explore(tree, images=data.images[:10])
    bare = Tree.load(grown[1])
    bare.labels, bare.class_names = None, None
    w = explore(bare, dpi=20)
    assert "ACC" not in w.cut_stack.children[-1].children[0].value
    assert len(w.node_stack.children) == len(bare.nodes)
    assert torch.equal(torch.tensor(explorer_summary(bare)["cuts"][-1]["sizes"]),
                       torch.bincount(bare.predict(), minlength=bare.n_leaves))


def test_each_node_shows_the_held_out_images_the_tree_routes_there(grown):
    tree, _, data = grown
    held = data.images.flip(-1)[:40]   # images the tree never saw (mirrored), as a tensor in [-1, 1]
    from hcmgan_lite import from_tensor
    w = explore(tree, dpi=20, held_out=from_tensor(held, value_range=(-1, 1)))
    routed = tree.route(from_tensor(held, value_range=(-1, 1)), device="cpu")
    for k, view in zip(w.node_ids, w.node_stack.children):
        last = view.children[-1]
        assert "Held-out images routed here" in last.children[0].value
        assert f"mass {float(routed[k].sum()):,.1f} of 40" in last.children[0].value
        assert any(is_png(c) for c in last.children) == (float(routed[k].sum()) > 0)
    bare = Tree.load(grown[1])
    for n in bare.nodes:
        n.classifier = None
    with pytest.raises(ValueError, match="cannot route"):
        explore(bare, held_out=held)

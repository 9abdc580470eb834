"""The benchmark: its script runs and writes its results, and it compares like with like.

The speed comparison in ``benchmarks/bench.py`` is only fair if the library's
step and the plain reference loop (``benchmarks/plain_loop.py``) compute the
same thing.  The second group of tests checks that: from identical weights and
identical real images and latent codes, one step of each gives the same
losses, the same generator gradients and the same weights afterwards.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hcmgan_lite import get_settings
from hcmgan_lite.training import SplitGAN

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from plain_loop import PLAIN_LOOP_SETTINGS, from_library  # noqa: E402

CPU = torch.device("cpu")
SMALL = dict(collapse_spread=0, g_width=8, d_widths=(8, 16, 32), batch_size=12, gen_batch_size=10, lr_c_refine=3e-3,
             **PLAIN_LOOP_SETTINGS)


def test_bench_small_writes_results(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HCMGAN_PROGRESS": "0"}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--small", "--out", str(tmp_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = list(tmp_path.glob("*.json"))
    assert len(files) == 1 and files[0].with_suffix(".md").exists()
    res = json.loads(files[0].read_text())
    for key in ("device", "torch", "threads", "load_before", "load_after", "settings", "rows", "projection"):
        assert key in res, key
    assert res["threads"] >= 1 and len(res["load_before"]) == 3
    assert {(r["phase"], r["width"]) for r in res["rows"]} == {(p, w) for p in ("raw", "refine") for w in ("quick", "paper")}
    for r in res["rows"]:
        assert r["library_steps_s"] > 0 and r["plain_steps_s"] > 0
        assert r["ratio"] == pytest.approx(r["library_steps_s"] / r["plain_steps_s"], rel=1e-6)
        assert len(r["library_runs"]) == res["settings"]["repeats"]
    assert res["projection"]["hours"] > 0 and res["projection"]["steps"] > 0
    assert "projection" in proc.stdout.lower()


def _one_step(mode, sigma=0.0, seed=0):
    torch.manual_seed(seed)
    s = get_settings("quick", **SMALL)
    X = torch.rand(50, 1, 28, 28) * 2 - 1
    kd = 1 if mode == "mgan" else 2
    weights = torch.rand(kd, len(X))
    gan = SplitGAN(mode, (1, 28, 28), s, CPU)
    plain = from_library(gan, X, weights)
    real, z = gan.draw(X, weights)
    acc = torch.zeros(6)
    gan.update(real, z, sigma, acc)
    logs = plain.update(list(real), list(z), sigma)
    return gan, plain, acc, logs


def _copies(p, k):
    return p.reshape(k, -1, *p.shape[1:])


def _assert_same_update(p_plain, p_lib, grad_lib, name):
    """Equal weights after the step.  Adam's first step moves a weight by about lr * sign(grad), so where
    the gradient all but vanishes its sign is float rounding; such weights are left out."""
    ok = (p_plain - p_lib).abs() <= 1e-6 + 1e-5 * p_lib.abs()
    assert (ok | (grad_lib.abs() < 1e-5)).all(), name


@pytest.mark.parametrize("mode", ["mgan", "pair"])
def test_library_step_equals_plain_step(mode):
    gan, plain, acc, logs = _one_step(mode)
    lib = dict(zip(("d_real", "d_fake", "g_adv", "c_loss"), acc[:4].tolist()))
    for key, v in lib.items():
        assert logs[key] == pytest.approx(v, rel=1e-5, abs=1e-6), key
    # the generators' gradients (adversarial + classification terms) and their weights afterwards
    for j, g in enumerate(plain.generators):
        for (name, p_lib), p_plain in zip(gan.G.named_parameters(), g.parameters()):
            grad = _copies(p_lib.grad, gan.G.k)[j]
            torch.testing.assert_close(p_plain.grad, grad, rtol=0, atol=1e-3 * grad.abs().max().item(), msg=name)
            _assert_same_update(p_plain.detach(), _copies(p_lib.detach(), gan.G.k)[j], grad, name)
    # the critics' weights after their update (the library keeps the critics' gradients of that update)
    for j, grp in enumerate(plain.groups):
        for (name, p_lib), p_plain in zip(gan.D.named_parameters(), grp.D.parameters()):
            _assert_same_update(p_plain.detach(), _copies(p_lib.detach(), gan.D.k)[j],
                                _copies(p_lib.grad, gan.D.k)[j], name)


@pytest.mark.parametrize("mode", ["mgan", "pair"])
def test_plain_loop_trains_and_predicts(mode):
    gan, plain, _, _ = _one_step(mode, sigma=0.5)
    X = torch.rand(30, 1, 28, 28) * 2 - 1
    hist = plain.train(3)
    assert len(hist) == 3 and all(torch.isfinite(torch.tensor(list(h.values()))).all() for h in hist)
    p = plain.predict(X, batch_size=7)
    assert p.shape == (30,) and ((p >= 0) & (p <= 1)).all()
    plain2 = from_library(gan, X, torch.ones(gan.kd, len(X)))
    torch.testing.assert_close(plain2.predict(X), gan.predict(X).cpu(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("k", [1, 2])
def test_execution_options_do_not_change_results(k):
    """Grouped or copy by copy, channels-last or not: same outputs and same gradients."""
    from hcmgan_lite.models import Critic, Generator
    torch.manual_seed(0)
    z, x = torch.rand(k, 5, 100), torch.rand(k, 6, 1, 28, 28) * 2 - 1
    ref_g, ref_c = Generator(k, width=16), Critic(k, 1, 28, (8, 16, 32))

    def run(g, c):
        g.zero_grad(), c.zero_grad()
        out = g(z), c.discriminate(c.features(x)), c.classify(c.features(g(z)))
        sum(o.square().sum() for o in out).backward()
        return out, [p.grad.clone() for p in [*g.parameters(), *c.trunk_parameters()]]

    want, want_grads = run(ref_g, ref_c)
    for loop, cl, dense in [(False, False, False), (False, True, False), (True, False, False), (True, True, False),
                            (False, False, True), (False, True, True)]:
        g, c = Generator(k, width=16), Critic(k, 1, 28, (8, 16, 32))
        g.load_state_dict(ref_g.state_dict()), c.load_state_dict(ref_c.state_dict())
        g.set_execution(loop, cl), c.set_execution(loop, cl, dense_first=dense)
        got, grads = run(g, c)
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
        for a, b in zip(grads, want_grads):
            torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5)


def test_block_diagonal_weight_is_the_grouped_convolution():
    """dense_first: the dense convolution with the block-diagonal weight equals the grouped one (3 channels too),
    and the zeros off the diagonal get no gradient."""
    import torch.nn.functional as F
    from hcmgan_lite.models import block_diagonal
    torch.manual_seed(1)
    for k, c in ((2, 1), (3, 3)):
        conv = torch.nn.Conv2d(k * c, k * 4, 5, 2, 2, groups=k)
        x = torch.randn(6, k * c, 12, 12)
        dense = block_diagonal(conv.weight, k)
        assert dense.shape == (k * 4, k * c, 5, 5)
        torch.testing.assert_close(F.conv2d(x, dense, conv.bias, 2, 2), conv(x), rtol=1e-5, atol=1e-5)
        off = torch.ones(k * 4, k * c, 5, 5, dtype=torch.bool)
        for j in range(k):
            off[j * 4:(j + 1) * 4, j * c:(j + 1) * c] = False
        assert (dense[off] == 0).all()
        w = conv.weight.detach().clone().requires_grad_()
        F.conv2d(x, block_diagonal(w, k), conv.bias, 2, 2).square().sum().backward()
        conv.zero_grad(); conv(x).square().sum().backward()
        torch.testing.assert_close(w.grad, conv.weight.grad, rtol=1e-4, atol=1e-4)


def test_compile_failure_falls_back_to_eager(monkeypatch, caplog):
    """Settings.compile: if compiling fails at the first call, training goes on eagerly."""
    def broken_compile(fn, **kw):
        def call(*a, **k):
            raise RuntimeError("no compiler here")
        return call
    monkeypatch.setattr(torch, "compile", broken_compile)
    s = get_settings("quick", **SMALL, compile=True)
    gan = SplitGAN("pair", (1, 28, 28), s, CPU)
    X = torch.rand(40, 1, 28, 28) * 2 - 1
    with caplog.at_level("WARNING"):
        tlog = gan.train(X, torch.ones(2, len(X)), 3, progress=False)
    assert tlog.steps == 3 and "running eagerly" in caplog.text
    assert gan.predict(X).shape == (40,)


@pytest.mark.needs_data("fashion-mnist")
def test_parallel_bench_small_writes_results(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HCMGAN_PROGRESS": "0"}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "parallel.py"), "--small", "--leaves", "4",
                           "--executors", "inline-1t,processes", "--out", str(tmp_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((tmp_path / "parallel-small.json").read_text())
    assert [r["executor"] for r in res["runs"]] == ["inline-1t", "processes"]
    assert all(r["identical"] for r in res["runs"])          # one thread per worker: the same tree
    assert [r["workers"] for r in res["simulated"]] == [1, 2, 4, 8]
    assert all(r["wall_s"] > 0 for r in res["simulated"])
    assert "| processes |" in (tmp_path / "parallel-small.md").read_text()


# ---- the deep-clustering baseline (ClustPy is optional) -------------------------------------------------
import deep_baselines  # noqa: E402


def test_deep_baseline_without_clustpy_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "clustpy", None)          # import clustpy -> ImportError
    with pytest.raises(SystemExit) as exc:
        deep_baselines.main(["fashion-mnist", "--per-class", "5", "--out", str(tmp_path / "out")])
    assert "pip install clustpy" in str(exc.value.code)
    assert not (tmp_path / "out").exists()                     # refused before anything was written


@pytest.mark.parametrize("args", [["--per-class", "0"], ["--pretrain-epochs", "0"], ["--method", "kmeans"]])
def test_deep_baseline_bad_arguments_exit_2(tmp_path, args):
    with pytest.raises(SystemExit) as exc:
        deep_baselines.main(["mnist", *args, "--out", str(tmp_path)])
    assert exc.value.code == 2


def test_deep_baseline_runs_and_writes_a_row(tmp_path, one_thread):
    pytest.importorskip("clustpy")
    out = tmp_path / "deep"
    argv = ["fashion-mnist", "--per-class", "20", "--method", "idec", "--seeds", "0", "1", "--pretrain-epochs", "2",
            "--clustering-epochs", "2", "--device", "cpu", "--out", str(out)]
    assert deep_baselines.main(argv) == 0
    reps = [json.loads(p.read_text()) for p in sorted(out.glob("fashion-mnist-idec-s*.json"))]
    assert [r["config"]["seed"] for r in reps] == [0, 1] and all(r["n_images"] == 200 for r in reps)
    assert all(0 < r["scores"]["acc"] <= 1 and r["params"]["pretrain_epochs"] == 2 for r in reps)
    before = (out / "fashion-mnist-idec-s0.json").read_text()
    assert deep_baselines.main(argv) == 0                      # finished seeds are kept, not run again
    assert (out / "fashion-mnist-idec-s0.json").read_text() == before
    from hcmgan_lite import tables
    row, = tables.deep_baseline_rows(reps, "CMD")
    assert row["data"] == "200 (20 per class)" and row["method"] == "IDEC (deep clustering baseline)"
    assert row["acc"]["n"] == 2 and abs(row["acc"]["mean"] - np.mean([r["scores"]["acc"] for r in reps])) < 1e-12


class _Node:   # the attributes of a ClustPy cluster-tree node that tree_structure reads
    def __init__(self, labels, left=None, right=None):
        self.labels, self.left_node_, self.right_node_ = labels, left, right

    def is_leaf_node(self):
        return self.left_node_ is None


def test_deepect_tree_structure_reads_clustpys_tree_breadth_first():
    from types import SimpleNamespace
    root = _Node([0, 1, 2], _Node([0, 2], _Node([0]), _Node([2])), _Node([1]))
    st = deep_baselines.tree_structure(SimpleNamespace(root_node_=root), np.array([2, 1, 0, 0]))
    assert st["parent"] == [-1, 0, 0, 1, 1]           # root, its two children, then the left child's two
    assert st["leaf_of"] == [4, 2, 3, 3]               # label 2 -> node 4, label 1 -> node 2, label 0 -> node 3
    t = {**st}
    deep_baselines.score_tree(t, np.array([1, 0, 1, 1]))
    assert 0 < t["dendrogram_purity"] <= 1 and t["leaf_purity"] == 1.0


def test_deepect_runs_keeps_its_tree_and_matches_clustpys_purities(tmp_path, one_thread):
    pytest.importorskip("clustpy")
    out = tmp_path / "deep"
    argv = ["fashion-mnist", "--per-class", "30", "--method", "deepect", "--pretrain-epochs", "2",
            "--clustering-epochs", "45", "--device", "cpu", "--out", str(out)]
    assert deep_baselines.main(argv) == 0
    rep = json.loads((out / "fashion-mnist-deepect-s0.json").read_text())
    assert rep["method"] == "DeepECT" and rep["trees"]["cut"]["n_leaves"] <= 10
    for t in rep["trees"].values():
        assert len(t["leaf_of"]) == 300 and t["dendrogram_purity"] == pytest.approx(t["clustpy_dendrogram_purity"])
        assert t["leaf_purity"] == pytest.approx(t["clustpy_leaf_purity"])
    assert deep_baselines.main([*argv, "--rescore"]) == 0


def test_granularity_scores_every_cut_of_three_methods():
    import granularity
    sys.path.insert(0, str(Path(__file__).parent))
    from test_hierarchy import _tree
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 60)
    X = rng.normal(size=(60, 5)) + y[:, None]
    tree = _tree([torch.as_tensor((X[:, 0] > t).astype("float32")) for t in (1.0, 0.0, 2.0)], y)
    res = granularity.granularity(tree, X, y)
    assert res["ks"] == [2, 3, 4] and set(res["scores"]) == {"HC-MGAN", "Ward", "k-means"}
    for per_k in res["scores"].values():
        assert set(per_k) == {2, 3, 4} and all(0 < v["purity"] <= 1 for v in per_k.values())
    assert {"dendrogram_purity", "leaf_purity"} <= set(res["hierarchy"]["HC-MGAN"])


# ---- refinement of every split of a grown tree ---------------------------------------------------------
import refine_splits  # noqa: E402

TINY_TREE = dict(collapse_spread=0, g_width=8, d_widths=(8, 16, 32), batch_size=16, gen_batch_size=16, max_steps=12,
                 min_steps=12, log_every=4, n_samples=4, refine_guard=False)


@pytest.mark.needs_data("fashion-mnist")
def test_refine_splits_continues_each_split_as_a_refining_tree_would(tmp_path, one_thread):
    from hcmgan_lite import runs
    from hcmgan_lite.metrics import majority_side_purity
    from hcmgan_lite.data import find_data_root
    root = str(find_data_root())
    kw = dict(per_class=10, progress=False, root=root, device="cpu", **TINY_TREE)
    raw = runs.fit("fashion-mnist", tmp_path / "raw", 3, "quick", 0, refinements=0, **kw)
    refined = runs.fit("fashion-mnist", tmp_path / "ref", 2, "quick", 0, refinements=1, **kw)
    out = tmp_path / "r.json"
    argv = [str(tmp_path / "raw"), "--refinements", "1", "--device", "cpu", "--data-root", root, "--out", str(out)]
    assert refine_splits.main(argv + ["--max-splits", "1"]) == 0
    assert len(json.loads(out.read_text())["splits"]) == 1                # the smaller split first
    assert refine_splits.main(argv) == 0                                   # resumes with the other one
    res = json.loads(out.read_text())
    assert sorted(sp["path"] for sp in res["splits"]) == ["", "0" if raw.nodes[1].mass > raw.nodes[2].mass else "1"]
    rsp = next(sp for sp in res["splits"] if sp["path"] == "")
    node = refined.nodes[0]                  # the same root split, refined inside the growth: the same numbers
    want = [majority_side_purity(h, node.membership - h, refined.labels) for h in node.history]
    assert [st["purity"] for st in rsp["stages"]] == pytest.approx(want, abs=1e-12)
    assert res["summary"]["n"] == 2 and 0 <= res["summary"]["rose"] <= 2
    with pytest.raises(SystemExit):                                        # a tree grown with refinements
        refine_splits.main([str(tmp_path / "ref"), "--device", "cpu", "--data-root", root, "--out", str(tmp_path / "x.json")])


def test_step_cost_times_each_width_and_rejects_bad_widths(tmp_path, one_thread):
    import step_cost
    out = tmp_path / "cost.json"
    step_cost.main(["--widths", "4", "8", "--steps", "2", "--repeats", "3", "--out", str(out)])
    res = json.loads(out.read_text())
    assert set(res["seconds_per_step"]) == {"4", "8"} and res["threads"] == 1
    for w in ("4", "8"):          # the median of its three timed runs, each a positive time
        runs = res["runs"][w]
        assert len(runs) == 3 and min(runs) > 0 and res["seconds_per_step"][w] == sorted(runs)[1]
    for bad in (["--widths", "3"], ["--widths", "0"], ["--steps", "0"]):
        with pytest.raises(SystemExit) as e:
            step_cost.main([*bad, "--out", str(tmp_path / "x.json")])
        assert e.value.code == 2
    assert not (tmp_path / "x.json").exists()

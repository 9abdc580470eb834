"""Hostile input: forged partial-split and tree files, a failed first command, bad outputs and odd values.

Forged files are written with the library's own storage functions (``save_checked`` recomputes the
checksum), as an attacker with the source would; every test checks that the forgery is refused or
ignored with a message naming the file, and that no work is lost. Tiny networks on the CPU.
"""
import json
import logging
import os
import threading
import warnings
from pathlib import Path

import pytest
import torch

import hcmgan_lite.__main__ as cli
import hcmgan_lite.tree as tree_mod
from hcmgan_lite import Tree, from_tensor, get_settings, grow_tree, load_fashion_mnist, raw_split, refine, runs
from hcmgan_lite.data import find_data_root
from hcmgan_lite.split import load_partial, partial_file
from hcmgan_lite.storage import save_checked
from hcmgan_lite.training import SplitGAN

CPU = torch.device("cpu")
DATA_ROOT = find_data_root()
pytestmark = [pytest.mark.needs_data("fashion-mnist"), pytest.mark.usefixtures("one_thread")]
TINY = dict(collapse_spread=0, collapse_loss=0, min_child_frac=0, g_width=8, d_widths=(8, 16, 32), batch_size=16,
            gen_batch_size=16, max_steps=8, min_steps=8, log_every=4, refinements=1, n_samples=4)
SETS = [f"{k}={v!r}".replace(" ", "") for k, v in TINY.items()]
FIT_ARGS = ["fashion-mnist", "--classes", "0,1", "--per-class", "30", "--clusters", "2", "--no-report"]


@pytest.fixture(scope="module")
def data():
    return load_fashion_mnist(DATA_ROOT).subset(classes=[0, 1, 8], per_class=40)


@pytest.fixture(scope="module")
def settings():
    return get_settings("quick", **TINY)


@pytest.fixture(scope="module")
def grown(data, settings, tmp_path_factory):
    run = tmp_path_factory.mktemp("grown")
    return grow_tree(data, 3, settings, CPU, run_dir=run, progress=False), run


@pytest.fixture
def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("training started although the input is invalid")
    monkeypatch.setattr(SplitGAN, "train", refuse)


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("HCMGAN_DATA", str(DATA_ROOT))
    monkeypatch.setenv("HCMGAN_PROGRESS", "0")


def _partial(s_l, t=0):
    st = {"s_l": s_l, "t": t, "history": [s_l] * (t + 1), "split_fakes": [torch.zeros(2, 4, 1, 28, 28,
          dtype=torch.uint8)] * (t + 1), "split_logs": [], "retries": [], "seconds": 0.0, "nets": None}
    return st


# ---- 1. forged partial-split files --------------------------------------------------------------------
PARTIAL_FORGERIES = ["no checksum, s_l = 1", "checksum recomputed, s_l = 5", "checksum recomputed, NaN",
                     "checksum recomputed, stage 7 of 1", "checksum recomputed, wrong length"]


def _forge_partial(forgery, n, run_dir):
    s_l = {"no checksum, s_l = 1": torch.ones(n), "checksum recomputed, s_l = 5": torch.full((n,), 5.0),
           "checksum recomputed, NaN": torch.full((n,), float("nan")),
           "checksum recomputed, wrong length": torch.full((n + 3,), 0.5)}.get(forgery, torch.full((n,), 0.5))
    st = _partial(s_l, t=7 if "stage 7" in forgery else 0)
    f = partial_file(run_dir, "")
    if forgery.startswith("no checksum"):
        f.parent.mkdir(parents=True)
        torch.save(st, f)
    else:
        save_checked(f, st)
    return f


@pytest.mark.parametrize("forgery", PARTIAL_FORGERIES)
def test_fit_over_a_forged_partial_file_grows_the_true_tree(forgery, data, settings, grown, tmp_path, caplog):
    """The forged root split is dropped, with a warning naming the file; the tree is the one grown without it."""
    f = _forge_partial(forgery, len(data), tmp_path)
    with caplog.at_level(logging.WARNING):
        tree = grow_tree(data, 3, settings, CPU, run_dir=tmp_path, progress=False)
    assert str(f) in caplog.text and "trained again" in caplog.text
    ref = grown[0]
    assert tree.splits == ref.splits
    assert all(torch.equal(a.membership, b.membership) for a, b in zip(tree.nodes, ref.nodes))
    runs.report(tmp_path, figure=False)   # its own report reads it


def test_a_genuine_partial_file_is_continued(data, tmp_path):
    n = len(data)
    f = partial_file(tmp_path, "")
    save_checked(f, _partial(torch.full((n,), 0.25)))
    st = load_partial(f, torch.ones(n), refinements=1)
    assert st is not None and st["t"] == 0 and torch.equal(st["s_l"], torch.full((n,), 0.25))


# ---- 2. a first command that fails in training leaves the run dir as it was --------------------------
@pytest.mark.parametrize("existed", [False, True])
def test_a_failed_first_command_leaves_the_run_dir_as_it_was(existed, env, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    if existed:
        run.mkdir()
        (run / "notes.txt").write_text("mine")
    before = sorted(p.name for p in run.iterdir()) if existed else None

    def fail(*args, **kwargs):
        raise RuntimeError("out of memory (simulated)")
    with monkeypatch.context() as m:
        m.setattr(SplitGAN, "train", fail)
        rc = cli.main(["fit", *FIT_ARGS, "--run-dir", str(run), *sum((["--set", s] for s in SETS), []),
                       "--set", "lr_c=0.5"])
    assert rc == 2 and "out of memory" in capsys.readouterr().err
    assert (sorted(p.name for p in run.iterdir()) == before) if existed else not run.exists()
    # another command (without the setting that failed) now starts there
    assert cli.main(["fit", *FIT_ARGS, "--run-dir", str(run), *sum((["--set", s] for s in SETS), [])]) == 0
    assert Tree.load(run).n_leaves == 2


def test_sizes_that_cannot_be_allocated_are_refused_before_the_run_dir(env, tmp_path, capsys, no_training):
    for bad in ("batch_size=99999999999999999999999", "batch_size=10**7", "n_samples=1000000000",
                "g_width=10**8"):
        rc = cli.main(["fit", *FIT_ARGS, "--run-dir", str(tmp_path / "r"), "--set", bad.replace("10**7", "10000000")
                       .replace("10**8", "100000000")])
        err = capsys.readouterr().err
        assert rc == 2 and "at most" in err, (bad, err)
        assert not (tmp_path / "r").exists()


# ---- 3. an empty run dir name ----------------------------------------------------------------------
def test_an_empty_run_dir_is_refused(env, tmp_path, monkeypatch, capsys, data, settings, no_training):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["fit", *FIT_ARGS, "--run-dir", ""]) == 2
    assert "--run-dir" in capsys.readouterr().err
    for where in ("", "  "):
        with pytest.raises(ValueError, match="run_dir"):
            grow_tree(data, 2, settings, CPU, run_dir=where, progress=False)
    assert list(tmp_path.iterdir()) == []


# ---- 4. the structure of a tree file, beyond its memberships ---------------------------------------
def _forged_tree(grown, tmp_path, edit):
    import copy
    d = copy.deepcopy(grown[0].state_dict())   # the tree itself stays as it was
    edit(d)
    return save_checked(tmp_path / "tree.pt", d)


def _nodes(d, k, **kw):
    d["nodes"][k] = {**d["nodes"][k], **kw}


FORGERIES = {
    "a split listed twice": (lambda d: d.update(splits=[d["splits"][0]] * 2), "not a leaf then"),
    "history values of 7": (lambda d: _nodes(d, d["splits"][0], history=[torch.full_like(h, 7.0)
                                               for h in d["nodes"][d["splits"][0]]["history"]]), "stage 0"),
    "labels of a million": (lambda d: d["labels"].__setitem__(0, 10 ** 6), "labels run from"),
    "negative labels": (lambda d: d["labels"].__setitem__(0, -1), "labels run from"),
    "a pending node 99": (lambda d: d.update(pending={"node": 99, "s_l": None, "t": -1}), "node 99"),
    "a pending split of a split node": (lambda d: d.update(pending={"node": 0, "s_l": None, "t": -1}),
                                        "not a leaf"),
    "a pending stage 9": (lambda d: d.update(pending={"node": 3, "s_l": None, "t": 9}), "stage 9"),
    "the splits reordered": (lambda d: d.update(splits=d["splits"][::-1]), "not a leaf then"),
    "a wrong parent": (lambda d: _nodes(d, 2, parent=1), "child of node 0"),
    "a split node without stages": (lambda d: _nodes(d, 0, history=[]), "no stages"),
    "a spare split off the tree": (lambda d: d.update(spare={"0110": {"s_l": torch.zeros(d["n_images"])}}),
                                   "spare split"),
    "a spare split of 5": (lambda d: d.update(spare={"1": {"s_l": torch.full((d["n_images"],), 5.0)}}),
                           "spare split"),
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_a_forged_tree_structure_is_refused_naming_the_file(forgery, grown, tmp_path, no_training):
    edit, msg = FORGERIES[forgery]
    if forgery == "a split listed twice":
        assert grown[0].splits[0] == 0
    path = _forged_tree(grown, tmp_path, edit)
    with pytest.raises(ValueError, match=msg) as err:
        Tree.load(path)
    assert str(path) in str(err.value)


def test_the_forgeries_are_valid_memberships(grown, tmp_path):
    """Each forgery leaves the checksum and the membership invariants intact: only the new checks catch it."""
    from hcmgan_lite.storage import checksum_problem
    for forgery, (edit, _) in FORGERIES.items():
        d = torch.load(_forged_tree(grown, tmp_path, edit), weights_only=True)
        assert checksum_problem(d) is None, forgery
        t = Tree(d["n_images"], d["image_shape"], grown[0].settings, d["labels"])
        t.nodes = [tree_mod.Node.from_dict(n) for n in d["nodes"]]
        t._check_memberships()   # the checks that were there already pass


# ---- 5. raw_split and refine check their images and settings first ----------------------------------
def _bad_x(data, kind):
    X = data.images
    return {"NaN": X.clone().fill_(float("nan")), "0..255 floats": (X + 1) * 127.5,
            "uint8": ((X + 1) * 127.5).to(torch.uint8), "3-D": X[:, 0]}[kind]


@pytest.mark.parametrize("kind", ["NaN", "0..255 floats", "uint8", "3-D"])
@pytest.mark.parametrize("fn", ["raw_split", "refine"])
def test_a_split_refuses_bad_images_before_training(kind, fn, data, settings, no_training):
    X, n = _bad_x(data, kind), len(data)
    with pytest.raises(ValueError, match="X \\(the images\\)"):
        if fn == "raw_split":
            raw_split(X, torch.ones(n), settings, CPU)
        else:
            refine(X, torch.full((n,), 0.5), torch.full((n,), 0.5), settings, CPU)


@pytest.mark.parametrize("fn", ["raw_split", "refine"])
def test_a_split_refuses_settings_that_are_not_settings(fn, data, settings, no_training):
    n = len(data)
    with pytest.raises(TypeError, match="Settings"):
        if fn == "raw_split":
            raw_split(data.images, torch.ones(n), settings.to_dict(), CPU)
        else:
            refine(data.images, torch.full((n,), 0.5), torch.full((n,), 0.5), settings.to_dict(), CPU)


# ---- 6. split --out is checked before training; a finished result is never lost ----------------------
@pytest.mark.parametrize("out", ["/proc/hcmgan-x.json", "", "DIR"])
def test_split_checks_its_output_before_training(out, env, tmp_path, capsys, no_training):
    out = str(tmp_path) if out == "DIR" else out
    rc = cli.main(["split", "fashion-mnist", "--classes", "0,1", "--per-class", "20", "--out", out])
    err = capsys.readouterr().err
    assert rc == 2 and "error:" in err and "training started" not in err


def test_a_result_that_cannot_be_written_is_kept_beside(tmp_path, capsys):
    out = tmp_path / "result.json"
    out.mkdir()   # writing to it fails (a folder), after the work is done
    kept = cli._write_or_keep(out, '{"acc": 0.9}')
    assert kept != out and kept.parent == tmp_path and json.loads(kept.read_text()) == {"acc": 0.9}
    assert str(kept) in capsys.readouterr().err


# ---- 7. smaller holes ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text,msg", [("{not json", "not valid JSON"), ("[1, 2]", "JSON list"),
                                      (b"\xff\xfe\x00", "not a text file")])
def test_a_broken_config_is_named(text, msg, grown, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "tree.pt").write_bytes((grown[1] / "tree.pt").read_bytes())
    (run / "config.json").write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ValueError, match=msg) as err:
        runs.report(run, figure=False)
    assert str(run / "config.json") in str(err.value)


def test_a_fifo_named_tree_pt_does_not_hang(tmp_path):
    os.mkfifo(tmp_path / "tree.pt")
    out = {}

    def load():
        try:
            Tree.load(tmp_path)
        except ValueError as exc:
            out["err"] = str(exc)
    t = threading.Thread(target=load, daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), "Tree.load blocked on a FIFO"
    assert "not a regular file" in out["err"]


def test_report_of_a_tree_file_writes_beside_it(grown, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "tree.pt").write_bytes((grown[1] / "tree.pt").read_bytes())
    assert cli.main(["report", str(run / "tree.pt")]) == 0
    assert (run / "report.json").is_file() and str(run) in capsys.readouterr().out


def test_a_plain_pickle_is_refused_in_one_line_without_torchs_advice(tmp_path):
    import pickle
    (tmp_path / "tree.pt").write_bytes(pickle.dumps({"format": "hcmgan-lite-tree", "x": Path("somewhere")}))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError) as err:
            Tree.load(tmp_path)
    assert not caught, [str(w.message) for w in caught]
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert "weights_only=False will likely succeed" not in str(err.value)


def test_floats_whose_range_is_ambiguous_are_refused():
    x = torch.rand(6, 28, 28) * 2
    with pytest.raises(ValueError, match="ambiguous"):
        from_tensor(x)
    assert from_tensor(x, value_range=(0, 2)).images.max() <= 1
    assert from_tensor(torch.rand(6, 28, 28) * 255).images.min() >= -1   # plain 8-bit floats still read


@pytest.mark.parametrize("n", [2.5, True, "2"])
def test_a_cut_needs_a_whole_number(n, grown):
    with pytest.raises(ValueError, match="whole number"):
        grown[0].predict(n)

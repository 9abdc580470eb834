"""A run directory that never lies, and a public API that refuses what cannot work.

Each test below reproduces one way a run dir used to describe another run than the one in its
``tree.pt``, or one input the library used to accept (or crash on) without a clear message.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hcmgan_lite.data import find_data_root
import torch

import hcmgan_lite.growth as growth_mod
from hcmgan_lite import HCMGAN, Tree, from_tensor, get_settings, grow_tree, runs
from hcmgan_lite.__main__ import main

pytestmark = pytest.mark.needs_data("fashion-mnist")   # every test here reads real images (README, Data)
REPO = Path(__file__).resolve().parents[1]
DATA_ROOT = find_data_root()   # $HCMGAN_DATA, else the checkout's data/
TINY = dict(collapse_spread=0, g_width=8, d_widths=(8, 16, 32), batch_size=16, gen_batch_size=16, max_steps=6,
            min_steps=6, log_every=3, refinements=0, n_samples=4)
FIT = ["fit", "fashion-mnist", "--classes", "0,1", "--per-class", "40", "--device", "cpu", "--no-report",
       *[a for k, v in TINY.items() for a in ("--set", f"{k}={v!r}".replace(" ", ""))]]
HOLDER = """
import sys
from hcmgan_lite.growth import run_lock
with run_lock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.readline()
"""


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    monkeypatch.setenv("HCMGAN_DATA", str(DATA_ROOT))
    monkeypatch.setenv("HCMGAN_PROGRESS", "0")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _err(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


# 1. a second fit into a busy run dir changes nothing there
def test_second_fit_while_the_first_holds_the_lock_changes_nothing(tmp_path, capsys):
    run = tmp_path / "run"
    assert main([*FIT, "--clusters", "2", "--seed", "0", "--run-dir", str(run)]) == 0
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.name != ".lock"}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run)], env=dict(os.environ, PYTHONPATH=str(REPO)),
                              cwd=REPO, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main([*FIT, "--clusters", "2", "--seed", "1", "--run-dir", str(run)]) == 2
        assert "is in use" in _err(capsys)
    finally:
        holder.communicate("\n", timeout=60)
    after = {p.name: p.read_bytes() for p in run.iterdir() if p.name != ".lock"}
    assert after == before                                           # config.json still says seed 0
    assert json.loads((run / "config.json").read_text())["seed"] == 0
    assert main([*FIT, "--clusters", "2", "--seed", "0", "--run-dir", str(run)]) == 0   # and it resumes


# 2. arguments are checked before anything is written
@pytest.mark.parametrize("extra,msg", [
    (["--clusters", "1"], "n_clusters (--clusters) must be an integer >= 2, got 1"),
    (["--clusters", "-3"], "must be an integer >= 2, got -3"),
    (["--clusters", "5000"], "n_clusters (--clusters) is 5000 but the data holds only 80 images"),
    (["--clusters", "2", "--set", "epochs=1e999"], "setting epochs must be a finite number, got inf"),
    (["--clusters", "2", "--set", "max_steps=None", "--set", "epochs=1e999"], "must be a finite number"),
    (["--clusters", "2", "--device", "tpu"], "device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got 'tpu'"),
    (["--clusters", "2", "--set", "lr_c_refine=-1"], "lr_c_refine must be None (use lr_c) or > 0, got -1"),
    (["--clusters", "2", "--set", "min_steps=50"], "min_steps (50) must not exceed max_steps (6)"),
])
def test_refused_arguments_leave_no_run_dir(extra, msg, tmp_path, capsys):
    run = tmp_path / "run"
    assert main([*FIT, "--run-dir", str(run), *extra]) == 2
    assert msg in _err(capsys)
    assert not run.exists()
    assert main([*FIT, "--run-dir", str(run), "--clusters", "2"]) == 0        # the corrected command runs


def test_grow_tree_checks_its_input_before_creating_the_run_dir(tmp_path):
    data = from_tensor(torch.rand(10, 28, 28))
    with pytest.raises(ValueError, match="cannot grow 20 clusters from 10 images"):
        grow_tree(data, 20, get_settings(**TINY), "cpu", run_dir=tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


# 3. every command-line failure is one "error:" line with exit code 2
def test_run_dir_that_is_a_file_or_cannot_be_created(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    assert main([*FIT, "--clusters", "2", "--run-dir", str(tmp_path / "afile")]) == 2
    assert "is a file; a run dir must be a folder" in _err(capsys)
    assert main([*FIT, "--clusters", "2", "--run-dir", "/proc/hcmgan-lite/run"]) == 2
    _err(capsys)


@pytest.mark.parametrize("edit", ["splits", "membership", "children", "labels", "nodes"])
def test_report_on_a_hand_edited_tree_file(edit, tmp_path, capsys):
    run = tmp_path / "run"
    assert main([*FIT, "--clusters", "2", "--run-dir", str(run)]) == 0
    d = torch.load(run / "tree.pt", weights_only=True)
    if edit == "splits":
        d["splits"] = [7]
    elif edit == "membership":
        d["nodes"][1]["membership"] = torch.ones(3)
    elif edit == "children":
        d["nodes"][0]["children"] = [1, 9]
    elif edit == "labels":
        d["labels"] = torch.zeros(5, dtype=torch.long)
    else:
        d["nodes"][2] = {"id": 2}
    torch.save(d, run / "tree.pt")
    assert main(["report", str(run)]) == 2
    assert "is a damaged tree file" in _err(capsys)


# 4. the estimator on a run dir that holds a larger tree cuts it
def test_estimator_cuts_a_larger_tree_at_n_clusters(tmp_path):
    data = from_tensor(torch.rand(60, 28, 28))
    big = HCMGAN(3, run_dir=tmp_path, progress=False, **TINY).fit(data)
    assert big.memberships_.shape == (3, 60)
    small = HCMGAN(2, run_dir=tmp_path, progress=False, **TINY).fit(data)
    assert small.memberships_.shape == (2, 60) and set(small.labels_.tolist()) <= {0, 1}
    assert (small.labels_ == big.tree_.cut(2).numpy()).all() and small.tree_.n_leaves == 3


# 5. settings that cannot work are refused, naming the setting
@pytest.mark.parametrize("bad,msg", [
    (dict(lr_c_refine=-1.0), "lr_c_refine must be None .use lr_c. or > 0"),
    (dict(lr_c_refine=0.0), "lr_c_refine must be None"),
    (dict(noise_var=float("inf")), "setting noise_var must be a finite number"),
    (dict(epochs=float("inf")), "setting epochs must be a finite number"),
    (dict(lr_g=float("nan")), "setting lr_g must be a finite number"),
    (dict(min_steps=10, max_steps=5), r"min_steps \(10\) must not exceed max_steps \(5\)"),
    (dict(betas=(0.5, float("inf"))), "setting betas must be a finite number"),
])
def test_settings_that_cannot_work(bad, msg):
    with pytest.raises(ValueError, match=msg):
        get_settings("quick", **bad)


# 6. inputs are never silently changed
def test_images_of_unusable_types_are_refused():
    with pytest.raises(TypeError, match="images must be real numbers, got complex"):
        from_tensor(np.zeros((4, 28, 28), np.complex64))
    with pytest.raises(TypeError, match="images must be real numbers, got a complex tensor"):
        from_tensor(torch.zeros(4, 28, 28, dtype=torch.complex64))
    with pytest.raises(TypeError, match="images must be an array of numbers, got dtype <U1"):
        from_tensor(np.full((4, 28, 28), "a"))
    with pytest.raises(TypeError, match="images must be an array of numbers, got dtype object"):
        from_tensor(np.array([None] * 4, dtype=object))


def test_negative_strides_and_long_doubles_are_read_exactly():
    rng = np.random.default_rng(0)
    x = rng.random((5, 28, 28))
    flipped = np.flip(x)                                        # negative strides
    assert torch.equal(from_tensor(flipped).images, from_tensor(flipped.copy()).images)
    if hasattr(np, "float128"):
        assert torch.allclose(from_tensor(x.astype(np.float128)).images, from_tensor(x).images)


# 7. stale temporary files go as soon as the lock is taken
def test_stale_temporary_files_removed_when_the_lock_is_taken(tmp_path):
    (tmp_path / "tree.pt.tmp4242").write_bytes(b"half a file")
    (tmp_path / "config.json.tmp").write_text("{")
    with growth_mod.run_lock(tmp_path):
        assert not list(tmp_path.glob("*.tmp*"))


def test_run_lock_is_reentrant_in_one_process(tmp_path):
    with growth_mod.run_lock(tmp_path):
        with growth_mod.run_lock(tmp_path):          # runs.fit holds it around grow_tree
            pass
        assert os.path.realpath(tmp_path) in growth_mod._HELD
    assert not growth_mod._HELD


# 8. every machine a run was grown on is kept
def test_every_machine_a_run_was_grown_on_is_kept(tmp_path, monkeypatch):
    data = from_tensor(torch.rand(40, 28, 28), labels=torch.arange(40) % 2)
    s = get_settings("quick", **TINY)
    grow_tree(data, 2, s, "cpu", run_dir=tmp_path, progress=False)
    grow_tree(data, 2, s, "cpu", run_dir=tmp_path, progress=False)          # same machine: no new entry
    assert len(Tree.load(tmp_path).envs) == 1
    real = growth_mod.run_environment
    monkeypatch.setattr(growth_mod, "run_environment", lambda dev: {**real(dev), "host": "elsewhere", "threads": 64})
    tree = grow_tree(data, 3, s, "cpu", run_dir=tmp_path, progress=False)
    envs = Tree.load(tmp_path).envs
    assert [e["host"] for e in envs] == [real(torch.device("cpu"))["host"], "elsewhere"] and tree.env["threads"] == 64
    rep = runs.report(tmp_path, figure=False)
    assert len(rep["environments"]) == 2 and "elsewhere, torch" in runs.report_markdown(rep)


# a fuzz test of the public API: every input trains to a valid result or is refused naming the argument
def _cases():
    rng = np.random.default_rng(1)
    imgs = {
        "float [0,1]": lambda: rng.random((12, 28, 28)).astype(np.float32),
        "uint8 NHWC": lambda: rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8),
        "bool": lambda: rng.random((12, 28, 28)) > 0.5,
        "float64 [-1,1] flipped": lambda: np.flip(rng.random((12, 1, 28, 28)) * 2 - 1),
        "int [0,255]": lambda: rng.integers(0, 256, (12, 28, 28)),
        "nan": lambda: np.full((12, 28, 28), np.nan),
        "out of range": lambda: rng.random((12, 28, 28)) * 1000 - 500,
        "wrong size": lambda: rng.random((12, 20, 20)),
        "5-D": lambda: rng.random((2, 12, 1, 28, 28)),
        "complex": lambda: np.zeros((12, 28, 28), np.complex128),
        "strings": lambda: np.full((12, 28, 28), "x"),
        "empty": lambda: np.zeros((0, 28, 28)),
        "a list of lists": lambda: [[[0.5] * 28] * 28] * 12,
        "a scalar": lambda: 3.0,
    }
    settings = {"none": {}, "gamma=0": dict(gamma=0.0), "refinements=1": dict(refinements=1),
                "noise multiplicative": dict(noise="multiplicative"), "narrow, positive": dict(
                    g_layout="narrow", latent="positive"), "refine_gens=1": dict(refine_gens=1, refinements=1),
                "epochs=-1": dict(epochs=-1), "batch_size=0": dict(batch_size=0), "latent=gauss": dict(latent="gauss"),
                "g_width=7": dict(g_width=7), "max_steps=0": dict(max_steps=0)}
    labels = {"none": lambda n: None, "ints": lambda n: np.arange(n) % 3, "short": lambda n: np.arange(max(n - 1, 0)),
              "floats 0.5": lambda n: np.full(n, 0.5)}
    keys = [(i, s, l) for i in imgs for s in settings for l in labels]
    picked = [keys[j] for j in np.random.default_rng(7).choice(len(keys), 40, replace=False)]
    return [(i, s, l, imgs[i], settings[s], labels[l]) for i, s, l in picked]


NAMED = ("images", "labels", "n_clusters", "setting", "epochs", "batch_size", "latent", "g_width", "max_steps",
         "must be", "value_range")


@pytest.mark.parametrize("name_i,name_s,name_l,make_images,settings,make_labels", _cases(),
                         ids=[f"{i} | {s} | labels {l}" for i, s, l, *_ in _cases()])
def test_public_api_fuzz(name_i, name_s, name_l, make_images, settings, make_labels):
    images = make_images()
    n = len(images) if hasattr(images, "__len__") else 0
    y = make_labels(n)
    try:
        est = HCMGAN(2, progress=False, **{**TINY, "max_steps": 2, "min_steps": 2, **settings})
        est.fit(images, y)
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        assert any(word in msg for word in NAMED), f"the error names no argument: {msg}"
        return
    assert est.labels_.shape == (n,) and est.memberships_.shape == (2, n)
    assert torch.allclose(torch.as_tensor(est.memberships_).sum(0), torch.ones(n), atol=1e-5)


def test_load_run_returns_the_tree_with_its_images_and_latest_run_finds_it(tmp_path):
    run = tmp_path / "runs" / "fm-a"
    grown = runs.fit("fashion-mnist", run, 2, "quick", 0, "cpu", classes=[0, 1], per_class=40,
                            progress=False, **TINY)
    tree, images = runs.load_run(run)
    assert tree.splits == grown.splits and images is not None and len(images) == 80
    assert torch.equal(images.labels, tree.labels)
    assert runs.load_run(run / "tree.pt")[1] is not None             # the file works as well as the folder
    cfg = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**cfg, "per_class": 30}))   # other images: the tree alone
    assert runs.load_run(run)[1] is None
    (run / "config.json").unlink()
    assert runs.load_run(run)[1] is None
    assert runs.latest_run(tmp_path / "runs", "fm-*") == run
    assert runs.latest_run(tmp_path / "runs", "mnist-*") is None
    assert runs.latest_run(tmp_path / "nowhere") is None


def test_report_baselines_refuse_other_images(tmp_path, monkeypatch, capsys):
    """report --baselines on a run whose images are not found any more (here: the same files, inverted) must
    refuse instead of computing k-means and Ward on other pixels beside the tree's scores."""
    import gzip as gz
    run = tmp_path / "run"
    assert main([*FIT, "--clusters", "2", "--seed", "0", "--run-dir", str(run)]) == 0
    other = tmp_path / "data" / "fashion-mnist"
    other.mkdir(parents=True)
    for f in (DATA_ROOT / "fashion-mnist").iterdir():
        raw = gz.decompress(f.read_bytes()) if f.suffix == ".gz" else f.read_bytes()
        if "images" in f.name:
            raw = raw[:16] + bytes(255 - b for b in raw[16:])
        (other / f.name.removesuffix(".gz")).write_bytes(raw)
    before = (run / "report.json").read_bytes() if (run / "report.json").exists() else None
    assert main(["report", str(run), "--baselines", "--data-root", str(tmp_path / "data")]) == 2
    assert "not the 80 the tree" in _err(capsys)
    assert ((run / "report.json").read_bytes() if (run / "report.json").exists() else None) == before
    assert main(["report", str(run), "--baselines"]) == 0                 # its own images: fine, and said
    assert "fingerprint" in json.loads((run / "report.json").read_text())["baselines_images"]


def test_sop_stand_in_goes_through_the_sop_loader(tmp_path, monkeypatch):
    data, source, real = runs.sop_data(per_class=12, root=DATA_ROOT)
    assert not real and "not found" in source and "Fashion-MNIST" in source
    assert data.name == "sop" and len(data) == 48 and data.shape == (1, 32, 32)
    assert sorted(data.class_names) == ["bag", "dress", "sneaker", "trouser"]    # kettle and lamp dropped
    from hcmgan_lite.data import load_sop, write_sop_layout
    fm = from_tensor(torch.linspace(-1, 1, 2 * 28 * 28).reshape(2, 1, 28, 28), labels=[0, 1],
                     class_names=["a b", "T-shirt/top"])
    folder = write_sop_layout(fm, tmp_path / "white", tint=(1, 1, 1), size=28, decoys=True)
    assert sorted(p.name for p in folder.iterdir()) == ["a_b_final", "kettle_final", "lamp_final",
                                                         "t-shirt-top_final"]
    back = load_sop(folder.parent, size=28, progress=False)
    assert back.class_names == ["a_b", "t-shirt-top"]
    assert (back.images - fm.images).abs().mean() < 0.05                          # the same pictures, through JPEG
    tinted = load_sop(write_sop_layout(fm, tmp_path / "tinted").parent, size=28, progress=False)
    assert np.corrcoef(tinted.images.flatten(), fm.images.flatten())[0, 1] > 0.99


def _overwrite_tensor_bytes(file: Path, tensor: torch.Tensor, values) -> None:
    """Change a few values of ``tensor`` in place inside a saved file (torch stores tensor bytes as they are)."""
    raw = file.read_bytes()
    old = tensor.contiguous().numpy().tobytes()
    at = raw.find(old)
    assert at > 0, "the tensor's bytes are not in the file"   # (the first copy: a split's history may repeat it)
    new = tensor.clone().contiguous()
    new.view(-1)[: len(values)] = torch.as_tensor(values, dtype=new.dtype)
    file.write_bytes(raw[:at] + new.numpy().tobytes() + raw[at + len(old):])


@pytest.mark.parametrize("what", ["membership", "sample images"])
def test_a_damaged_tree_file_is_refused_by_load_report_and_fit(tmp_path, capsys, what):
    """The float data of one node's membership (10 values 0.0, 10 values 5.0) or the bytes of a sample-image
    tensor changed inside a valid tree.pt: loading, `report` and resuming refuse it in one line."""
    run = tmp_path / "run"
    assert main([*FIT, "--clusters", "2", "--seed", "0", "--run-dir", str(run)]) == 0
    tree = Tree.load(run)
    if what == "membership":
        _overwrite_tensor_bytes(run / "tree.pt", tree.nodes[1].membership, [0.0] * 10 + [5.0] * 10)
    else:
        _overwrite_tensor_bytes(run / "tree.pt", tree.nodes[1].real, [255 - int(v) for v in tree.nodes[1].real.flatten()[:40]])
    with pytest.raises(ValueError, match="damaged tree file: its checksum does not match its contents"):
        Tree.load(run)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert main(["report", str(run)]) == 2
    err = _err(capsys)
    assert "checksum does not match" in err and "restore it from a copy, or delete it" in err and len(err) < 400
    assert main([*FIT, "--clusters", "2", "--seed", "0", "--run-dir", str(run)]) == 2   # the same command: resume
    assert "checksum does not match" in _err(capsys)
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before   # nothing rewritten


@pytest.mark.parametrize("edit,msg", [
    ("above one", r"node 1's membership leaves \[0, 1\] \(from .* to 5\)"),
    ("negative", r"node 2's membership leaves \[0, 1\] \(from -0.5"),
    ("nan", "node 1's membership has values that are not finite numbers"),
    ("children", r"node 0's children do not sum to it \(off by up to 0.3"),
    ("root", "the root's membership is not 1 for every image"),
])
def test_memberships_that_break_the_invariants_are_refused_even_with_a_valid_checksum(tmp_path, edit, msg):
    """A checksum cannot vouch for a file written wrongly (or re-signed): the memberships must be weights in
    [0, 1], the root all ones, and each split's children must sum to their parent."""
    from hcmgan_lite.storage import save_checked
    run = tmp_path / "run"
    assert main([*FIT, "--clusters", "2", "--seed", "0", "--run-dir", str(run)]) == 0
    d = Tree.load(run).state_dict()
    m1, m2, m0 = (d["nodes"][i]["membership"] for i in (1, 2, 0))
    if edit == "above one":
        m1[:10], m2[:10] = 5.0, -4.0 + m0[:10]
    elif edit == "negative":
        m2[:5] = -0.5
        m1[:5] = 1.0
    elif edit == "nan":
        m1[3] = float("nan")
    elif edit == "children":
        m1[7] = (m1[7] + 0.3) if m1[7] < 0.6 else (m1[7] - 0.3)
    else:
        for m in (m0, m1, m2):
            m.mul_(0.5)
    save_checked(tmp_path / "tree.pt", d)
    with pytest.raises(ValueError, match=msg):
        Tree.load(tmp_path)
    save_checked(tmp_path / "tree.pt", Tree.load(run).state_dict())   # the unedited tree: fine
    Tree.load(tmp_path)


def test_a_damaged_partial_split_is_trained_again(tmp_path, caplog):
    """A partial-split file whose bytes changed is ignored with a warning (the split is trained again)."""
    from hcmgan_lite.split import load_partial, new_split_state, save_partial
    s_l = torch.rand(50)
    st = {**new_split_state(), "s_l": s_l, "t": 0, "history": [s_l], "split_fakes": [torch.zeros(2, 1, 1, 28, 28)]}
    f = tmp_path / "partial" / "node-root.pt"
    save_partial(f, st)
    back = load_partial(f)
    assert torch.equal(back["s_l"], st["s_l"]) and "sha256" not in back
    _overwrite_tensor_bytes(f, st["s_l"], [0.5, 0.25])
    with caplog.at_level("WARNING"):
        assert load_partial(f) is None
    assert "ignoring the partial split" in caplog.text and "checksum does not match" in caplog.text \
        and "trained again" in caplog.text

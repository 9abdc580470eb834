"""Reliability: checkpoints and resume, determinism, bad input, collapse and degenerate splits.

Everything runs on the CPU with tiny networks (widths 8/16/32) and a few
steps per GAN; one test kills a real subprocess with SIGKILL and resumes it.
"""
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from hcmgan_lite.data import find_data_root
import torch

import hcmgan_lite.growth as growth_mod
import hcmgan_lite.split as split_mod
import hcmgan_lite.tree as tree_mod
from hcmgan_lite import (HCMGAN, CollapseError, ImageData, RunDirInUse, Tree, from_tensor, get_settings, grow_tree,
                         load_fashion_mnist, raw_split, refine)
from hcmgan_lite.models import Generator
from hcmgan_lite.storage import save_checked
from hcmgan_lite.training import SplitGAN

REPO = Path(__file__).resolve().parents[1]
DATA_ROOT = find_data_root()   # $HCMGAN_DATA, else the checkout's data/
CPU = torch.device("cpu")
pytestmark = [pytest.mark.needs_data("fashion-mnist"), pytest.mark.usefixtures("one_thread")]
# collapse_spread=0: networks this small, trained this briefly, never vary like real images
TINY = dict(collapse_spread=0, g_width=8, d_widths=(8, 16, 32), batch_size=16, gen_batch_size=16, max_steps=12, min_steps=12,
            log_every=4, refinements=1, n_samples=4)


@pytest.fixture(scope="module")
def fmnist():
    return load_fashion_mnist(DATA_ROOT)


@pytest.fixture(scope="module")
def data(fmnist):
    return fmnist.subset(classes=[0, 1, 8], per_class=60)


@pytest.fixture(scope="module")
def settings():
    return get_settings("quick", **TINY)


@pytest.fixture(scope="module")
def grown(data, settings, tmp_path_factory):
    """A 3-leaf tree grown with checkpoints, and its run dir."""
    run = tmp_path_factory.mktemp("grown")
    return grow_tree(data, 3, settings, CPU, run_dir=run, progress=False), run


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if any GAN training starts."""
    def refuse(*args, **kwargs):
        raise AssertionError("training started although the input is invalid")
    monkeypatch.setattr(SplitGAN, "train", refuse)


def same_tree(a: Tree, b: Tree, atol: float = 0.0) -> bool:
    return (a.splits == b.splits and len(a.nodes) == len(b.nodes)
            and all(torch.allclose(x.membership, y.membership, rtol=0, atol=atol) for x, y in zip(a.nodes, b.nodes)))


# ---- resume after a real kill ------------------------------------------------------------------

CHILD = """
import sys
import torch
torch.set_num_threads(1)
from hcmgan_lite import get_settings, grow_tree, load_fashion_mnist
data = load_fashion_mnist().subset(classes=[0, 1, 8], per_class=100)
settings = get_settings("quick", **{settings!r})
torch.optim.Adam([torch.zeros(1, requires_grad=True)])   # pay torch's one-off lazy imports up front
if sys.argv[2] == "wait":
    sys.stdin.readline()
grow_tree(data, 4, settings, "cpu", run_dir=sys.argv[1], progress=False)
"""
CHILD_SETTINGS = dict(TINY, refinements=2, seed=3)


def _child(run_dir: Path, wait: bool = False) -> subprocess.Popen:
    """The same command every time; with ``wait`` it starts growing only when told (on stdin)."""
    env = dict(os.environ, PYTHONPATH=str(REPO), HCMGAN_PROGRESS="0", HCMGAN_DATA=str(DATA_ROOT),
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    code = CHILD.format(settings=CHILD_SETTINGS)
    return subprocess.Popen([sys.executable, "-c", code, str(run_dir), "wait" if wait else "go"], env=env,
                            cwd=REPO, stdin=subprocess.PIPE if wait else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _kill_after_first_checkpoint(proc: subprocess.Popen, ckpt: Path, report: dict) -> None:
    """Wait for ``ckpt`` to appear, sleep a random fraction of a second, SIGKILL ``proc``."""
    deadline = time.monotonic() + 180
    while not ckpt.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            report["error"] = f"no checkpoint before the run ended or timed out:\n{proc.communicate()[0]}"
            return
        time.sleep(0.005)
    report["delay"] = delay = random.Random(os.urandom(8)).uniform(0.0, 1.0)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    report["returncode"] = proc.wait()


def test_resume_after_sigkill_matches_uninterrupted_run(fmnist, tmp_path):
    """Kill a growing run at a random moment after its first checkpoint, rerun it, compare with a clean run."""
    ref_dir, run_dir = tmp_path / "reference", tmp_path / "interrupted"
    ckpt = run_dir / "tree.pt"
    victim = _child(run_dir)
    rerun = _child(run_dir, wait=True)   # started now to import torch while the victim runs; reads tree.pt later
    report: dict = {}
    killer = threading.Thread(target=_kill_after_first_checkpoint, args=(victim, ckpt, report))
    killer.start()
    # meanwhile, the uninterrupted run, in this process (same seed and settings, one thread, its own run dir)
    data = fmnist.subset(classes=[0, 1, 8], per_class=100)
    reference = grow_tree(data, 4, get_settings("quick", **CHILD_SETTINGS), CPU, run_dir=ref_dir, progress=False)
    killer.join()
    if "error" in report or report["returncode"] != -signal.SIGKILL:
        rerun.kill()
        pytest.fail(report.get("error") or f"the run finished before it was killed (rc {report['returncode']})")
    at_kill = Tree.load(ckpt)
    where = (f"killed {report['delay']:.2f} s after the first checkpoint; last checkpoint: {at_kill}, pending "
             f"{at_kill.pending and {k: v for k, v in at_kill.pending.items() if k != 's_l'}}")
    out = rerun.communicate("go\n", timeout=300)[0]
    assert rerun.returncode == 0, f"{where}\n{out}"
    resumed = Tree.load(run_dir)
    assert resumed.n_leaves == reference.n_leaves == 4 and resumed.pending is None
    assert torch.allclose(resumed.memberships(), reference.memberships(), rtol=0, atol=1e-6), where
    assert same_tree(resumed, reference, atol=1e-6), where
    assert same_tree(Tree.load(ref_dir), reference)
    assert not list(run_dir.glob("*.tmp*")) and not list(ref_dir.glob("*.tmp*"))
    print(where)


def test_resume_in_process_after_interruption(grown, data, settings, tmp_path):
    """Interrupted right after the second split's raw-split checkpoint; growing again finishes the same tree."""
    ref, _ = grown
    seen = []

    def interrupt(tree, event):
        seen.append(event)
        if event == {"node": 1, "stage": "raw"} or event == {"node": 2, "stage": "raw"}:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        grow_tree(data, 3, settings, CPU, run_dir=tmp_path, progress=False, callback=interrupt)
    partial = Tree.load(tmp_path)
    assert partial.n_leaves == 2 and partial.pending["t"] == 0   # the second split's raw stage is saved
    tree = grow_tree(data, 3, settings, CPU, run_dir=tmp_path, progress=False, callback=lambda t, e: seen.append(e))
    assert seen[-2:] == [{"node": partial.pending["node"], "stage": "refinement 1"},
                         {"node": partial.pending["node"], "stage": "split done"}]
    assert same_tree(tree, ref)
    # a finished run dir resumes instantly: nothing is trained or written again
    before = (tmp_path / "tree.pt").stat().st_mtime_ns
    again = grow_tree(data, 3, settings, CPU, run_dir=tmp_path, progress=False)
    assert same_tree(again, ref) and (tmp_path / "tree.pt").stat().st_mtime_ns == before


# ---- determinism ----------------------------------------------------------------------------

def test_same_seed_same_tree_on_cpu(grown, data, settings):
    first, _ = grown
    second = grow_tree(data, 3, settings, CPU, progress=False)
    assert same_tree(first, second)                        # bit for bit
    assert torch.equal(first.memberships(), second.memberships())
    for a, b in zip(first.nodes, second.nodes):
        assert (a.generated is None) == (b.generated is None)
        if a.generated is not None:
            assert torch.equal(a.generated, b.generated) and torch.equal(a.real, b.real)


def test_another_seed_another_tree(grown, data, settings):
    first, _ = grown
    other = grow_tree(data, 2, settings.replace(seed=settings.seed + 1), CPU, progress=False)
    assert not torch.allclose(first.nodes[1].membership, other.nodes[1].membership)


# ---- the checkpoint file ----------------------------------------------------------------------

def test_checkpoint_is_plain_data(grown):
    _, run = grown
    d = torch.load(run / "tree.pt", weights_only=True)     # no pickled classes

    def walk(x):
        if isinstance(x, dict):
            assert all(isinstance(k, str) for k in x)
            return all(walk(v) for v in x.values())
        if isinstance(x, (list, tuple)):
            return all(walk(v) for v in x)
        return x is None or isinstance(x, (torch.Tensor, str, int, float, bool))
    assert walk(d)
    assert d["format"] == tree_mod.FORMAT and d["version"] == tree_mod.VERSION
    assert d["data_digest"].startswith("crc32:")


def test_no_temporary_file_left_after_a_run(grown):
    _, run = grown
    # the lock file stays (it is never stale); classifiers.pt holds the splits' classifiers
    assert sorted(p.name for p in run.iterdir()) == [".lock", "classifiers.pt", "tree.pt"]


def test_failed_save_keeps_the_previous_file(grown, tmp_path, monkeypatch):
    """A save that dies midway (here: an error after half the bytes) leaves the old tree.pt intact."""
    tree, run = grown
    path = tmp_path / "tree.pt"
    tree.save(path)
    good = path.read_bytes()
    real_save = torch.save

    def dies_midway(obj, f, *a, **k):
        f.write(good[: len(good) // 2])
        raise OSError("disk full")
    monkeypatch.setattr(torch, "save", dies_midway)
    with pytest.raises(OSError, match="disk full"):
        tree.save(path)
    monkeypatch.setattr(torch, "save", real_save)
    assert path.read_bytes() == good and sorted(p.name for p in tmp_path.iterdir()) == ["classifiers.pt", "tree.pt"]


def test_stale_temporary_file_removed_on_resume(grown, data, settings, tmp_path):
    """A kill during a save leaves tree.pt.tmpPID behind; the next run clears it and resumes."""
    tree, run = grown
    (tmp_path / "tree.pt").write_bytes((run / "tree.pt").read_bytes())
    (tmp_path / "tree.pt.tmp12345").write_bytes(b"half a file")
    again = grow_tree(data, 3, settings, CPU, run_dir=tmp_path, progress=False)
    assert same_tree(again, tree) and not list(tmp_path.glob("*.tmp*"))


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage"])
def test_damaged_checkpoint_gives_clear_error(grown, data, settings, tmp_path, damage, no_training):
    _, run = grown
    good = (run / "tree.pt").read_bytes()
    bad = {"truncated": good[: len(good) // 3], "empty": b"", "garbage": os.urandom(2000)}[damage]
    (tmp_path / "tree.pt").write_bytes(bad)
    with pytest.raises(ValueError, match="not a readable HC-MGAN Lite tree file .*corrupt, truncated") as err:
        Tree.load(tmp_path)
    assert "weights_only` set to `False`" not in str(err.value) and len(str(err.value)) < 400
    if damage == "empty":
        assert "it is empty" in str(err.value)
    with pytest.raises(ValueError, match="Delete it to start the run over"):
        grow_tree(data, 3, settings, CPU, run_dir=tmp_path, progress=False)


def test_a_tree_file_with_code_in_it_is_refused_in_our_words(tmp_path):
    """A pickle that would run code on load: refused, and the error never advises weights_only=False."""
    import collections
    torch.save({"format": "hcmgan-lite-tree", "x": collections.OrderedDict(a=print)}, tmp_path / "tree.pt")
    with pytest.raises(ValueError) as err:
        Tree.load(tmp_path)
    msg = str(err.value)
    assert "do not load it with weights_only=False" in msg and "will likely succeed" not in msg and len(msg) < 400


@pytest.mark.parametrize("edit,msg", [
    (dict(version=0), "unknown file format version 0; this library reads versions 1 to 3"),
    (dict(version="1"), "unknown file format version '1'"),
    (dict(version=None), "unknown file format version None"),
    (dict(version=7), r"newer version \(file format 7, this library reads up to 3\); upgrade"),
    (dict(format="something-else"), "format tag 'hcmgan-lite-tree' missing"),
    (dict(nodes=None), "incomplete tree file: the entry 'nodes' is missing"),
    (dict(settings={"lr_g": 1e-4, "warp_drive": 9}), "settings this version cannot use .unknown setting 'warp_drive'"),
])
def test_unknown_or_newer_format_gives_clear_error(grown, tmp_path, edit, msg):
    tree, _ = grown
    d = tree.state_dict()
    for k, v in edit.items():
        if v is None and k == "nodes":
            del d[k]
        else:
            d[k] = v
    save_checked(tmp_path / "tree.pt", d)   # a valid checksum: the format checks speak, not the checksum
    with pytest.raises(ValueError, match=msg):
        Tree.load(tmp_path / "tree.pt")


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="no saved tree at"):
        Tree.load(tmp_path)


def test_resume_refuses_other_settings(grown, data, settings, no_training):
    _, run = grown
    with pytest.raises(ValueError, match=r"other settings \(lr_g: 0.0002 in the checkpoint, 0.001 now\); "
                                         "resume with the same settings or use another run_dir"):
        grow_tree(data, 3, settings.replace(lr_g=1e-3), CPU, run_dir=run, progress=False)
    with pytest.raises(ValueError, match=r"seed: 0 in the checkpoint, 1 now"):
        grow_tree(data, 3, settings.replace(seed=1), CPU, run_dir=run, progress=False)


def test_resume_refuses_other_data(grown, data, settings, no_training):
    _, run = grown
    fewer = ImageData(data.images[:-1], data.labels[:-1], data.class_names)
    with pytest.raises(ValueError, match=r"grown on other data \(180 images of \(1, 28, 28\), now 179"):
        grow_tree(fewer, 3, settings, CPU, run_dir=run, progress=False)
    shuffled = ImageData(data.images.flip(0), data.labels.flip(0), data.class_names)
    with pytest.raises(ValueError, match="same number and size of images, different pixel values"):
        grow_tree(shuffled, 3, settings, CPU, run_dir=run, progress=False)


def test_resume_can_grow_further(grown, data, settings, tmp_path):
    tree, run = grown
    (tmp_path / "tree.pt").write_bytes((run / "tree.pt").read_bytes())
    bigger = grow_tree(data, 4, settings, CPU, run_dir=tmp_path, progress=False)
    assert bigger.n_leaves == 4 and bigger.splits[:2] == tree.splits
    assert torch.equal(bigger.predict(3), tree.predict(3))


# ---- bad input: a clear error before any training ------------------------------------------------

def _images(n=6, c=1, size=28, fill=0.0):
    return torch.full((n, c, size, size), fill)


def _hand_made(**kw):
    d = dict(images=_images(), labels=None)
    d.update(kw)
    return ImageData(d["images"], d["labels"])


def _nan_images():
    x = _images()
    x[2, 0, 3, 4] = float("nan")
    return x


def _inf_images():
    x = _images()
    x[0, 0, 0, 0] = float("inf")
    return x


BAD_INPUTS = {
    # images through from_tensor (the estimator's path for tensors and arrays)
    "64x64 images": (lambda: from_tensor(torch.zeros(4, 64, 64)), "64x64; the architecture supports 28x28 and 32x32"),
    "2-channel images": (lambda: from_tensor(torch.zeros(4, 2, 28, 28)), "have 2 channels .* supported are 1 .grayscale. or 3 .RGB."),
    "4-channel (RGBA) images": (lambda: from_tensor(np.zeros((4, 32, 32, 4), np.uint8)), "have 4 channels"),
    "infinite value": (lambda: from_tensor(_inf_images()), "1 NaN/inf values; every pixel must be a finite number"),
    "values in [-3, 3]": (lambda: from_tensor(torch.linspace(-3, 3, 4 * 784).reshape(4, 28, 28)),
                          r"span \[-3, 3\]; accepted ranges are \[0, 1\], \[-1, 1\] and \[0, 255\]"),
    "values outside value_range": (lambda: from_tensor(torch.full((2, 28, 28), 2.0), value_range=(0, 1)),
                                   r"outside value_range=\(0, 1\)"),
    # the estimator
    "estimator: NaN pixel": (lambda: HCMGAN(2, progress=False, **TINY).fit(_nan_images()), "1 NaN/inf values"),
    "estimator: 30x30 images": (lambda: HCMGAN(2, progress=False, **TINY).fit(torch.zeros(5, 30, 30)), "30x30"),
    "estimator: ImageData with NaN": (lambda: HCMGAN(2, progress=False, **TINY).fit(_hand_made(images=_nan_images())),
                                      "1 NaN/inf values"),
    "estimator: ImageData in [0, 255]": (lambda: HCMGAN(2, progress=False, **TINY).fit(_hand_made(images=_images(fill=255.0))),
                                         r"span \[255, 255\]; training expects values in \[-1, 1\]"),
    "estimator: ImageData 64x64": (lambda: HCMGAN(2, progress=False, **TINY).fit(_hand_made(images=_images(size=64))), "are 64x64"),
    "estimator: ImageData 4 channels": (lambda: HCMGAN(2, progress=False, **TINY).fit(_hand_made(images=_images(c=4))),
                                        "have 4 channels; supported are 1"),
    "estimator: fewer images than clusters": (lambda: HCMGAN(8, progress=False, **TINY).fit(_images()),
                                              "n_clusters=8 but only 6 images"),
    "estimator: 5 labels for 6 images": (lambda: HCMGAN(2, progress=False, **TINY).fit(_images(), y=[0, 1, 0, 1, 0]),
                                         "got 6 images but 5 labels"),
    "estimator: ImageData + 5 labels": (lambda: HCMGAN(2, progress=False, **TINY).fit(_hand_made(), y=[0, 1, 0, 1, 0]),
                                        "labels have length 5 but there are 6 images; need one label per image"),
    "estimator: n_clusters=0": (lambda: HCMGAN(0).fit(_images()), "n_clusters must be an integer >= 2, got 0"),
    "estimator: lr_g='fast'": (lambda: HCMGAN(2, lr_g="fast").fit(_images()),
                               "setting lr_g must be a number, got 'fast'"),
    # grow_tree
    "grow_tree: n_leaves=1": (lambda: grow_tree(_hand_made(), 1, get_settings(**TINY), CPU), "n_leaves must be an integer >= 2, got 1"),
    "grow_tree: n_leaves=2.5": (lambda: grow_tree(_hand_made(), 2.5, get_settings(**TINY), CPU), "integer >= 2, got 2.5"),
    "grow_tree: 6 images, 7 leaves": (lambda: grow_tree(_hand_made(), 7, get_settings(**TINY), CPU), "cannot grow 7 clusters from 6 images"),
    "grow_tree: no images": (lambda: grow_tree(_hand_made(images=_images(n=0)), 2, get_settings(**TINY), CPU),
                             "cannot grow 2 clusters from 0 images"),
    "grow_tree: uint8 ImageData": (lambda: grow_tree(_hand_made(images=_images().to(torch.uint8)), 2, get_settings(**TINY), CPU),
                                   "dtype torch.uint8; expected floats in"),
    "grow_tree: 3 labels for 6 images": (lambda: grow_tree(_hand_made(labels=torch.zeros(3).long()), 2, get_settings(**TINY), CPU),
                                         "6 images but 3 labels; need one label per image"),
    "grow_tree: settings as a dict": (lambda: grow_tree(_hand_made(), 2, dict(TINY), CPU), "settings must be a Settings"),
    # memberships
    "raw_split: all-zero membership": (lambda: raw_split(_images(), torch.zeros(6), get_settings(**TINY), CPU),
                                       "s_k has no mass .every weight is 0."),
    "raw_split: empty membership": (lambda: raw_split(_images(), torch.zeros(0), get_settings(**TINY), CPU),
                                    r"one weight per image \(6\), got \(0,\)"),
    "raw_split: membership of length 5": (lambda: raw_split(_images(), torch.ones(5), get_settings(**TINY), CPU),
                                          r"s_k must be a 1-D tensor with one weight per image \(6\), got \(5,\)"),
    "raw_split: 2-D membership": (lambda: raw_split(_images(), torch.ones(1, 6), get_settings(**TINY), CPU), r"got \(1, 6\)"),
    "raw_split: negative weight": (lambda: raw_split(_images(), torch.tensor([1., 1, -0.5, 1, 1, 1]), get_settings(**TINY), CPU),
                                   r"s_k has negative weights \(min -0.5\); memberships must be >= 0"),
    "raw_split: NaN weight": (lambda: raw_split(_images(), torch.tensor([1., float("nan"), 1, 1, 1, 1]), get_settings(**TINY), CPU),
                              "s_k contains NaN/inf values"),
    "raw_split: a list": (lambda: raw_split(_images(), [1.0] * 6, get_settings(**TINY), CPU), "got list"),
    "refine: all-zero s_l": (lambda: refine(_images(), torch.zeros(6), torch.ones(6), get_settings(**TINY), CPU), "s_l has no mass"),
    "refine: s_m of length 7": (lambda: refine(_images(), torch.ones(6), torch.ones(7), get_settings(**TINY), CPU),
                                r"s_m must be a 1-D tensor with one weight per image \(6\)"),
    # settings
    "get_settings: unknown profile": (lambda: get_settings("fast"), "unknown profile 'fast'; choose one of paper, quick"),
    "get_settings: unknown name": (lambda: get_settings(colapse_std=0.1), "unknown setting 'colapse_std'. Did you mean 'collapse_spread'?"),
    "get_settings: d_widths=(8, 16)": (lambda: get_settings(d_widths=(8, 16)), "d_widths must be three positive ints"),
    "get_settings: collapse_spread=-1": (lambda: get_settings(collapse_spread=-1),
                                         "collapse_loss and collapse_spread must be >= 0"),
    "get_settings: latent='normal'": (lambda: get_settings(latent="normal"),
                                      "latent must be one of 'symmetric', 'positive', got 'normal'"),
    "get_settings: noise='gaussian'": (lambda: get_settings(noise="gaussian"),
                                       "noise must be one of 'multiplicative', 'additive'"),
    "get_settings: g_layout='deep'": (lambda: get_settings(g_layout="deep"), "g_layout must be one of 'wide', 'narrow'"),
    "get_settings: refine_gens=0": (lambda: get_settings(refine_gens=0), "refine_gens must be an integer >= 1, got 0"),
    "get_settings: min_child_frac=0.6": (lambda: get_settings(min_child_frac=0.6), r"min_child_frac must be in \[0, 0.5\)"),
    "get_settings: amp='yes'": (lambda: get_settings(amp="yes"), "setting amp must be True or False, got 'yes'"),
    "get_settings: max_steps=1.5": (lambda: get_settings(max_steps=1.5), "setting max_steps must be an integer or None"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_refused_before_training(case, no_training):
    make, msg = BAD_INPUTS[case]
    with pytest.raises((ValueError, TypeError), match=msg) as err:
        make()
    kind = TypeError if "as a dict" in case else ValueError
    assert err.type is kind


# ---- collapse and degenerate splits ----------------------------------------------------------

def _gan_steps(data, steps=24, seed=0, **kw):
    s = get_settings("quick", **dict(TINY, collapse_after=0, **kw))
    torch.manual_seed(seed)
    gan = SplitGAN("mgan", (1, 28, 28), s, CPU)
    return gan.train(data.images, torch.ones(1, len(data)), steps, progress=False)


def test_collapse_signal_samples_stop_varying(data, monkeypatch):
    """Generators that draw one image for every latent code (here: every code is the same) are caught."""
    monkeypatch.setattr(Generator, "sample_latent", lambda self, n, device=None, generator=None, shared=False:
                        torch.full((self.k, n, self.latent_dim), 0.5, device=device))
    with pytest.raises(CollapseError, match="samples stopped varying .their spread is 0.000 of the real") as err:
        _gan_steps(data, collapse_loss=0, collapse_spread=0.25)
    assert err.value.kind == "collapse_spread"


def test_collapse_spread_is_relative_to_the_real_images(data):
    """The logged ratio is each generator's spread over its critic's real batch's spread, computed by hand here."""
    s = get_settings("quick", **dict(TINY, collapse_after=0))
    torch.manual_seed(0)
    gan = SplitGAN("pair", (1, 28, 28), s.replace(refine_gens=2), CPU)
    w = torch.ones(2, len(data))
    w[0, : len(data) // 2] = 0                     # the two groups draw from different images
    gan.train(data.images, w, 4, progress=False)
    g, r, ratio = gan.spread_ratio()
    fake, real = gan._last_fake, gan._last_real    # (4 generators, Bg, ...), (2 critics, B, ...)
    by_hand = torch.stack([fake[i].flatten(1).std(0, correction=0).mean() /
                           real[i // 2].flatten(1).std(0, correction=0).mean() for i in range(4)])
    torch.testing.assert_close(ratio, by_hand)
    assert g.shape == (4,) and r.shape == (2,)


def test_collapse_signal_discriminator_wins(data):
    """A frozen generator (lr_g ~ 0) against a fast discriminator: D's loss on the fakes goes to ~0."""
    with pytest.raises(CollapseError, match="D's loss on a generator's samples fell to") as err:
        _gan_steps(data, lr_g=1e-9, lr_d=1e-2, noise_var=0.0, collapse_spread=0)
    assert err.value.kind == "collapse_loss"


def test_collapse_signal_non_finite_losses(data):
    with pytest.raises(CollapseError, match="losses became NaN/inf") as err:
        _gan_steps(data, steps=8, lr_g=1e30, lr_d=1e30)
    assert err.value.kind == "non_finite"


def test_collapse_is_retried_logged_and_recorded(data, settings, monkeypatch, caplog):
    """The first raw split trains with a sabotaged learning rate and collapses; the retry succeeds."""
    real_raw_split = split_mod.raw_split
    calls = []

    def sabotaged_first(X, s_k, s, *a, **k):
        calls.append(1)
        if len(calls) == 1:
            s = s.replace(collapse_spread=100.0, collapse_after=0.0)   # forced: no generator varies 100x the data
        return real_raw_split(X, s_k, s, *a, **k)
    monkeypatch.setattr(split_mod, "raw_split", sabotaged_first)
    s = settings.replace(refinements=0)
    with caplog.at_level(logging.WARNING, logger="hcmgan_lite.split"):
        tree = grow_tree(data, 2, s, CPU, progress=False)
    assert len(calls) == 2 and tree.n_leaves == 2
    (entry,) = tree.nodes[0].retries
    assert entry["stage"] == "raw" and entry["attempt"] == 0 and entry["kind"] == "collapse_spread"
    assert "stopped varying" in entry["reason"]
    assert any("node 0 raw" in r.message and "retraining with a new seed (1/2)" in r.message for r in caplog.records)


def test_every_try_collapses_raises_clear_error(data, settings, caplog):
    s = settings.replace(collapse_spread=100.0, collapse_after=0.0, max_retries=1)   # every try collapses
    with caplog.at_level(logging.WARNING, logger="hcmgan_lite.split"):
        with pytest.raises(CollapseError, match=r"node 0 raw: all 2 tries failed; last: .*stopped varying.*"
                                                "Try another seed, lower learning rates") as err:
            grow_tree(data, 2, s, CPU, progress=False)
    assert err.value.kind == "collapse_spread"
    assert sum("retraining with a new seed (1/1)" in r.message for r in caplog.records) == 1


def test_every_try_collapsing_late_keeps_the_latest_split(data, settings, caplog):
    """Collapses detected near the end of training (watching starts at 80%): the split is kept, not lost.

    The collapse is forced (a spread threshold no generator can reach), so it happens on every machine."""
    s = settings.replace(collapse_spread=100.0, collapse_after=0.8, max_retries=1, refinements=0,
                         min_child_frac=0.0)
    with caplog.at_level(logging.WARNING, logger="hcmgan_lite.split"):
        tree = grow_tree(data, 2, s, CPU, progress=False)
    entries = tree.nodes[0].retries
    assert [e["kind"] for e in entries] == ["collapse_spread"] * 2
    assert [bool(e.get("kept")) for e in entries] == [True, False]   # both at 100%: the first one stays
    assert torch.allclose(tree.nodes[1].membership + tree.nodes[2].membership, torch.ones(len(data)), atol=1e-5)
    assert any("keeping the split of the try that collapsed latest (100% of its training done)" in r.message
               for r in caplog.records)
    # the same collapses detected early are not trusted, nor late ones when the last resort is off
    for early in (dict(collapse_after=0.0), dict(keep_collapsed_after=None)):
        with pytest.raises(CollapseError, match="all 2 tries failed"):
            grow_tree(data, 2, s.replace(**early), CPU, progress=False)


def test_failed_refinement_is_skipped_not_fatal(data, settings, monkeypatch, caplog):
    """Every try of a refinement diverges: the tree keeps the raw split and says so."""
    def diverging(*a, **k):
        raise CollapseError("refinement: the losses became NaN/inf at step 4/12", kind="non_finite")
    monkeypatch.setattr(split_mod, "refine", diverging)
    with caplog.at_level(logging.WARNING, logger="hcmgan_lite.split"):
        # refine_tol: a failed refinement moves no mass, but that is no convergence: the next one still runs
        tree = grow_tree(data, 2, settings.replace(refinements=2, max_retries=1, refine_tol=1e9), CPU,
                         progress=False)
    root = tree.nodes[0]
    assert tree.n_leaves == 2 and len(root.history) == 3
    assert torch.equal(root.history[1], root.history[0]) and torch.equal(root.history[2], root.history[0])
    assert root.split_logs[1]["failed"] and root.split_logs[1]["accepted"] is False
    assert root.split_logs[1]["change"] is None and root.split_logs[1]["steps"] == 0
    assert [e["stage"] for e in root.retries] == ["refinement 1"] * 2 + ["refinement 2"] * 2
    assert any("skipping it, the split stays as it was" in r.message for r in caplog.records)
    assert torch.equal(tree.nodes[1].membership, root.history[0])


def test_degenerate_split_is_retried_and_recorded(data, settings, monkeypatch, caplog):
    """The classifier puts every image on one side once; the retry gives a proper split."""
    real_predict = SplitGAN.predict
    calls = []

    def one_sided_first(self, X):
        calls.append(1)
        return torch.ones(len(X)) if len(calls) == 1 else real_predict(self, X)
    monkeypatch.setattr(SplitGAN, "predict", one_sided_first)
    with caplog.at_level(logging.WARNING, logger="hcmgan_lite.split"):
        tree = grow_tree(data, 2, settings.replace(refinements=0), CPU, progress=False)
    (entry,) = tree.nodes[0].retries
    assert entry["kind"] == "degenerate" and entry["attempt"] == 0
    assert "smaller child holds 0.00% of the mass" in entry["reason"]
    assert any("degenerate split" in r.message for r in caplog.records)
    assert min(tree.nodes[k].mass for k in (1, 2)) > 0


def test_always_empty_child_raises(data, settings, monkeypatch):
    monkeypatch.setattr(SplitGAN, "predict", lambda self, X: torch.ones(len(X)))
    with pytest.raises(CollapseError, match="all 3 tries failed; last: raw: degenerate split") as err:
        grow_tree(data, 2, settings.replace(refinements=0), CPU, progress=False)
    assert err.value.kind == "degenerate"


def test_always_tiny_child_keeps_least_degenerate_split(data, settings, monkeypatch, caplog):
    shares = iter([0.998, 0.995, 0.999])     # smaller child: 0.2%, 0.5%, 0.1% of the mass
    monkeypatch.setattr(SplitGAN, "predict", lambda self, X: torch.full((len(X),), next(shares)))
    with caplog.at_level(logging.WARNING, logger="hcmgan_lite.split"):
        tree = grow_tree(data, 2, settings.replace(refinements=0), CPU, progress=False)
    assert [e["kind"] for e in tree.nodes[0].retries] == ["degenerate"] * 3
    assert tree.nodes[2].mass == pytest.approx(0.005 * len(data), rel=1e-4)
    assert any("keeping the least degenerate split" in r.message for r in caplog.records)


# ---- one grower per run dir --------------------------------------------------------------------

HOLDER = """
import sys
from hcmgan_lite.growth import run_lock
with run_lock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.readline()
"""


def test_second_process_cannot_grow_into_a_busy_run_dir(data, settings, tmp_path, capsys):
    run = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run)], env=env, cwd=REPO, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert holder.stdout.readline().strip() == "locked"
        s = settings.replace(refinements=0)
        with pytest.raises(RunDirInUse, match=rf"{run} is in use: process {holder.pid} on .* is growing a tree"):
            grow_tree(data, 2, s, CPU, run_dir=run, progress=False)
        assert not (run / "tree.pt").exists()
    finally:
        holder.communicate("\n", timeout=60)
    tree = grow_tree(data, 2, settings.replace(refinements=0), CPU, run_dir=run, progress=False)  # free again
    assert tree.n_leaves == 2 and (run / "tree.pt").exists()


def test_lock_is_released_when_its_holder_is_killed(tmp_path):
    run = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run)], env=dict(os.environ, PYTHONPATH=str(REPO)),
                              cwd=REPO, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(RunDirInUse):
        with growth_mod.run_lock(run):
            pass
    holder.kill()
    holder.wait(timeout=60)
    with growth_mod.run_lock(run):   # no stale lock after SIGKILL
        pass

"""The command line: ``python -m hcmgan_lite fit ...`` and ``report``, resume, and its errors."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hcmgan_lite.data import find_data_root
import torch

from hcmgan_lite import Tree
from hcmgan_lite.__main__ import main

pytestmark = pytest.mark.needs_data("fashion-mnist")   # every test here reads real images (README, Data)
REPO = Path(__file__).resolve().parents[1]
DATA_ROOT = find_data_root()   # $HCMGAN_DATA, else the checkout's data/
FIT = ["fit", "fashion-mnist", "--classes", "1,8", "--per-class", "100", "--clusters", "3", "--device", "cpu",
       "--set", "g_width=8", "--set", "d_widths=(8,16,32)", "--set", "batch_size=16", "--set", "gen_batch_size=16",
       "--set", "max_steps=12", "--set", "min_steps=12", "--set", "log_every=4", "--set", "refinements=1",
       "--set", "n_samples=4", "--set", "collapse_spread=0"]


def cli(*args, timeout=300):
    env = dict(os.environ, PYTHONPATH=str(REPO), HCMGAN_PROGRESS="0", HCMGAN_DATA=str(DATA_ROOT),
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "hcmgan_lite", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run grown by the command line (no report yet)."""
    d = tmp_path_factory.mktemp("cli") / "run"
    r = cli(*FIT, "--run-dir", str(d), "--no-report")
    assert r.returncode == 0, r.stderr
    return d


def test_fit_writes_checkpoint_and_config(run_dir):
    assert (run_dir / "tree.pt").is_file() and not list(run_dir.glob("*.tmp*"))
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["dataset"] == "fashion-mnist" and cfg["classes"] == [1, 8] and cfg["n_clusters"] == 3
    assert cfg["overrides"]["d_widths"] == [8, 16, 32]


def test_report(run_dir, capsys):
    assert main(["report", str(run_dir)]) == 0
    out = capsys.readouterr().out
    rep = json.loads((run_dir / "report.json").read_text())
    assert rep["n_leaves"] == 3 and rep["complete"] and rep["n_images"] == 200
    assert 0 <= rep["scores"]["final"]["acc"] <= 1 and len(rep["splits"]) == 2
    # images per leaf under the argmax, recomputed from the memberships of the tree file
    tree = Tree.load(run_dir)
    assert rep["leaf_sizes"] == [int((tree.predict() == k).sum()) for k in range(3)] and sum(rep["leaf_sizes"]) == 200
    assert rep["settings"]["g_width"] == 8 and rep["settings"]["d_widths"] == [8, 16, 32]
    # where it was grown comes from the tree file, not from the process that writes the report
    assert rep["device"] == "cpu" and rep["torch"] == torch.__version__ and rep["device_name"]
    md = (run_dir / "report.md").read_text()
    assert md.startswith("# HC-MGAN Lite run: fashion-mnist") and "| HC-MGAN |" in md
    assert "| HC-MGAN |" in out


def test_second_fit_resumes_without_training(run_dir, capsys, caplog, monkeypatch):
    from hcmgan_lite.training import SplitGAN

    def refuse(*args, **kwargs):
        raise AssertionError("a finished run was trained again")
    monkeypatch.setattr(SplitGAN, "train", refuse)
    before = (run_dir / "tree.pt").stat().st_mtime_ns
    with caplog.at_level("INFO", logger="hcmgan_lite.growth"):
        assert main([*FIT, "--run-dir", str(run_dir)]) == 0
    assert any(r.message.startswith("resuming Tree(3 leaves") for r in caplog.records)
    assert (run_dir / "tree.pt").stat().st_mtime_ns == before       # nothing trained, nothing saved
    assert "| HC-MGAN |" in capsys.readouterr().out and (run_dir / "report.md").is_file()


def test_worker_processes_grow_the_same_tree_and_resume_a_finished_run(run_dir, tmp_path):
    other = tmp_path / "parallel"
    r = cli(*FIT, "--run-dir", str(other), "--no-report", "--executor", "processes", "--workers", "2")
    assert r.returncode == 0, r.stderr
    a, b = Tree.load(run_dir), Tree.load(other)
    assert a.splits == b.splits and all(torch.equal(x.membership, y.membership) for x, y in zip(a.nodes, b.nodes))
    assert b.env["executor"] == "processes" and not list(other.glob("partial/*"))
    before = (run_dir / "tree.pt").stat().st_mtime_ns   # the inline run, resumed by workers: nothing to do
    assert main([*FIT, "--run-dir", str(run_dir), "--no-report", "--executor", "processes"]) == 0
    assert (run_dir / "tree.pt").stat().st_mtime_ns == before


def test_fit_with_another_configuration_is_refused(run_dir, capsys):
    args = [a if a != "refinements=1" else "refinements=2" for a in FIT]
    assert main([*args, "--run-dir", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "holds a run with another configuration (overrides:" in err and "use another run_dir" in err


def test_unknown_setting_exits_2():
    r = cli("fit", "fashion-mnist", "--run-dir", "unused", "--set", "g_widht=8")
    assert r.returncode == 2
    assert "error: unknown setting 'g_widht'. Did you mean 'g_width'?" in r.stderr
    assert "Traceback" not in r.stderr and not (REPO / "unused").exists()


@pytest.mark.parametrize("args,msg", [
    (["--set", "g_width"], "--set takes NAME=VALUE, got 'g_width'"),
    (["--set", "lr_g=fast"], "setting lr_g must be a number, got 'fast'"),
    (["--set", "seed=3"], "use --seed instead of --set seed=..."),
    (["--profile", "quick", "--clusters", "1"], "n_clusters (--clusters) must be an integer >= 2, got 1"),
    (["--data-root", "/nonexistent/hcmgan"], "data root /nonexistent/hcmgan does not exist"),
    (["--executor", "processes", "--workers", "0"], "workers must be a positive integer or None, got 0"),
    (["--workers", "2"], "the inline executor trains one split at a time; workers=2 needs"),
    (["--ray-address", "auto"], "ray_address is for executor='ray'"),
])
def test_fit_errors_exit_2(args, msg, tmp_path, capsys):
    code = main(["fit", "fashion-mnist", "--run-dir", str(tmp_path / "run"), "--device", "cpu",
                 "--per-class", "2", *args])
    err = capsys.readouterr().err
    assert code == 2 and msg in err, err


def test_unknown_profile_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["fit", "mnist", "--run-dir", str(tmp_path), "--profile", "fast"])
    assert exc.value.code == 2 and "invalid choice: 'fast'" in capsys.readouterr().err


def test_sop_without_class_folders(tmp_path, capsys):
    (tmp_path / "Stanford_Online_Products" / "bicycle").mkdir(parents=True)
    assert main(["fit", "sop", "--run-dir", str(tmp_path / "run"), "--data-root", str(tmp_path)]) == 2
    assert "no class folders '<class>_final'" in capsys.readouterr().err


def test_report_without_a_run(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert f"no saved tree at {tmp_path}/tree.pt" in capsys.readouterr().err


def test_split_command_writes_a_measured_split(tmp_path):
    out = tmp_path / "s.json"
    proc = cli("split", "fashion-mnist", "--classes", "1,8", "--per-class", "60", "--seed", "1", "--variant", "tiny",
               "--set", "g_width=8", "--set", "d_widths=(8,16,32)", "--set", "batch_size=16",
               "--set", "gen_batch_size=16", "--set", "max_steps=8", "--set", "min_steps=8", "--set", "log_every=4",
               "--set", "refinements=1", "--set", "latent=positive", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    res = json.loads(out.read_text())
    assert res["variant"] == "tiny" and res["n_images"] == 120 and res["seed"] == 1
    assert res["overrides"]["latent"] == "positive" and res["settings"]["latent"] == "positive"
    assert [st["stage"] for st in res["stages"]] == ["raw", "refinement 1"]
    for st in res["stages"]:
        assert 0 <= st["acc"] <= 1 and 0.5 <= st["purity"] <= 1 and st["steps"] == 8
        assert st["history"]["step"] == [4, 8] and len(st["collapse"]["final_spread_ratio_each"]) in (2, 4)
    # the run itself acted on no collapse (so every variant shows what it does); the verdict is the profile's
    assert res["settings"]["collapse_spread"] == 0 and res["stages"][0]["collapse"]["threshold"] == 0.1
    assert "raw: ACC" in proc.stdout and "written:" in proc.stdout

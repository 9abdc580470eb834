"""The GPU reference run's driver (benchmarks/gpu_results.py), tested on the CPU at a tiny scale."""
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("gpu_results", ROOT / "benchmarks" / "gpu_results.py")
gr = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gr)


def test_jobs_put_the_trees_first_and_the_long_curve_points_last():
    names = [j["name"] for j in gr.jobs()]
    assert names[:2] == ["fashion-mnist-all-s0", "mnist-all-s0"]
    assert names[2:5] == [f"running-example-s{s}" for s in (0, 1, 2)]
    curve = [n for n in names if n.startswith("curve/")]
    steps = [int(n.split("steps")[1][:5]) for n in curve]
    assert steps == sorted(steps) and steps[0] == 1600 and steps[-1] == 12800
    assert len(curve) == 2 * 3 * len(gr.CURVE_STEPS)
    for j in gr.jobs():
        assert "--profile" in j["args"] and j["args"][j["args"].index("--profile") + 1] == "gpu"
    point = next(j for j in gr.jobs() if j["name"] == "curve/fmnist-root/w128-steps03200-s1")
    assert "min_steps=3200" in point["args"] and "max_steps=3200" in point["args"]
    assert all("--per-class" in j["args"] for j in gr.jobs(tiny=True))
    # the tiny campaign's 20-step trainings never fail a check, whatever CPU runs them (its verdicts are the
    # driver's: time limit, resume, packing); the real campaign keeps every check
    for j in gr.jobs(tiny=True):
        assert {"collapse_spread=0", "collapse_loss=0", "min_child_frac=0"} <= set(j["args"])
    assert not any("collapse_spread=0" in j["args"] for j in gr.jobs())


def test_pack_splits_into_returnable_files_and_unpacks(tmp_path, monkeypatch):
    state = tmp_path / "state"
    (state / "runs" / "a").mkdir(parents=True)
    import os
    (state / "runs" / "a" / "tree.pt").write_bytes(os.urandom(10 * 2 ** 20))   # ~10 MB that gzip cannot shrink
    (state / "runs" / "a" / ".lock").write_text("pid")
    (state / "results").mkdir()
    (state / "results" / "x.json").write_text("{}")
    monkeypatch.setattr(gr, "CHUNK", 4 * 2 ** 20)
    files = gr.pack(state, tmp_path / "out")
    assert len(files) == 3 and all(f.stat().st_size <= 4 * 2 ** 20 for f in files)
    back = tmp_path / "back"
    gr.unpack(tmp_path / "out", back)
    assert (back / "runs" / "a" / "tree.pt").read_bytes() == (state / "runs" / "a" / "tree.pt").read_bytes()
    assert (back / "results" / "x.json").is_file() and not (back / "runs" / "a" / ".lock").exists()
    monkeypatch.setattr(gr, "MAX_FILES", 2)
    with pytest.raises(SystemExit, match="more than 2 files"):
        gr.pack(state, tmp_path / "out2")


@pytest.mark.needs_data("fashion-mnist")
def test_deadline_stops_a_job_and_records_it(tmp_path, monkeypatch):
    book = gr.run(tmp_path / "s", minutes=0.1, parallel=1, device="cpu", tiny=True, only=1)
    entry = book["jobs"]["fashion-mnist-all-s0"]
    assert entry["status"] in ("stopped", "done") and entry["tries"] == 1, entry
    assert "--profile gpu" in entry["command"]
    saved = json.loads((tmp_path / "s" / "campaign.json").read_text())
    assert saved["sessions"][-1]["left"] == ([] if entry["status"] == "done" else ["fashion-mnist-all-s0"])


def test_collect_copies_reports_trees_and_split_results(tmp_path):
    state, dest = tmp_path / "s", tmp_path / "gpu"
    run = state / "runs" / "mnist-all-s0"
    run.mkdir(parents=True)
    (run / "report.json").write_text(json.dumps({"run_dir": "/somewhere/mnist-all-s0", "n_images": 3}))
    (run / "tree.pt").write_bytes(b"t")
    (run / "config.json").write_text("{}")
    (state / "results" / "curve" / "fmnist-root").mkdir(parents=True)
    (state / "results" / "curve" / "fmnist-root" / "w128-steps01600-s0.json").write_text("{}")
    (state / "runs" / "unfinished").mkdir()
    written = gr.collect(state, dest)
    assert json.loads((dest / "mnist-all-s0.json").read_text())["run_dir"] == "<runs>/mnist-all-s0"
    assert (dest / "trees" / "mnist-all-s0" / "tree.pt").read_bytes() == b"t"
    assert (dest / "curve" / "fmnist-root" / "w128-steps01600-s0.json").is_file()
    assert not (dest / "unfinished.json").exists() and len(written) == 2

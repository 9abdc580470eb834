"""Grow every GPU reference result in one run, within a time limit, resumably.

    python benchmarks/gpu_results.py --state .gpu-state --minutes 11 --out "$OUT"     # on the GPU machine
    python benchmarks/gpu_results.py --state .gpu-state --collect book/results/gpu    # here, afterwards
    bash scripts/gpu_results.sh                                                       # the first line, set up

The jobs, most needed first (the book shows the first three):

1. the 10-leaf tree of all 70,000 Fashion-MNIST images, ``gpu`` profile, seed 0;
2. the 10-leaf tree of MNIST (what the data folder holds: 10,000 images offline), seed 0;
3. the running example (MNIST threes vs fives) at the ``gpu`` profile's steps, seeds 0, 1, 2;
4. the compute curve at the paper's width: the running example and the Fashion-MNIST-70k root split
   at 1,600 / 3,200 / 6,400 / 12,800 steps per GAN, seeds 0-2, cheapest first;
5. more seeds of both trees (1, 2).

Each job is one ``python -m hcmgan_lite`` command (``fit`` or ``split``) in its own process; up to
``--parallel`` run at once (one training leaves most of a large GPU idle). At the deadline the running
jobs are stopped: a tree keeps every finished raw split (``tree.pt`` is written after each), a split
starts over next time. Running the same command again resumes: finished jobs are skipped, trees
resume from their run dirs. ``--out`` packs the state (run dirs, results, the job log) into at most
8 files of at most 15 MiB (``state.tar.gz.00``, ``.01``, ...), which is what a lent GPU machine can
hand back; ``--unpack DIR`` puts such files back into ``--state`` before a run or a collect.

Budget on one H200 at today's speed (about 190 paper-width steps/s with two or three trainings at
once): a 10-leaf tree at 6,400 steps per GAN is 9 x 6,400 = 57,600 steps, about 5 min when it shares
the GPU with one other job; both trees and the running example fit in 12 minutes, the curve's long
points do not and come last.

``--tiny`` shrinks every job (width 8, 20 steps per GAN, 30 images per class) so that the whole
campaign, its time limit, resume and packing can be tested on a CPU in a minute or two.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 15 * 2 ** 20          # bytes per returned file (the device tool takes at most 16 MiB per file)
MAX_FILES = 8
TINY = ["--set", "g_width=8", "--set", "d_widths=(8,16,32)", "--set", "min_steps=20", "--set", "max_steps=20",
        "--set", "batch_size=16", "--set", "gen_batch_size=16", "--set", "log_every=10",
        # A 20-step training's collapse verdict depends on the CPU it runs on: the tiny campaign tests the
        # driver (time limit, resume, packing), so its trainings never fail a check.
        "--set", "collapse_spread=0", "--set", "collapse_loss=0", "--set", "min_child_frac=0"]
CURVE_STEPS = (1600, 3200, 6400, 12800)


def jobs(tiny: bool = False, seeds=(0, 1, 2)) -> list[dict]:
    """The campaign's jobs in the order they start: name, kind (fit or split) and command-line arguments."""
    small = ["--per-class", "30"] if tiny else []
    extra = TINY if tiny else []
    out = []

    def tree(ds, seed):
        return {"name": f"{ds}-all-s{seed}", "kind": "fit",
                "args": ["fit", ds, "--profile", "gpu", "--clusters", "10", "--seed", str(seed), "--baselines",
                         *small, *extra]}

    def split(name, ds, seed, steps=None, classes=None):
        a = ["split", ds, "--profile", "gpu", "--seed", str(seed), "--variant", name, *small, *extra]
        if classes:
            a += ["--classes", classes]
        if steps is not None and not tiny:   # a tiny curve point keeps the tiny steps (and its name)
            a += ["--set", f"min_steps={steps}", "--set", f"max_steps={steps}"]
        return {"name": name, "kind": "split", "args": a}

    out += [tree("fashion-mnist", seeds[0]), tree("mnist", seeds[0])]
    out += [split(f"running-example-s{s}", "mnist", s, classes="3,5") for s in seeds]
    for n in CURVE_STEPS:
        for s in seeds:
            out.append(split(f"curve/running-example/w128-steps{n:05d}-s{s}", "mnist", s, n, "3,5"))
            out.append(split(f"curve/fmnist-root/w128-steps{n:05d}-s{s}", "fashion-mnist", s, n))
    out += [tree(ds, s) for s in seeds[1:] for ds in ("fashion-mnist", "mnist")]
    return out


def _done(state: Path, job: dict) -> bool:
    if job["kind"] == "fit":
        return (state / "runs" / job["name"] / "report.json").is_file()
    return (state / "results" / f"{job['name']}.json").is_file()


def _command(state: Path, job: dict, device: str) -> list[str]:
    cmd = [sys.executable, "-m", "hcmgan_lite", *job["args"], "--device", device]
    if job["kind"] == "fit":
        cmd += ["--run-dir", str(state / "runs" / job["name"])]
    else:
        cmd += ["--out", str(state / "results" / f"{job['name']}.json")]
    return cmd


def run(state: Path, minutes: float, parallel: int, device: str, tiny: bool, only: int | None = None) -> dict:
    """Run the jobs not done yet until all are done or the deadline; returns the job log."""
    state.mkdir(parents=True, exist_ok=True)
    (state / "logs").mkdir(exist_ok=True)
    log_path = state / "campaign.json"
    book = json.loads(log_path.read_text()) if log_path.is_file() else {"jobs": {}, "sessions": []}
    todo = [j for j in jobs(tiny)[:only] if not _done(state, j)]
    deadline = time.monotonic() + minutes * 60
    t0, running = time.time(), {}
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               HCMGAN_PROGRESS="0", PYTHONUNBUFFERED="1")

    def start(job):
        out = open(state / "logs" / (job["name"].replace("/", "_") + ".log"), "a")
        p = subprocess.Popen(_command(state, job, device), stdout=out, stderr=subprocess.STDOUT, env=env,
                             cwd=ROOT, start_new_session=True)
        running[p] = (job, time.monotonic(), out)
        print(f"[gpu_results] start  {job['name']}", flush=True)

    def finish(p, status):
        job, t_start, out = running.pop(p)
        out.close()
        entry = book["jobs"].setdefault(job["name"], {"seconds": 0.0, "tries": 0})
        entry["seconds"] = round(entry["seconds"] + time.monotonic() - t_start, 1)
        entry["tries"] += 1
        entry["status"] = "done" if _done(state, job) else status
        entry["command"] = " ".join(["python -m hcmgan_lite", *job["args"], "--device", device])
        print(f"[gpu_results] {entry['status']:6s} {job['name']} ({entry['seconds']:.0f} s in all)", flush=True)

    try:
        while todo or running:
            while todo and len(running) < parallel and time.monotonic() < deadline:
                start(todo.pop(0))
            if time.monotonic() >= deadline:
                break
            for p in [p for p in running if p.poll() is not None]:
                finish(p, "failed" if p.returncode else "done")
            if not running and (not todo or time.monotonic() >= deadline):
                break
            time.sleep(1)
    finally:
        for p in list(running):   # the deadline (or an interrupt): stop the jobs, keep what they saved
            os.killpg(p.pid, signal.SIGTERM)
        for p in list(running):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            finish(p, "stopped")
        book["sessions"].append({"started": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t0)),
                                 "seconds": round(time.time() - t0, 1), "device": device, "parallel": parallel,
                                 "tiny": tiny, "left": [j["name"] for j in jobs(tiny)[:only]
                                                        if not _done(state, j)]})
        log_path.write_text(json.dumps(book, indent=2))
    return book


def pack(state: Path, out: Path) -> list[Path]:
    """The state as at most MAX_FILES files of at most CHUNK bytes: state.tar.gz.00, .01, ..."""
    out.mkdir(parents=True, exist_ok=True)
    whole = out / "state.tar.gz"
    with tarfile.open(whole, "w:gz") as tar:
        for p in sorted(state.rglob("*")):
            if p.is_file() and not p.name.startswith(".lock") and ".tmp" not in p.name:
                tar.add(p, arcname=str(p.relative_to(state)))
    data = whole.read_bytes()
    whole.unlink()
    n = (len(data) + CHUNK - 1) // CHUNK
    if n > MAX_FILES:
        raise SystemExit(f"the state packs to {len(data) / 2 ** 20:.0f} MiB, more than {MAX_FILES} files of "
                         f"{CHUNK // 2 ** 20} MiB; collect and drop finished run dirs first")
    files = []
    for i in range(n):
        f = out / f"state.tar.gz.{i:02d}"
        f.write_bytes(data[i * CHUNK:(i + 1) * CHUNK])
        files.append(f)
    return files


def unpack(folder: Path, state: Path) -> None:
    parts = sorted(folder.glob("state.tar.gz.[0-9][0-9]"))
    if not parts:
        raise SystemExit(f"no state.tar.gz.NN files in {folder}")
    whole = state.parent / (state.name + ".incoming.tar.gz")
    state.mkdir(parents=True, exist_ok=True)
    whole.write_bytes(b"".join(p.read_bytes() for p in parts))
    with tarfile.open(whole, "r:gz") as tar:
        tar.extractall(state, filter="data")
    whole.unlink()


def collect(state: Path, dest: Path) -> list[Path]:
    """Copy the finished results into the book's results folder: reports, split results, tree files."""
    import shutil
    written = []
    for run in sorted((state / "runs").glob("*")):
        if (run / "report.json").is_file():
            rep = json.loads((run / "report.json").read_text())
            rep["run_dir"] = f"<runs>/{run.name}"
            (dest / "trees" / run.name).mkdir(parents=True, exist_ok=True)
            (dest / f"{run.name}.json").write_text(json.dumps(rep, indent=2))
            for f in ("tree.pt", "config.json", "tree.png"):
                if (run / f).is_file():
                    shutil.copy2(run / f, dest / "trees" / run.name / f)
            (dest / "trees" / run.name / "report.json").write_text(json.dumps(rep, indent=2))
            written.append(dest / f"{run.name}.json")
    for res in sorted((state / "results").rglob("*.json")):
        target = dest / res.relative_to(state / "results")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(res, target)
        written.append(target)
    if (state / "campaign.json").is_file():
        shutil.copy2(state / "campaign.json", dest / "campaign.json")
    return written


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--state", default=str(ROOT / ".gpu-state"), help="run dirs, results and the job log")
    p.add_argument("--minutes", type=float, default=11.0, help="stop the jobs still running after this long")
    p.add_argument("--parallel", type=int, default=3, help="jobs at once (default 3)")
    p.add_argument("--device", default="cuda")
    p.add_argument("--tiny", action="store_true", help="tiny jobs, to test the campaign on a CPU")
    p.add_argument("--only", type=int, default=None, help="only the first N jobs")
    p.add_argument("--out", default=None, help="pack the state into this folder afterwards")
    p.add_argument("--unpack", default=None, help="first put the state files found in this folder into --state")
    p.add_argument("--collect", default=None, help="copy finished results here (book/results/gpu) and stop")
    a = p.parse_args(argv)
    state = Path(a.state)
    if a.unpack:
        unpack(Path(a.unpack), state)
    if a.collect:
        for f in collect(state, Path(a.collect)):
            print("written:", f)
        return 0
    book = run(state, a.minutes, a.parallel, a.device, a.tiny, a.only)
    if a.out:
        for f in pack(state, Path(a.out)):
            print(f"packed: {f} ({f.stat().st_size / 2 ** 20:.1f} MiB)")
    left = book["sessions"][-1]["left"]
    print(f"[gpu_results] {len(left)} job(s) left" + (f": {', '.join(left)}" if left else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

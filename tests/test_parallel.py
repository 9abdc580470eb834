"""Growth that does not depend on the schedule: the same tree from every executor, in any order.

The scheduling rules are checked on masses alone (against a brute-force
sequential growth); the executors on real, tiny trainings (CPU, one thread per
worker, as the in-process reference); a parallel run is killed with SIGKILL and
resumed; interrupted runs are resumed with another executor.
"""
import copy
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hcmgan_lite.data import find_data_root
import torch

from hcmgan_lite import Tree, get_settings, grow_tree, load_fashion_mnist
from hcmgan_lite.schedule import next_jobs, replay, simulate
from hcmgan_lite.training import SplitGAN

REPO = Path(__file__).resolve().parents[1]
DATA_ROOT = find_data_root()   # $HCMGAN_DATA, else the checkout's data/
CPU = torch.device("cpu")
pytestmark = [pytest.mark.needs_data("fashion-mnist"), pytest.mark.usefixtures("one_thread")]   # the workers train with one thread: compare like with like
TINY = dict(collapse_spread=0, g_width=8, d_widths=(8, 16, 32), batch_size=16, gen_batch_size=16, max_steps=12,
            min_steps=12, log_every=4, refinements=1, n_samples=4)


# ---- the rules, on masses -----------------------------------------------------------------

def _world(seed: int, depth: int = 7):
    """Children masses for every path down to ``depth``: a random tree of splits."""
    rng = random.Random(seed)
    kids, todo = {}, [("", 1000.0)]
    while todo:
        p, m = todo.pop()
        if len(p) < depth:
            r = rng.choice([0.5, rng.uniform(0.05, 0.95)])   # ties happen too
            kids[p] = (m * r, m - m * r)
            todo += [(p + "0", m * r), (p + "1", m - m * r)]
    return kids


def _sequential(kids, n_leaves):
    """The growth order of grow_tree itself: split the heaviest leaf, ties to the lowest node id."""
    leaves, order = [("", 1000.0)], []   # in creation (= node id) order
    while len(order) + 1 < n_leaves:
        i = max(range(len(leaves)), key=lambda j: (leaves[j][1], -j))
        p, _ = leaves[i]
        leaves[i] = (None, -1.0)
        order.append(p)
        leaves += [(p + "0", kids[p][0]), (p + "1", kids[p][1])]
    return order


@pytest.mark.parametrize("seed", range(60))
def test_replay_is_the_sequential_order_and_speculation_never_drops_a_needed_split(seed):
    kids = _world(seed)
    rng = random.Random(100 + seed)
    n = rng.randint(2, 14)
    order = _sequential(kids, n)
    assert replay(1000.0, kids, n) == (order, replay(1000.0, kids, n)[1], None)
    for _ in range(30):
        # any set of finished splits a parallel run can have: each one's parent finished first
        done = {}
        for p in sorted(kids, key=len):
            if (p == "" or p[:-1] in done) and rng.random() < 0.6:
                done[p] = kids[p]
        got, _, blocked = replay(1000.0, done, n)
        assert got == order[:len(got)] and (blocked is None) == (len(got) == n - 1)
        if blocked is None:
            assert next_jobs(1000.0, done, set(), n, 4) == []
            continue
        assert blocked == order[len(got)]
        running = {p for p in order if p not in done and rng.random() < 0.3}
        free = rng.randint(1, 6)
        jobs = next_jobs(1000.0, done, running, n, free)
        assert len(jobs) <= free and not set(jobs) & (running | set(done))
        if blocked not in running:
            assert jobs[0] == blocked
        # the rule may only leave out leaves the order provably never splits
        every = next_jobs(1000.0, done, running, n, 10 ** 6)
        frontier = {p for p in order if p not in done and (p == "" or p[:-1] in done)}
        assert frontier - running <= set(every)


def test_simulated_schedule():
    kids = _world(3)
    secs = lambda p, m: m / 100   # noqa: E731 - time proportional to mass, as at the paper's schedule
    one = simulate(1000.0, lambda p, m: kids[p], secs, 10, 1)
    order = _sequential(kids, 10)
    assert one.wall == pytest.approx(sum(sum(kids[p]) / 100 for p in order))   # a node's mass: its children's
    assert one.wasted == 0 and one.work == pytest.approx(one.wall)
    walls = [simulate(1000.0, lambda p, m: kids[p], secs, 10, w).wall for w in (1, 2, 4, 8)]
    assert walls == sorted(walls, reverse=True) and walls[-1] < walls[0]
    critical = max(sum(kids[p[:i]][0] + kids[p[:i]][1] for i in range(len(p) + 1)) / 100 for p in order)
    assert walls[-1] >= critical - 1e-9   # nothing beats the longest chain of splits
    with pytest.raises(ValueError, match="workers must be >= 1"):
        simulate(1000.0, lambda p, m: kids[p], secs, 10, 0)


# ---- real trainings ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def data():
    return load_fashion_mnist(DATA_ROOT).subset(classes=[0, 1, 8, 5], per_class=50)


@pytest.fixture(scope="module")
def settings():
    return get_settings("quick", **TINY)


@pytest.fixture(scope="module")
def sequential(data, settings):
    return grow_tree(data, 5, settings, CPU, progress=False)


def identical(a: Tree, b: Tree) -> bool:
    return (a.splits == b.splits and len(a.nodes) == len(b.nodes)
            and all(x.path == y.path and torch.equal(x.membership, y.membership) and torch.equal(x.real, y.real)
                    and torch.equal(x.generated if x.generated is not None else torch.zeros(0),
                                    y.generated if y.generated is not None else torch.zeros(0))
                    for x, y in zip(a.nodes, b.nodes)))


def test_worker_processes_grow_the_sequential_tree(data, settings, sequential, tmp_path):
    tree = grow_tree(data, 5, settings, CPU, run_dir=tmp_path, progress=False, executor="processes", workers=2)
    assert identical(tree, sequential) and identical(Tree.load(tmp_path), sequential)
    assert tree.env["executor"] == "processes" and tree.env["workers"] == 2
    assert not list(tmp_path.glob("partial/*"))   # finished splits leave no partial files


def test_ray_grows_the_sequential_tree(data, settings, sequential):
    pytest.importorskip("ray")
    tree = grow_tree(data, 5, settings, CPU, progress=False, executor="ray", workers=2)
    assert identical(tree, sequential)


def _with_spares(tree: Tree, n_leaves: int) -> Tree:
    """``tree`` cut back to ``n_leaves``, its later splits kept as spare (as workers ahead of the order leave them)."""
    t = copy.deepcopy(tree)
    keep = n_leaves - 1
    for k in t.splits[keep:]:
        node = t.nodes[k]
        c0, c1 = (t.nodes[c] for c in node.children)
        t.spare[node.path] = {"s_l": c0.membership.clone(), "t": len(node.history) - 1, "history": node.history,
                              "split_fakes": node.split_fakes, "split_logs": node.split_logs,
                              "retries": node.retries, "seconds": 0.0, "real": [c0.real, c1.real]}
        node.children, node.history, node.split_fakes, node.split_logs, node.retries = None, [], [], [], []
    t.splits = t.splits[:keep]
    t.nodes = t.nodes[:1 + 2 * keep]
    return t


def test_spare_splits_are_used_without_training(data, settings, tmp_path, monkeypatch):
    seven = grow_tree(data, 7, settings, CPU, progress=False)
    five = _with_spares(seven, 5)
    assert five.n_leaves == 5 and len(five.spare) == 2
    assert identical(five.extended(), seven) and five.n_leaves == 5 and len(five.spare) == 2   # a copy
    five.save(tmp_path / "tree.pt")

    def refuse(*args, **kwargs):
        raise AssertionError("a spare split was trained again")
    monkeypatch.setattr(SplitGAN, "train", refuse)
    assert identical(grow_tree(data, 7, settings, CPU, run_dir=tmp_path, progress=False), seven)
    assert Tree.load(tmp_path).spare == {}


def test_parallel_runs_keep_what_they_trained_ahead(data, settings, tmp_path):
    tree = grow_tree(data, 5, settings, CPU, run_dir=tmp_path, progress=False, executor="processes", workers=3)
    deeper = tree.extended()   # whatever the workers trained ahead: the sequential tree of that size
    assert deeper.n_leaves >= 5 and identical(deeper, grow_tree(data, deeper.n_leaves, settings, CPU, progress=False))


def test_interrupted_runs_resume_with_another_executor(data, settings, sequential, tmp_path):
    def stop_at(event_stage):
        def cb(tree, event):
            if event.get("stage") == event_stage:
                raise KeyboardInterrupt
        return cb

    a, b = tmp_path / "parallel-then-inline", tmp_path / "inline-then-parallel"
    with pytest.raises(KeyboardInterrupt):
        grow_tree(data, 5, settings, CPU, run_dir=a, progress=False, executor="processes", workers=2,
                  callback=stop_at("split trained"))
    assert Tree.load(a).spare
    assert identical(grow_tree(data, 5, settings, CPU, run_dir=a, progress=False), sequential)

    seen = []

    def second_raw(tree, event):
        seen.append(event)
        if event.get("stage") == "raw" and event["node"] != 0:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        grow_tree(data, 5, settings, CPU, run_dir=b, progress=False, callback=second_raw)
    assert Tree.load(b).pending["t"] == 0
    assert identical(grow_tree(data, 5, settings, CPU, run_dir=b, progress=False, executor="processes",
                               workers=2), sequential)


CHILD = """
import sys
import torch
torch.set_num_threads(1)
from hcmgan_lite import get_settings, grow_tree, load_fashion_mnist
if __name__ == "__main__":
    data = load_fashion_mnist().subset(classes=[0, 1, 8, 5], per_class=50)
    grow_tree(data, 5, get_settings("quick", **{settings!r}), "cpu", run_dir=sys.argv[1], progress=False,
              executor="processes", workers=2)
"""
CHILD_SETTINGS = dict(TINY, refinements=3, max_steps=24, min_steps=24, seed=5)


def _children_of(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _semaphores() -> set:
    return {p.name for p in Path("/dev/shm").glob("sem.*")} if Path("/dev/shm").is_dir() else set()


def _stop_when_training(script, run, env, how, wait_stage: bool):
    """Start the child in a session of its own; once a worker saved a stage, stop it ``how``.

    ``how``: "sigterm" (the parent only), "group-sigkill" (the parent, its workers and multiprocessing's
    resource tracker at once: what a scheduler's hard stop does). Returns (exit status, output, workers)."""
    def stages():   # the partial-split files and when each was written (an earlier run may have left some)
        out = {}
        for f in (run / "partial").glob("node-*.pt"):
            try:
                out[f.name] = f.stat().st_mtime_ns
            except FileNotFoundError:   # replaced between the listing and the look
                pass
        return out
    before = stages()
    victim = subprocess.Popen([sys.executable, str(script), str(run)], env=env, cwd=REPO, start_new_session=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 240
    while len(_children_of(victim.pid)) < 2 or (wait_stage and not set(stages().items()) - set(before.items())):
        assert victim.poll() is None and time.monotonic() < deadline, victim.communicate()[0]
        time.sleep(0.01)
    time.sleep(random.Random(os.urandom(8)).uniform(0.0, 1.0))
    workers = _children_of(victim.pid)
    if how == "sigterm":
        victim.send_signal(signal.SIGTERM)
    else:
        os.killpg(victim.pid, signal.SIGKILL)
    out = victim.communicate(timeout=60)[0]
    t0 = time.monotonic()   # the workers notice that their parent is gone and stop
    while any(_alive(w) for w in workers):
        assert time.monotonic() - t0 < 10, f"worker processes {workers} outlived their parent ({how})"
        time.sleep(0.1)
    return victim.returncode, out, workers


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the worker processes")
def test_stopped_and_killed_parallel_runs_leave_nothing_and_resume_to_the_sequential_tree(data, tmp_path):
    """SIGTERM ends a parallel run like Ctrl-C (workers stopped, semaphores released); a SIGKILL of the whole
    process group at a random moment leaves no named semaphore behind either; the resumed run is the
    sequential tree."""
    run = tmp_path / "run"
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(settings=CHILD_SETTINGS))
    env = dict(os.environ, PYTHONPATH=str(REPO), HCMGAN_PROGRESS="0", HCMGAN_DATA=str(DATA_ROOT), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    before = _semaphores()
    rc, out, _ = _stop_when_training(script, run, env, "sigterm", wait_stage=False)
    assert rc == -signal.SIGINT and "KeyboardInterrupt: terminated (SIGTERM)" in out, (rc, out)  # as Ctrl-C
    assert _semaphores() <= before, f"left behind after SIGTERM: {_semaphores() - before}"
    reference = grow_tree(data, 5, get_settings("quick", **CHILD_SETTINGS), CPU, progress=False)
    rc, out, workers = _stop_when_training(script, run, env, "group-sigkill", wait_stage=True)
    assert rc == -signal.SIGKILL and len(workers) >= 2, (rc, out, "the run ended before it was killed")
    at_kill = Tree.load(run) if (run / "tree.pt").exists() else None
    where = (f"at the kill: {at_kill}, spare {sorted(at_kill.spare) if at_kill else None}, partial "
             f"{sorted(p.name for p in (run / 'partial').glob('*'))}")
    t0 = time.monotonic()   # the janitor, outside the killed group, unlinks the pool's semaphores
    while not _semaphores() <= before:
        assert time.monotonic() - t0 < 10, f"left behind after SIGKILL of the group: {_semaphores() - before}"
        time.sleep(0.1)
    out = subprocess.run([sys.executable, str(script), str(run)], env=env, cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, f"{where}\n{out.stdout}{out.stderr}"
    assert identical(Tree.load(run), reference), where
    assert _semaphores() <= before
    print(where)


# ---- warm start (an extension: children start from their parent's networks) ------------------

def test_warm_start_copies_the_parents_generator_for_that_side_and_its_critic():
    s = get_settings("quick", **TINY, warm_start=True)
    torch.manual_seed(0)
    parent = SplitGAN("mgan", (1, 28, 28), s, CPU)
    nets = parent.networks()
    for side in (0, 1):
        torch.manual_seed(1)
        child = SplitGAN("mgan", (1, 28, 28), s, CPU)
        child.start_from(nets, side)
        for name, p in child.G.named_parameters():
            want = nets["G"][name].chunk(2, 0)[side]
            assert all(torch.equal(copy, want) for copy in p.detach().chunk(2, 0)), name
            assert not torch.equal(want, nets["G"][name].chunk(2, 0)[1 - side]), name   # the other side differs
        for name, p in child.D.named_parameters():
            same = torch.equal(p.detach(), nets["D"][name])
            assert same != name.startswith("c_head."), name    # trunk and D head copied, C's head fresh
    with pytest.raises(ValueError, match="only a raw split"):
        SplitGAN("pair", (1, 28, 28), s, CPU).start_from(nets, 0)


def test_warm_started_children_start_from_their_parents_and_every_executor_agrees(data, tmp_path, monkeypatch):
    s = get_settings("quick", **TINY, warm_start=True)
    calls = []
    start_from = SplitGAN.start_from

    def record(self, nets, side):
        calls.append((nets, side))
        start_from(self, nets, side)
    monkeypatch.setattr(SplitGAN, "start_from", record)
    tree = grow_tree(data, 4, s, CPU, progress=False)
    monkeypatch.undo()
    # the root starts from scratch; every other split from its parent's raw-split networks, on its own side
    by_path = {n.path: n for n in tree.nodes}
    children = [tree.nodes[k].path for k in tree.splits if tree.nodes[k].path]
    assert len(calls) == len(children) == 2
    for path, (nets, side) in zip(children, calls):
        assert side == int(path[-1])
        assert all(torch.equal(nets["G"][k], v) for k, v in by_path[path[:-1]].nets["G"].items())
    assert all(tree.nodes[k].nets is not None for k in tree.splits)
    assert not identical(tree, grow_tree(data, 4, get_settings("quick", **TINY), CPU, progress=False))

    def second_raw(t, event):
        if event.get("stage") == "raw" and event["node"] != 0:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):   # stopped after a child's raw split, resumed by workers
        grow_tree(data, 4, s, CPU, run_dir=tmp_path, progress=False, callback=second_raw)
    resumed = grow_tree(data, 4, s, CPU, run_dir=tmp_path, progress=False, executor="processes", workers=2)
    assert identical(resumed, tree) and identical(Tree.load(tmp_path), tree)


# ---- bad input and old files ----------------------------------------------------------------

@pytest.mark.parametrize("kw,msg", [
    (dict(executor="threads"), "executor must be one of inline, processes, ray, got 'threads'"),
    (dict(executor="processes", workers=0), "workers must be a positive integer or None, got 0"),
    (dict(executor="processes", workers=1.5), "workers must be a positive integer"),
    (dict(workers=2), "the inline executor trains one split at a time; workers=2 needs"),
    (dict(executor="processes", ray_address="auto"), "ray_address is for executor='ray'"),
])
def test_bad_executor_arguments(data, settings, kw, msg, tmp_path):
    with pytest.raises(ValueError, match=msg):
        grow_tree(data, 3, settings, CPU, run_dir=tmp_path / "run", progress=False, **kw)
    assert not (tmp_path / "run").exists()


def test_version_1_files_load_with_paths_and_resume_only_in_process(data, settings, tmp_path):
    tree = grow_tree(data, 3, settings, CPU, progress=False)
    d = tree.state_dict()
    d["version"] = 1
    for k in ("seeding", "spare", "wall"):
        del d[k]
    for n in d["nodes"]:
        del n["path"]
    (tmp_path / "run").mkdir()
    torch.save(d, tmp_path / "run" / "tree.pt")
    old = Tree.load(tmp_path / "run")
    assert old.seeding == "id" and [n.path for n in old.nodes] == [n.path for n in tree.nodes]
    assert old.wall == old.seconds and old.spare == {}
    with pytest.raises(ValueError, match="older version that seeds splits by their order of growth"):
        grow_tree(data, 4, settings, CPU, run_dir=tmp_path / "run", progress=False, executor="processes")


def test_schedule_figure_draws_every_split_of_every_panel():
    import matplotlib
    matplotlib.use("Agg")
    from hcmgan_lite.figures import schedule_figure
    kids = _world(4)
    sims = [simulate(1000.0, lambda p, m: kids[p], lambda p, m: m, 8, w) for w in (1, 3)]
    fig = schedule_figure(sims, unit="s")
    axes = fig.axes
    assert len(axes) == 2 and [len(ax.patches) for ax in axes] == [len(s.jobs) for s in sims]
    assert axes[0].get_title(loc="left").startswith("1 worker: ") and axes[1].get_title(loc="left").startswith("3 workers: ")
    assert len(sims[0].jobs) == 7 and all(used for *_, used in sims[0].jobs)


# ---- device assignment of the workers (plain code: the GPU cases are tested on the CPU) ----
def test_worker_devices_cpu_and_gpu_cases():
    from hcmgan_lite.parallel import gpu_share, worker_devices
    assert worker_devices("cpu", 3, 0) == ["cpu"] * 3
    # one GPU, no index: every worker on cuda:0 (a bare "cuda" made torch.cuda.set_device raise)
    assert worker_devices("cuda", 3, 1) == ["cuda:0"] * 3
    # several GPUs: round robin, several workers per GPU when there are more workers than GPUs
    assert worker_devices("cuda", 4, 2) == ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]
    assert worker_devices("cuda", 1, 4) == ["cuda:0"]
    # an index pins every worker to that GPU
    assert worker_devices("cuda:1", 2, 4) == ["cuda:1", "cuda:1"]
    assert all(":" in d for d in worker_devices("cuda", 5, 3))   # set_device needs an index
    with pytest.raises(ValueError, match="no GPU"):
        worker_devices("cuda", 2, 0)
    with pytest.raises(ValueError, match="positive"):
        worker_devices("cpu", 0, 0)
    assert gpu_share(1, 1) == 1.0 and gpu_share(2, 4) == 1.0
    assert gpu_share(4, 1) == 0.25 and gpu_share(4, 2) == 0.5


def test_default_workers_two_per_gpu(monkeypatch):
    import torch
    from hcmgan_lite.growth import checked_executor
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    assert checked_executor("processes", None, torch.device("cuda"), None) == 6
    assert checked_executor("processes", None, torch.device("cuda:0"), None) == 2
    assert checked_executor("processes", 5, torch.device("cuda"), None) == 5


@pytest.mark.skipif(not Path("/proc").is_dir() or not Path("/dev/shm").is_dir(), reason="Linux only")
def test_janitor_cleans_up_only_when_its_owner_dies_without_closing():
    """The janitor unlinks the named semaphores and kills the processes it was given when its stdin closes
    without the word "closed" (its owner died), and touches nothing after a proper close."""
    import multiprocessing as mp

    from hcmgan_lite.parallel import Janitor, semaphore_names
    import _multiprocessing
    ctx = mp.get_context("spawn")
    q = ctx.Queue()   # the kind of object a worker pool holds: three named semaphores
    assert len(semaphore_names(q)) == 3 and all(Path("/dev/shm", "sem." + n[1:]).exists() for n in semaphore_names(q))
    for owner_dies in (False, True):
        names = [f"/hcmgan-test-{os.getpid()}-{owner_dies}-{i}" for i in range(2)]
        sems = [_multiprocessing.SemLock(1, 1, 1, n, False) for n in names]
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        j = Janitor(names, [sleeper.pid])
        if owner_dies:
            j.proc.stdin.close()   # what the kernel does when the owner dies
            j.proc.wait(timeout=30)
            assert sleeper.wait(timeout=10) == -signal.SIGKILL
            assert not any(Path("/dev/shm", "sem." + n[1:]).exists() for n in names)
        else:
            j.close()
            assert sleeper.poll() is None and all(Path("/dev/shm", "sem." + n[1:]).exists() for n in names)
            sleeper.kill()
            sleeper.wait()
            for n in names:
                _multiprocessing.sem_unlink(n)
        del sems
    q.close()
    q.join_thread()

"""Growing a tree: the growth order, checkpoints and resume, the run-dir lock, executors.

:func:`grow_tree` splits the leaf with the largest mass until the tree has
``n_leaves`` leaves.  With a ``run_dir`` it writes ``tree.pt`` after every raw
split and every refinement (atomically) and resumes from the last completed
step.  Several splits can train at once (``executor="processes"`` or
``"ray"``, :mod:`hcmgan_lite.parallel`): every split's random streams come from
the run's seed and the node's path, so the tree is the one sequential growth
gives; splits trained ahead of the growth order are kept in ``tree.spare``.

Imports: data, progress, settings, split, tree, schedule, parallel.
"""
from __future__ import annotations

import contextlib
import logging
import numbers
import os
import platform
import signal
import threading
import time
import zlib
from pathlib import Path

import torch

from .data import ImageData, check_images, from_tensor
from .progress import progress_bar
from .schedule import next_jobs, replay
from .settings import Settings, pick_device
from .split import (_real_samples, _seed, child_reals, load_partial, partial_file, save_partial, seed_key,
                    split_node)
from .tree import Node, Tree

log = logging.getLogger(__name__)


def checked_run_dir(run_dir) -> Path:
    """``run_dir`` as a Path; an empty name (which would be the current folder) is refused."""
    if run_dir is None or not str(run_dir).strip():
        raise ValueError(f"run_dir (--run-dir) must name a folder, got {run_dir!r} (an empty name would write "
                         "into the current folder)")
    return Path(run_dir)



class RunDirInUse(RuntimeError):
    """Another process is growing a tree in the same run directory."""


@contextlib.contextmanager
def run_lock(run_dir):
    """Hold ``run_dir/.lock`` while a tree grows there, so that a second process cannot grow into it too.

    An exclusive ``flock`` on the file: the operating system drops it when the
    process ends, however it ends, so a killed run never leaves a stale lock.
    Where ``fcntl`` does not exist (Windows) no lock is taken.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"run_dir {run_dir} is a file; a run dir must be a folder")
    run_dir.mkdir(parents=True, exist_ok=True)
    key = os.path.realpath(run_dir)
    if key in _HELD:   # this process holds it already (e.g. runs.fit around grow_tree)
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    path = run_dir / ".lock"
    f = open(path, "a+")
    try:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise RunDirInUse(f"{run_dir} is in use: {holder} is growing a tree there. Wait for it to finish "
                               "(or stop it), or use another run_dir") from None
        f.seek(0)
        f.truncate()
        f.write(f"process {os.getpid()} on {platform.node()}")
        f.flush()
        stale_files = [*run_dir.glob("*.tmp*"), *run_dir.glob("partial/*.tmp*")]
        for stale in stale_files:   # a save or a config write killed midway: nobody else writes now
            stale.unlink(missing_ok=True)
        _HELD[key] = 1
        try:
            yield
        finally:
            del _HELD[key]
    finally:
        f.close()


_HELD: dict = {}   # run dirs this process holds the lock of, with how many nested holders


def run_environment(device: torch.device) -> dict:
    """What a report needs to say where a run was grown (written into the tree file)."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = platform.processor() or platform.machine()
        try:  # Linux: the processor's model name
            with open("/proc/cpuinfo") as f:
                name = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
        except (OSError, StopIteration):
            pass
        name = f"{name}, {os.cpu_count()} cores"
    return {"torch": str(torch.__version__), "device_name": str(name), "host": platform.node(),
            "threads": torch.get_num_threads()}


def data_digest(images: torch.Tensor) -> str:
    """A fingerprint of the images (shape and exact float32 values) to tell data sets apart on resume."""
    x = images.detach().to("cpu", torch.float32).contiguous()
    crc = zlib.crc32(repr(tuple(x.shape)).encode())
    return f"crc32:{zlib.crc32(x.numpy().reshape(-1).view('uint8'), crc):08x}"


EXECUTORS = ("inline", "processes", "ray")
# settings that do not change a tree's memberships: a run may be resumed with other values (the checkpoint's
# own are kept)
TREE_NEUTRAL = ("profile", "keep_classifiers")


def grow_tree(data, n_leaves: int, settings: Settings, device=None, run_dir=None,
              progress: bool = True, callback=None, on_start=None, executor: str = "inline",
              workers: int | None = None, ray_address: str | None = None) -> Tree:
    """Grow an HC-MGAN tree on ``data`` (an :class:`~hcmgan_lite.data.ImageData`) to ``n_leaves`` leaves.

    ``run_dir``: where checkpoints go; an existing checkpoint there is resumed
    (it must have been grown on the same images with the same settings).
    Only one process at a time grows into a ``run_dir``: a second one gets
    :class:`RunDirInUse`, naming the process that holds it.
    ``callback(tree, event)`` is called after every raw split and refinement
    (in-process growth) or every split a worker finishes, and after every
    split added to the tree; ``on_start(tree)`` once, after every check (and
    with the run dir locked), before any training.  Bad input (too few images,
    images of the wrong size, range or with NaN, labels of the wrong length,
    bad settings or device) raises ``ValueError`` or ``TypeError`` before the
    run dir is touched.

    ``executor``: ``"inline"`` (default) trains one split at a time in this
    process; ``"processes"`` trains up to ``workers`` splits at once in local
    worker processes (one thread each on the CPU, default: one per core; one
    per GPU on several GPUs); ``"ray"`` makes every split a Ray task (a local
    Ray instance with ``workers`` CPUs, or the cluster at ``ray_address``).
    Every executor grows the same tree (same seed, device type and threads per
    worker); the parallel ones also train a few leaves ahead of the growth
    order, and keep the splits the order did not reach in ``tree.spare``
    (growing the same run to more leaves uses them without training).
    """
    data, device = _checked(data, n_leaves, settings, device)
    workers = checked_executor(executor, workers, device, ray_address)
    if run_dir is None:
        with _terminate_as_interrupt():
            return _grow_tree(data, n_leaves, settings, device, None, progress, callback, on_start, executor,
                              workers, ray_address)
    run_dir = checked_run_dir(run_dir)
    with run_lock(run_dir), _terminate_as_interrupt():
        return _grow_tree(data, n_leaves, settings, device, run_dir, progress, callback, on_start, executor,
                          workers, ray_address)


@contextlib.contextmanager
def _terminate_as_interrupt():
    """While a tree grows, SIGTERM (``kill``, a job scheduler's stop) ends it like Ctrl-C: the executor is
    closed, its workers stop and what they hold is released. Only in the main thread, and only where
    SIGTERM has its default action (a program that handles SIGTERM itself keeps its handler)."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def stop(signum, frame):
        raise KeyboardInterrupt("terminated (SIGTERM)")
    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _checked(data, n_leaves, settings, device):
    """The checks of grow_tree that need no run dir: (data as ImageData, device)."""
    if isinstance(n_leaves, bool) or not isinstance(n_leaves, numbers.Integral) or n_leaves < 2:
        raise ValueError(f"n_leaves must be an integer >= 2, got {n_leaves!r}")
    if not isinstance(data, ImageData):
        data = from_tensor(data)
    check_images(data.images)
    if data.labels is not None and len(data.labels) != len(data):
        raise ValueError(f"data has {len(data)} images but {len(data.labels)} labels; need one label per image")
    if len(data) < n_leaves:
        raise ValueError(f"cannot grow {n_leaves} clusters from {len(data)} images")
    if not isinstance(settings, Settings):
        raise TypeError(f"settings must be a Settings (see get_settings), got {type(settings).__name__}")
    return data, pick_device(device)


def checked_executor(executor, workers, device, ray_address) -> int:
    """The number of workers for ``executor`` (checked; a clear error for a bad value)."""
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, numbers.Integral)
                                or workers < 1):
        raise ValueError(f"workers must be a positive integer or None, got {workers!r}")
    if ray_address is not None and executor != "ray":
        raise ValueError("ray_address is for executor='ray'")
    if executor == "inline":
        if workers not in (None, 1):
            raise ValueError(f"the inline executor trains one split at a time; workers={workers} needs "
                             "executor='processes' or 'ray'")
        return 1
    if executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ValueError("executor='ray' needs Ray: pip install ray") from None
    if workers is not None:
        return int(workers)
    if device.type == "cuda":   # two trainings per GPU: one alone leaves most of a large GPU idle
        return 2 * (1 if device.index is not None else max(torch.cuda.device_count(), 1))
    return os.cpu_count() or 1


def _grow_tree(data, n_leaves, settings, device, run_dir, progress, callback, on_start,
               executor="inline", workers=1, ray_address=None) -> Tree:
    ckpt = Path(run_dir) / "tree.pt" if run_dir is not None else None
    s = settings
    digest = data_digest(data.images)
    if ckpt is not None and ckpt.exists():
        tree = Tree.load(ckpt)
        if tree.n_images != len(data) or tree.image_shape != tuple(data.images.shape[1:]):
            raise ValueError(f"the checkpoint in {run_dir} was grown on other data "
                             f"({tree.n_images} images of {tree.image_shape}, now {len(data)} of "
                             f"{tuple(data.images.shape[1:])}); use another run_dir")
        if tree.data_digest is not None and tree.data_digest != digest:
            raise ValueError(f"the checkpoint in {run_dir} was grown on other data (same number and size of "
                             f"images, different pixel values: fingerprint {tree.data_digest} vs {digest}); "
                             "use another run_dir")
        old, new = tree.settings.to_dict(), s.to_dict()
        diff = [k for k in new if k not in TREE_NEUTRAL and old.get(k) != new[k]]
        if diff:
            what = "; ".join(f"{k}: {old.get(k)!r} in the checkpoint, {new[k]!r} now" for k in diff)
            raise ValueError(f"the checkpoint in {run_dir} was grown with other settings ({what}); "
                             "resume with the same settings or use another run_dir")
        if tree.seeding != "path" and executor != "inline":
            raise ValueError(f"the checkpoint in {run_dir} was started by an older version that seeds splits by "
                             "their order of growth; resume it with executor='inline' (or start a new run_dir)")
        if tree.device and torch.device(tree.device).type != device.type:
            log.warning("resuming a tree grown on %s on %s: the result will not match an uninterrupted run "
                        "bit for bit", tree.device, device)
        log.info("resuming %s from %s", tree, ckpt)
    else:
        tree = None
    X = data.images.to(device, torch.float32)
    if tree is None:
        tree = Tree(len(data), data.images.shape[1:], s, data.labels, getattr(data, "class_names", None))
        tree.data_digest = digest
        root = Node(0, None, 0, torch.ones(len(data)), path="")
        root.real = _real_samples(X, root.membership, s.n_samples, _seed(s.seed, "real", 0))
        tree.nodes.append(root)
    tree.device = str(device)
    env = run_environment(device)
    if executor != "inline":
        env = {**env, "executor": executor, "workers": workers}
    if not tree.envs or tree.envs[-1] != env:   # every machine (and thread count) the tree was grown on
        tree.envs.append(env)
    tree.env = env
    if on_start is not None:
        on_start(tree)
    grower = _Growth(tree, X, n_leaves, device, run_dir, progress, callback)
    if executor == "inline":
        grower.inline()
    else:
        from .parallel import make_executor   # (imported when used: it needs multiprocessing)
        grower.parallel(lambda: make_executor(executor, X, s, device, workers, ray_address), workers)
    return tree


class _Growth:
    """Grows ``tree`` to ``n_leaves``: replays the growth order over finished splits, trains the rest."""

    def __init__(self, tree, X, n_leaves, device, run_dir, progress, callback):
        self.tree, self.X, self.n_leaves, self.device = tree, X, n_leaves, device
        self.run_dir, self.progress, self.callback = run_dir, progress, callback
        self.ckpt = Path(run_dir) / "tree.pt" if run_dir is not None else None
        self.by_path = {n.path: n for n in tree.nodes}
        self.t_wall = time.perf_counter()
        self.bar = progress_bar(total=n_leaves - 1, initial=min(len(tree.splits), n_leaves - 1), desc="splits",
                                disable=not progress)

    def save(self, event):
        now = time.perf_counter()
        self.tree.wall += now - self.t_wall
        self.t_wall = now
        if self.ckpt is not None:
            self.tree.save(self.ckpt)
        if self.callback is not None:
            self.callback(self.tree, event)

    def key(self, node: Node):
        return node.id if self.tree.seeding == "id" else seed_key(node.path)

    def done(self) -> dict:
        """path -> children masses, for every finished split (in the tree or spare)."""
        return self.tree.finished_splits()

    def membership(self, path: str) -> torch.Tensor:
        """A node's membership, from the tree or from the spare split above it."""
        return self.tree.membership_at(path)

    def init(self, path: str) -> dict | None:
        """Under warm_start: the networks a child's raw split starts from (its parent's, and its side)."""
        if not self.tree.settings.warm_start or path == "":
            return None
        parent = path[:-1]
        st = self.tree.spare.get(parent)
        nets = st.get("nets") if st is not None else self.by_path[parent].nets
        if nets is None:
            log.warning("node %r: its parent's networks were not kept; its raw split starts from scratch", path)
            return None
        return {"nets": nets, "side": int(path[-1])}

    def replay(self) -> str | None:
        """Add the finished splits the growth order reaches; the path it needs next (None: complete)."""
        t = self.tree
        order, _, blocked = replay(t.nodes[0].mass, self.done(), self.n_leaves)
        for path in order[len(t.splits):]:   # the tree's splits are the order's first ones; the rest are spare
            self.finish(self.by_path[path], t.spare.pop(path))
        return blocked

    def finish(self, node: Node, st: dict) -> None:
        """Make the children of a trained split (the growth order has reached it)."""
        t, s = self.tree, self.tree.settings
        s_l = st["s_l"]
        if t.seeding == "path" and st.get("real") is not None:   # drawn by the worker that trained it
            reals = st["real"]
        elif t.seeding == "path":
            reals = child_reals(self.X, node.membership, s_l, s, node.path)
        else:
            ids = (len(t.nodes), len(t.nodes) + 1)
            reals = [_real_samples(self.X, m, s.n_samples, _seed(s.seed, "real", cid))
                     for cid, m in zip(ids, (s_l, node.membership - s_l))]
        for c in t.add_split(node, st, reals):
            self.by_path[t.nodes[c].path] = t.nodes[c]
        if self.run_dir is not None:
            partial_file(self.run_dir, node.path).unlink(missing_ok=True)
        self.save({"node": node.id, "stage": "split done"})
        self.bar.update(1)

    # -- one split at a time, in this process (checkpoints after every stage, in tree.pt) --
    def inline(self) -> None:
        t = self.tree
        while True:
            if t.pending is None:
                path = self.replay()
                if path is None:
                    break
                node = self.by_path[path]
                t.pending = {"node": node.id, "s_l": None, "t": -1}
                saved = (load_partial(partial_file(self.run_dir, path), node.membership, t.settings.refinements)
                         if self.run_dir is not None else None)
                if saved is not None:   # a worker of an interrupted parallel run got this far
                    t.pending.update(s_l=saved["s_l"], t=saved["t"], nets=saved.get("nets"),
                                     classifier=saved.get("classifier"))
                    node.history, node.split_fakes = saved["history"], saved["split_fakes"]
                    node.split_logs, node.retries = saved["split_logs"], saved["retries"]
            p = t.pending
            node = t.nodes[p["node"]]
            st = {"s_l": p["s_l"], "t": p["t"], "history": node.history, "split_fakes": node.split_fakes,
                  "split_logs": node.split_logs, "retries": node.retries, "seconds": 0.0, "nets": p.get("nets"),
                  "classifier": p.get("classifier")}
            counted = [0.0]

            def on_stage(st, stage, node=node, p=p):
                t.seconds += st["seconds"] - counted[0]
                counted[0] = st["seconds"]
                p.update(s_l=st["s_l"], t=st["t"], nets=st.get("nets"), classifier=st.get("classifier"))
                self.save({"node": node.id, "stage": stage})

            split_node(self.X, node.membership, t.settings, self.device, self.key(node), f"node {node.id}", st,
                       on_stage, progress=self.progress, init=self.init(node.path))
            self.finish(node, st)
        self.bar.close()

    # -- several splits at once, ahead of the growth order --
    def parallel(self, make_executor, workers: int) -> None:
        t = self.tree
        if t.pending is not None:   # an in-process split was interrupted: hand its stages to a worker
            node = t.nodes[t.pending["node"]]
            if self.run_dir is not None and t.pending["t"] >= 0:
                save_partial(partial_file(self.run_dir, node.path), {
                    "s_l": t.pending["s_l"], "t": t.pending["t"], "history": node.history,
                    "split_fakes": node.split_fakes, "split_logs": node.split_logs, "retries": node.retries,
                    "seconds": 0.0, "nets": t.pending.get("nets"), "classifier": t.pending.get("classifier")})
            node.history, node.split_fakes, node.split_logs, node.retries = [], [], [], []
            t.pending = None
        if self.replay() is None:
            self.bar.close()
            return
        ex = make_executor()
        running: dict = {}   # handle -> path
        try:
            while True:
                if self.replay() is None:
                    break
                busy = set(running.values())
                for path in next_jobs(t.nodes[0].mass, self.done(), busy, self.n_leaves, workers - len(busy)):
                    partial = partial_file(self.run_dir, path) if self.run_dir is not None else None
                    job_m = self.membership(path)
                    job = {"membership": job_m, "key": seed_key(path), "label": f"node {path!r}",
                           "path": path, "init": self.init(path),
                           "state": (load_partial(partial, job_m, t.settings.refinements)
                                     if partial is not None else None),
                           "partial": None if partial is None else str(partial)}
                    running[ex.submit(job)] = path
                    log.info("training the split of node %r (%d running)", path, len(running))
                self.bar.set_postfix_str(f"{len(running)} training")
                for handle, st in ex.wait(list(running)):
                    path = running.pop(handle)
                    t.spare[path] = st
                    t.seconds += st["seconds"]
                    log.info("split of node %r trained in %.0f s", path, st["seconds"])
                    self.save({"path": path, "stage": "split trained"})
        finally:
            ex.close()
            self.bar.close()

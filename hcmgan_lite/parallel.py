"""Executors that train several splits at once: local worker processes, or Ray tasks.

Used by :func:`hcmgan_lite.tree.grow_tree` (``executor="processes"`` or
``"ray"``); the tree decides *which* splits to train (:mod:`hcmgan_lite.schedule`),
an executor only runs :func:`~hcmgan_lite.tree.split_node` somewhere and hands
back its result.  A job is a dict: the node's ``membership``, its seed ``key``,
a ``label`` for messages, the ``state`` of a split saved part-way (or None) and
the ``partial`` file to checkpoint each finished stage into (or None).

Local processes are started with ``spawn`` (safe with CUDA and with threads),
each with one intra-op thread on the CPU (a tree grown with ``workers``
single-thread processes equals one grown in-process with one thread); on CUDA
the workers are spread over the GPUs, several per GPU when there are more
workers than GPUs (:func:`worker_devices`).  Ray places tasks itself and retries
those whose worker was lost; each task asks for one CPU, and on CUDA for a GPU
or an even share of one (:func:`gpu_share`).

Imports: settings, split.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import subprocess
import sys
from concurrent import futures
from pathlib import Path

import torch

from .settings import Settings
from .split import child_reals, save_partial, split_node

log = logging.getLogger(__name__)

_WORKER: dict = {}   # in a worker process: the images on its device, the settings, the device


def _run(X, s: Settings, device, job: dict) -> dict:
    partial = Path(job["partial"]) if job.get("partial") else None
    on_stage = (lambda st, stage: save_partial(partial, st)) if partial is not None else None
    st = split_node(X, job["membership"], s, device, job["key"], job["label"], job.get("state"), on_stage,
                    init=job.get("init"))
    st["real"] = child_reals(X, job["membership"], st["s_l"], s, job["path"])   # lets the tree add it without images
    return st


def _exit_with_parent(parent: int) -> None:
    """A worker whose growing process was killed stops too (instead of training on for nobody)."""
    import threading
    import time

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


def worker_devices(device, workers: int, gpus: int) -> list[str]:
    """The device of each of ``workers`` workers: plain code, so a CPU test covers the GPU cases.

    On the CPU every worker trains on the CPU. ``cuda:N`` puts every worker on GPU N. Plain ``cuda``
    (no index) spreads the workers over the ``gpus`` GPUs in turn, several on one GPU when there are
    more workers than GPUs (one training leaves most of a large GPU idle: on one H200, two trainings
    side by side ran about 190 steps/s together against 90-107 for one alone). Every name has an
    index, which ``torch.cuda.set_device`` needs.
    """
    device = torch.device(device)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if device.type != "cuda":
        return [str(device)] * workers
    if device.index is not None:
        return [f"cuda:{device.index}"] * workers
    if gpus < 1:
        raise ValueError("device 'cuda' was asked for but no GPU is visible")
    return [f"cuda:{i % gpus}" for i in range(workers)]


def gpu_share(workers: int, gpus: int) -> float:
    """The GPU share a Ray task asks for: a whole GPU when there are enough, else the GPUs split evenly."""
    return 1.0 if workers <= gpus else max(gpus, 1) / workers


# Run in a process of its own session, so that a kill of our whole process group spares it: it waits for
# our end of its stdin to close. "closed" first means the executor was closed properly; anything else means
# that we died, and it removes what we would have removed (named semaphores of the worker pool, local Ray
# processes that outlive their driver; a process is killed only if it is still the one we started).
_JANITOR = r"""
import os, signal, sys
if sys.stdin.buffer.read() != b"closed":
    import _multiprocessing
    for name in filter(None, sys.argv[1].split(",")):
        try:
            _multiprocessing.sem_unlink(name)
        except OSError:
            pass
    for item in filter(None, sys.argv[2].split(",")):
        pid, start = item.split(":")
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[19] == start:
                    os.kill(int(pid), signal.SIGKILL)
        except (OSError, IndexError, ValueError):
            pass
"""


def _start_time(pid: int) -> str | None:
    """A process's start time (clock ticks after boot; with the pid it names one process for good), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def descendants(pids) -> list[int]:
    """The live processes below ``pids`` (read from /proc; empty where there is no /proc)."""
    children: dict = {}
    for d in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int(d.joinpath("stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], list(pids)
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def semaphore_names(*objects) -> list[str]:
    """The names of the named semaphores behind multiprocessing queues and locks (Unix, spawn context)."""
    names = []
    for q in objects:
        for lock in (q, getattr(q, "_rlock", None), getattr(q, "_wlock", None), getattr(q, "_sem", None)):
            name = getattr(getattr(lock, "_semlock", None), "name", None)
            if name and name not in names:
                names.append(name)
    return names


class Janitor:
    """Cleans up after this process if it is killed (even with SIGKILL, with its whole process group).

    ``semaphores``: names to unlink; ``pids``: processes to kill. Call :meth:`close` once they were
    released the normal way, and nothing is touched. Without /proc or named semaphores (not Linux) it
    still starts; it then only finds nothing to do.
    """

    def __init__(self, semaphores=(), pids=()):
        procs = [f"{p}:{t}" for p in pids if (t := _start_time(p)) is not None]
        self.proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _JANITOR, ",".join(semaphores),
                                      ",".join(procs)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)

    def close(self) -> None:
        if self.proc.stdin.closed:
            return
        try:
            self.proc.stdin.write(b"closed")
            self.proc.stdin.close()
        except OSError:
            pass
        self.proc.wait(timeout=30)


def _init_worker(X, settings: dict, devices, threads: int, parent: int) -> None:
    _exit_with_parent(parent)
    torch.set_num_threads(threads)
    device = torch.device(devices.get())
    if device.type == "cuda":
        torch.cuda.set_device(device.index or 0)
    _WORKER.update(X=X.to(device, torch.float32), s=Settings.from_dict(settings), device=device)


def _work(job: dict) -> dict:
    return _run(_WORKER["X"], _WORKER["s"], _WORKER["device"], job)


class Processes:
    """Up to ``workers`` splits at once in local worker processes."""

    def __init__(self, X, s: Settings, device, workers: int, threads: int = 1):
        ctx = mp.get_context("spawn")
        device = torch.device(device)
        names = worker_devices(device, workers, torch.cuda.device_count() if device.type == "cuda" else 0)
        queue = ctx.Queue()
        for name in names:
            queue.put(name)
        self.queue = queue
        self.pool = futures.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                                initargs=(X.cpu(), s.to_dict(), queue, threads, os.getpid()))
        self.pending: set = set()
        # a SIGKILL of our process group also kills multiprocessing's resource tracker, which would unlink
        # the pool's named semaphores (/dev/shm/sem.mp-*): the janitor does it instead
        self.janitor = Janitor(semaphore_names(queue, getattr(self.pool, "_call_queue", None),
                                               getattr(self.pool, "_result_queue", None)))

    def submit(self, job: dict):
        h = self.pool.submit(_work, job)
        self.pending.add(h)
        return h

    def wait(self, handles) -> list:
        done, _ = futures.wait(handles, return_when=futures.FIRST_COMPLETED)
        self.pending.difference_update(done)
        out = []
        for h in done:
            try:
                out.append((h, h.result()))
            except futures.process.BrokenProcessPool as exc:
                raise RuntimeError("a worker process died (killed, or out of memory); run the same command "
                                   "again to resume: finished splits and stages are kept") from exc
        return out

    def close(self) -> None:
        if not any(not h.done() for h in self.pending):
            self.pool.shutdown(wait=True)
        else:   # splits still training were not needed (or the run was interrupted): stop them
            procs = list((getattr(self.pool, "_processes", None) or {}).values())
            self.pool.shutdown(wait=False, cancel_futures=True)
            for p in procs:
                if p.is_alive():
                    p.terminate()
            for p in procs:
                p.join(timeout=10)
        self.queue.close()
        self.queue.join_thread()
        self.janitor.close()


def _ray_work(X, settings: dict, device: str, threads: int, job: dict) -> dict:
    torch.set_num_threads(threads)
    dev = torch.device(device)
    return _run(X.to(dev, torch.float32), Settings.from_dict(settings), dev, job)


class Ray:
    """Every split a Ray task: on a local Ray instance with ``workers`` CPUs, or on the cluster at ``address``."""

    def __init__(self, X, s: Settings, device, workers: int, address: str | None = None, threads: int = 1):
        import ray
        self.ray = ray
        self.started = not ray.is_initialized()
        if self.started:
            kw = {"address": address} if address else {"num_cpus": workers}
            ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING, **kw)
        self.janitor = None
        if self.started and not address:   # local Ray processes that would outlive a killed driver
            node = getattr(getattr(ray, "_private", None), "worker", None)
            node = getattr(node, "_global_node", None)
            pids = [p.process.pid for ps in getattr(node, "all_processes", {}).values() for p in ps]
            self.janitor = Janitor(pids=pids + descendants(pids))
        gpu = torch.device(device).type == "cuda"
        self.args = (ray.put(X.cpu()), s.to_dict(), "cuda" if gpu else "cpu", threads)
        share = gpu_share(workers, torch.cuda.device_count()) if gpu else 0
        self.fn = ray.remote(num_cpus=1, num_gpus=share, max_retries=3)(_ray_work)
        self.handles: set = set()

    def submit(self, job: dict):
        h = self.fn.remote(*self.args, job)
        self.handles.add(h)
        return h

    def wait(self, handles) -> list:
        ready, _ = self.ray.wait(list(handles), num_returns=1)
        self.handles.difference_update(ready)
        return [(h, self.ray.get(h)) for h in ready]

    def close(self) -> None:
        for h in self.handles:
            try:
                self.ray.cancel(h, force=True)
            except Exception:   # already finished or lost
                pass
        self.handles.clear()
        if self.started:
            self.ray.shutdown()
        if self.janitor is not None:
            self.janitor.close()


def make_executor(kind: str, X, s: Settings, device, workers: int, ray_address: str | None = None):
    threads = 1 if torch.device(device).type == "cpu" else max(1, (os.cpu_count() or 1) // max(workers, 1))
    if kind == "processes":
        return Processes(X, s, device, workers, threads)
    if kind == "ray":
        return Ray(X, s, device, workers, ray_address, threads)
    raise ValueError(f"unknown executor {kind!r}")

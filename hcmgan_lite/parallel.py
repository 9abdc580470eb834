"""Executors that train several splits at once: local worker processes, or Ray tasks.

Used by :func:`hcmgan_lite.tree.grow_tree` (``executor="processes"`` or
``"ray"``); the tree decides *which* splits to train (:mod:`hcmgan_lite.schedule`),
an executor only runs :func:`~hcmgan_lite.tree.split_node` somewhere and hands
back its result.  A job is a dict: the node's ``membership``, its seed ``key``,
a ``label`` for messages, the ``state`` of a split saved part-way (or None) and
the ``partial`` file to checkpoint each finished stage into (or None).

Local processes are started with ``spawn`` (safe with CUDA and with threads),
each with one intra-op thread on the CPU (a tree grown with ``workers``
single-thread processes equals one grown in-process with one thread), and one
per GPU when there are several.  Ray places tasks itself and retries those whose
worker was lost; each task asks for one CPU, or one GPU when training on CUDA.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
from concurrent import futures
from pathlib import Path

import torch

from .settings import Settings

log = logging.getLogger(__name__)

_WORKER: dict = {}   # in a worker process: the images on its device, the settings, the device


def _run(X, s: Settings, device, job: dict) -> dict:
    from .tree import child_reals, save_partial, split_node
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


def _init_worker(X, settings: dict, devices, threads: int, parent: int) -> None:
    _exit_with_parent(parent)
    torch.set_num_threads(threads)
    device = torch.device(devices.get())
    if device.type == "cuda":
        torch.cuda.set_device(device)
    _WORKER.update(X=X.to(device, torch.float32), s=Settings.from_dict(settings), device=device)


def _work(job: dict) -> dict:
    return _run(_WORKER["X"], _WORKER["s"], _WORKER["device"], job)


class Processes:
    """Up to ``workers`` splits at once in local worker processes."""

    def __init__(self, X, s: Settings, device, workers: int, threads: int = 1):
        ctx = mp.get_context("spawn")
        device = torch.device(device)
        if device.type == "cuda" and device.index is None and torch.cuda.device_count() > 1:
            names = [f"cuda:{i % torch.cuda.device_count()}" for i in range(workers)]
        else:
            names = [str(device)] * workers
        queue = ctx.Queue()
        for name in names:
            queue.put(name)
        self.queue = queue
        self.pool = futures.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                                initargs=(X.cpu(), s.to_dict(), queue, threads, os.getpid()))
        self.pending: set = set()

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
        gpu = torch.device(device).type == "cuda"
        self.args = (ray.put(X.cpu()), s.to_dict(), "cuda" if gpu else "cpu", threads)
        self.fn = ray.remote(num_cpus=1, num_gpus=1 if gpu else 0, max_retries=3)(_ray_work)
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


def make_executor(kind: str, X, s: Settings, device, workers: int, ray_address: str | None = None):
    threads = 1 if torch.device(device).type == "cpu" else max(1, (os.cpu_count() or 1) // max(workers, 1))
    if kind == "processes":
        return Processes(X, s, device, workers, threads)
    if kind == "ray":
        return Ray(X, s, device, workers, ray_address, threads)
    raise ValueError(f"unknown executor {kind!r}")

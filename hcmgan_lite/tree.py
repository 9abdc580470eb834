"""The soft clustering tree: growth, cuts, checkpoints.

Node ``k`` holds a membership vector ``s_k`` (one weight per image); the root
is all ones.  A split turns ``s_k`` into two children with
``s_l + s_m = s_k`` (a raw split, then ``T`` refinements).  The next leaf to
split is the one with the largest total mass.  Nodes are numbered in growth
order, so cutting the tree at ``n`` clusters undoes the latest splits first.

Growing with a ``run_dir`` writes ``tree.pt`` after every raw split and every
refinement (atomically), and growing again with the same ``run_dir`` resumes
from the last completed step.  The file holds only tensors, numbers, strings,
lists and dicts, so ``torch.load(..., weights_only=True)`` reads it safely.

Every split's random streams come from the run's seed and the node's *path*
(``""`` for the root, then ``"0"``/``"1"`` for its first/second child, and so
on), not from the order of growth, so several splits can be trained at once
(``executor="processes"`` or ``"ray"``, see :mod:`hcmgan_lite.parallel`) and
the tree is the one sequential growth gives.
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
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .data import ImageData, check_images, from_tensor
from .progress import progress_bar
from .settings import Settings, pick_device
from .storage import KEY as STORAGE_KEY, checksum_problem, save_checked
from .training import CollapseError, SplitResult, raw_split, refine, to_uint8

log = logging.getLogger(__name__)

FORMAT = "hcmgan-lite-tree"
MEMBERSHIP_TOL = 1e-4   # float slack on the membership invariants checked at load
VERSION = 3   # 2: node paths, seeds from paths, splits trained ahead of the growth order; 3: a checksum


@dataclass
class Node:
    id: int
    parent: int | None
    depth: int
    membership: torch.Tensor                 # (N,) float32 on the CPU
    children: tuple[int, int] | None = None
    real: torch.Tensor | None = None         # uint8 (n, C, H, W): real images drawn from P_{s_k}
    generated: torch.Tensor | None = None    # uint8 (n, C, H, W): the parent's generator for this node
    history: list = field(default_factory=list)   # split nodes: s_l after the raw split and each refinement
    split_fakes: list = field(default_factory=list)  # split nodes: uint8 (2, n, C, H, W) per stage
    split_logs: list = field(default_factory=list)   # split nodes: per stage {stage, steps, seconds, c_acc, ...}
    retries: list = field(default_factory=list)      # split nodes: why a training was thrown away
    path: str = ""                           # place in the tree: "" root, then "0"/"1" per level (s_l first)
    nets: dict | None = None                 # split nodes under warm_start: the raw split's trained weights

    @property
    def mass(self) -> float:
        return float(self.membership.sum())

    @property
    def is_split(self) -> bool:
        return self.children is not None

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: dict) -> "Node":
        d = dict(d)
        if d.get("children") is not None:
            d["children"] = tuple(d["children"])
        return cls(**d)


class Tree:
    """A grown (or growing) HC-MGAN tree."""

    def __init__(self, n_images: int, image_shape, settings: Settings, labels=None, class_names=None):
        self.n_images = int(n_images)
        self.image_shape = tuple(int(v) for v in image_shape)
        self.settings = settings
        self.labels = None if labels is None else torch.as_tensor(labels).long().cpu()
        self.class_names = list(class_names) if class_names is not None else None
        self.nodes: list[Node] = []
        self.splits: list[int] = []           # node ids in the order they were split
        self.pending: dict | None = None      # a split in progress (for resuming)
        self.seconds = 0.0
        self.device = ""
        self.env: dict = {}                   # where it was grown last: torch version, device name, host, threads
        self.envs: list = []                  # every such place, in order (a resumed run may move)
        self.data_digest: str | None = None   # fingerprint of the images, checked on resume
        self.seeding = "path"                 # "path": seeds from node paths; "id": from growth order (version 1)
        self.spare: dict = {}                 # path -> a finished split the growth order has not reached (yet)
        self.wall = 0.0                       # wall-clock seconds of growth (seconds: training, all workers)

    # ---- structure ----------------------------------------------------
    @property
    def n_leaves(self) -> int:
        return len(self.splits) + 1 if self.nodes else 0

    def leaves(self, n_clusters: int | None = None) -> list[int]:
        """Leaf ids of the tree cut at ``n_clusters`` leaves (default: the full tree)."""
        n = self.n_leaves if n_clusters is None else int(n_clusters)
        if not 1 <= n <= self.n_leaves:
            raise ValueError(f"n_clusters must be between 1 and {self.n_leaves} (the grown leaves), got {n_clusters}")
        done = set(self.splits[: n - 1])
        alive = {0} | {c for k in done for c in self.nodes[k].children}
        return sorted(k for k in alive if k not in done)

    def memberships(self, n_clusters: int | None = None) -> torch.Tensor:
        """(n_clusters, N) soft memberships of the leaves."""
        return torch.stack([self.nodes[k].membership for k in self.leaves(n_clusters)])

    def predict(self, n_clusters: int | None = None) -> torch.Tensor:
        """Hard labels: the leaf with the highest membership, numbered 0..n_clusters-1."""
        return self.memberships(n_clusters).argmax(0)

    def path(self, k: int) -> list[int]:
        out = [k]
        while self.nodes[out[-1]].parent is not None:
            out.append(self.nodes[out[-1]].parent)
        return out[::-1]

    def __repr__(self) -> str:
        return f"Tree({self.n_leaves} leaves, {len(self.nodes)} nodes, {self.n_images} images)"

    def extended(self) -> "Tree":
        """A copy with every spare split that the growth order reaches added, without training.

        A tree grown by several workers (``executor="processes"`` or ``"ray"``) may hold splits
        trained ahead of the growth order (``spare``); the copy carries those the order reaches
        next, as extra leaves for deeper cuts (the explorer's, say). ``self`` is left as it is.
        """
        import copy
        t = copy.deepcopy(self)
        if t.spare and t.seeding == "path" and t.pending is None:
            _Growth(t, None, len(t.splits) + len(t.spare) + 1, None, None, False, None).replay()
        return t

    # ---- persistence --------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "format": FORMAT, "version": VERSION,
            "n_images": self.n_images, "image_shape": list(self.image_shape),
            "settings": self.settings.to_dict(),
            "labels": self.labels, "class_names": self.class_names,
            "nodes": [n.to_dict() for n in self.nodes], "splits": list(self.splits),
            "pending": self.pending, "seconds": self.seconds, "device": self.device,
            "env": self.env, "envs": list(self.envs), "data_digest": self.data_digest,
            "seeding": self.seeding, "spare": dict(self.spare), "wall": self.wall,
        }

    def save(self, path) -> Path:
        """Write atomically, with a checksum (:func:`hcmgan_lite.storage.save_checked`).

        A reader (or a resumed run) sees either the previous file or the new
        one, never a half-written file, even if the process is killed mid-save;
        a file changed after it was written fails to load.
        """
        return save_checked(path, self.state_dict())

    @classmethod
    def load(cls, path) -> "Tree":
        path = Path(path)
        if path.is_dir():
            path = path / "tree.pt"
        if not path.exists():
            raise FileNotFoundError(f"no saved tree at {path}")
        try:
            d = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:   # our words: torch's message may advise weights_only=False, which runs a
            # malicious file's code; the cause stays attached for debugging
            what = ("it is empty" if path.stat().st_size == 0 else
                    "it holds objects other than tensors, numbers, strings, lists and dicts (a tree file never "
                    "does; do not load it with weights_only=False)" if "weights_only" in str(exc) else
                    f"{type(exc).__name__}")
            raise ValueError(f"{path} is not a readable HC-MGAN Lite tree file ({what}; corrupt, truncated or "
                             "not a tree file). Delete it to start the run over, or use another run_dir") from exc
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ValueError(f"{path} is not an HC-MGAN Lite tree file (format tag {FORMAT!r} missing)")
        v = d.get("version")
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{path} has an unknown file format version {v!r}; "
                             f"this library reads versions 1 to {VERSION}")
        if v > VERSION:
            raise ValueError(f"{path} was written by a newer version (file format {v}, "
                             f"this library reads up to {VERSION}); upgrade hcmgan_lite")
        if v >= 3:   # version 3 on: every file carries a checksum of its contents
            problem = checksum_problem(d)
            if problem is not None:
                raise ValueError(f"{path} is a damaged tree file: {problem}. Its numbers cannot be trusted; "
                                 "restore it from a copy, or delete it to grow the run again")
        try:
            s = dict(d["settings"])
            try:
                settings = Settings.from_dict(s)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{path} holds settings this version cannot use ({exc}); "
                                 "was it written by a newer hcmgan_lite?") from exc
            tree = cls(d["n_images"], d["image_shape"], settings, d["labels"], d["class_names"])
            tree.nodes = [Node.from_dict(n) for n in d["nodes"]]
            tree.splits, tree.pending = list(d["splits"]), d["pending"]
            tree.seconds, tree.device = float(d.get("seconds", 0.0)), str(d.get("device", ""))
            tree.data_digest = d.get("data_digest")
            tree.env = dict(d.get("env") or {})
            tree.envs = [dict(e) for e in (d.get("envs") or ([tree.env] if tree.env else []))]
            tree.seeding = str(d.get("seeding", "id"))   # version 1 seeded by growth order
            tree.spare = dict(d.get("spare") or {})
            tree.wall = float(d.get("wall", tree.seconds))
            tree._check_structure()
            for node in tree.nodes:   # version 1 has no paths: derive them
                if node.children is not None:
                    for j, c in enumerate(node.children):
                        tree.nodes[c].path = node.path + str(j)
        except KeyError as exc:
            raise ValueError(f"{path} is an incomplete tree file: the entry {exc} is missing") from exc
        except (TypeError, IndexError, AttributeError, ValueError) as exc:
            if isinstance(exc, ValueError) and "this version cannot use" in str(exc):
                raise
            raise ValueError(f"{path} is a damaged tree file ({type(exc).__name__}: {exc}); "
                             "delete it to start the run over, or use another run_dir") from exc
        return tree

    def _check_structure(self) -> None:
        """The nodes, splits and memberships of a loaded file fit together (a hand-edited file may not)."""
        n = len(self.nodes)
        if self.n_images < 1 or not n:
            raise ValueError(f"{self.n_images} images and {n} nodes")
        for i, node in enumerate(self.nodes):
            if node.id != i:
                raise ValueError(f"node {i} says it is node {node.id}")
            if not isinstance(node.membership, torch.Tensor) or tuple(node.membership.shape) != (self.n_images,):
                raise ValueError(f"node {i}'s membership is not a vector of {self.n_images} weights")
            if node.children is not None and not all(isinstance(c, int) and 0 < c < n for c in node.children):
                raise ValueError(f"node {i}'s children {node.children} are not nodes of the tree")
        if not all(isinstance(k, int) and 0 <= k < n and self.nodes[k].children for k in self.splits):
            raise ValueError(f"the split list {self.splits} names nodes that were not split")
        if len(self.nodes) != 1 + 2 * len(self.splits):
            raise ValueError(f"{len(self.nodes)} nodes for {len(self.splits)} splits")
        if self.labels is not None and tuple(self.labels.shape) != (self.n_images,):
            raise ValueError(f"{tuple(self.labels.shape)} labels for {self.n_images} images")
        self._check_memberships()

    def _check_memberships(self, tol: float = MEMBERSHIP_TOL) -> None:
        """What a checksum cannot vouch for: memberships are weights in [0, 1], the root holds every
        image whole, and each split's two children sum to their parent (``s_l + s_m = s_k``)."""
        for node in self.nodes:
            m = node.membership
            if not m.is_floating_point() or not bool(torch.isfinite(m).all()):
                raise ValueError(f"node {node.id}'s membership has values that are not finite numbers")
            lo, hi = float(m.min()), float(m.max())
            if lo < -tol or hi > 1 + tol:
                raise ValueError(f"node {node.id}'s membership leaves [0, 1] (from {lo:.4g} to {hi:.4g})")
        root = self.nodes[0].membership
        if float((root - 1).abs().max()) > tol:
            raise ValueError("the root's membership is not 1 for every image")
        for node in self.nodes:
            if node.children is not None:
                l, m = (self.nodes[c].membership for c in node.children)
                err = float((l + m - node.membership).abs().max())
                if err > tol:
                    raise ValueError(f"node {node.id}'s children do not sum to it (off by up to {err:.3g})")


# ---- growth -------------------------------------------------------------
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
    if key in _HELD:   # this process holds it already (e.g. experiments.fit around grow_tree)
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



def _seed(base: int, *parts) -> int:
    """A seed for one GAN, derived from the run's seed and where the GAN is."""
    return zlib.crc32(repr((base,) + parts).encode()) & 0x7FFFFFFF


def data_digest(images: torch.Tensor) -> str:
    """A fingerprint of the images (shape and exact float32 values) to tell data sets apart on resume."""
    x = images.detach().to("cpu", torch.float32).contiguous()
    crc = zlib.crc32(repr(tuple(x.shape)).encode())
    return f"crc32:{zlib.crc32(x.numpy().reshape(-1).view('uint8'), crc):08x}"


def _real_samples(images: torch.Tensor, membership: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    idx = torch.multinomial(membership.cpu().clamp_min(0) + 1e-12, n, replacement=True, generator=g)
    return to_uint8(images[idx.to(images.device)])


def _train_with_retries(fn, s: Settings, label: str, retries: list, stage: str, seed_parts, parent_mass: float,
                        may_skip: bool = False):
    """Run one GAN training; retrain with a new seed if it fails.

    Failures: a collapse (:class:`CollapseError`: D's loss on a generator's
    samples near 0, a generator's samples no longer varying, NaN/inf losses),
    NaN/inf memberships, or a degenerate split (the smaller child holds less
    than ``min_child_frac`` of the parent's mass).  Each failure is logged and
    recorded in ``retries`` (the node's list) as ``{stage, attempt, kind, reason}``;
    ``label`` names the node in messages.

    When every try fails, the last resorts, in order: the split of the try
    that collapsed latest, if it got at least ``keep_collapsed_after`` of the
    way through its training and its split is usable; the least degenerate
    split with two non-empty children; for a refinement (``may_skip``),
    ``None``: the caller keeps the split as it was.  The kept try's record gets
    ``"kept": True``.  Otherwise :class:`CollapseError` is raised.
    """
    tries = s.max_retries + 1
    fallback, fallback_frac, last = None, -1.0, ("collapse_loss", "")
    late, late_progress = None, -1.0

    def share(res: SplitResult):
        if not bool(torch.isfinite(res.s_l).all() & torch.isfinite(res.s_m).all()):
            return None
        return float(torch.minimum(res.s_l.sum(), res.s_m.sum())) / max(parent_mass, 1e-12)

    for attempt in range(tries):
        torch.manual_seed(_seed(s.seed, *seed_parts, attempt))
        record = {"stage": stage, "attempt": attempt}
        try:
            res: SplitResult = fn()
        except CollapseError as exc:
            kind, why = exc.kind, str(exc)
            frac = share(exc.result) if exc.result is not None else None
            if (frac is not None and frac >= s.min_child_frac and s.keep_collapsed_after is not None
                    and exc.progress >= s.keep_collapsed_after and exc.progress > late_progress):
                late, late_progress, late_record = exc.result, exc.progress, record
        else:
            frac = share(res)
            if frac is None:
                kind, why = "non_finite", f"{stage}: the classifier gave NaN/inf memberships"
            elif frac >= s.min_child_frac:
                return res
            else:
                kind = "degenerate"
                why = (f"{stage}: degenerate split, smaller child holds {frac:.2%} of the mass "
                       f"(< min_child_frac={s.min_child_frac:.2%})")
                if frac > 0 and frac > fallback_frac:
                    fallback, fallback_frac, fallback_record = res, frac, record
        record.update(kind=kind, reason=why)
        retries.append(record)
        last = (kind, why)
        if attempt < s.max_retries:
            log.warning("%s %s: %s; retraining with a new seed (%d/%d)", label, stage, why,
                        attempt + 1, s.max_retries)
    if late is not None:
        log.warning("%s %s: every try failed; keeping the split of the try that collapsed latest "
                    "(%.0f%% of its training done)", label, stage, 100 * late_progress)
        late_record["kept"] = True
        return late
    if fallback is not None:
        log.warning("%s %s: keeping the least degenerate split (smaller child %.2f%% of the mass) "
                    "after %d tries", label, stage, 100 * fallback_frac, tries)
        fallback_record["kept"] = True
        return fallback
    if may_skip:
        log.warning("%s %s: all %d tries failed (last: %s); skipping it, the split stays as it was",
                    label, stage, tries, last[1])
        return None
    raise CollapseError(f"{label} {stage}: all {tries} tries failed; last: {last[1]}. Try another seed, "
                        "lower learning rates or a larger max_retries (in a new run_dir)", kind=last[0])


def split_entropy(s_l: torch.Tensor, s_k: torch.Tensor) -> float:
    """How undecided a split is: the mass-weighted mean binary entropy (bits) of ``s_l / s_k``.

    0 when every image lies wholly on one side, 1 when every image is halved.
    """
    s_k = s_k.to(s_l.device, torch.float32)
    q = (s_l / s_k.clamp_min(1e-12)).clamp(1e-7, 1 - 1e-7)
    h = -(q * torch.log2(q) + (1 - q) * torch.log2(1 - q))
    return float((h * s_k).sum() / s_k.sum().clamp_min(1e-12))


def _stage_log(stage: str, res: SplitResult | None) -> dict:
    if res is None:  # every try failed: nothing was kept from this stage
        return {"stage": stage, "steps": 0, "seconds": 0.0, "c_acc": None, "d_fake": None, "history": {},
                "failed": True}
    h = res.log.history
    return {"stage": stage, "steps": res.log.steps, "seconds": round(res.log.seconds, 3),
            "c_acc": h["c_acc"][-1] if h["c_acc"] else None, "d_fake": h["d_fake"][-1] if h["d_fake"] else None,
            "spread_ratio": h["spread_ratio"][-1] if h.get("spread_ratio") else None,
            "history": {k: list(v) for k, v in h.items()}}


# ---- one split -----------------------------------------------------------
def seed_key(path: str):
    """What a node's random streams derive from: its path (the root keeps key 0, its id in version 1)."""
    return 0 if path == "" else f"path:{path}"


def new_split_state() -> dict:
    """The state of a split in progress: after its raw split ``t`` = 0, after refinement ``i`` ``t`` = i."""
    return {"s_l": None, "t": -1, "history": [], "split_fakes": [], "split_logs": [], "retries": [],
            "seconds": 0.0}


def split_node(X: torch.Tensor, membership: torch.Tensor, s: Settings, device, key, label: str,
               state: dict | None = None, on_stage=None, progress: bool = False, init: dict | None = None) -> dict:
    """Train one node's split: the raw split, then ``s.refinements`` refinements (Algorithm 1's loop body).

    Depends only on the images, the node's membership, the settings and ``key`` (the seeds of every
    GAN of the split come from ``s.seed`` and ``key``), so it can run anywhere, in any order.
    ``state`` (from :func:`new_split_state`, possibly saved part-way) is continued and returned;
    ``on_stage(state, stage)`` is called after every stage, to checkpoint it.
    ``init``: the parent's networks for a warm start (:func:`~hcmgan_lite.training.raw_split`); under
    ``s.warm_start`` the raw split's own trained networks are kept in ``state["nets"]`` for its children.
    """
    st = new_split_state() if state is None else state
    device = torch.device(device)
    s_k = membership.to(device, torch.float32)
    mass = float(membership.sum())
    t_start = time.perf_counter()

    def stage_done(stage):
        nonlocal t_start
        st["seconds"] += time.perf_counter() - t_start
        if on_stage is not None:
            on_stage(st, stage)
        t_start = time.perf_counter()

    if st["t"] < 0:  # raw split
        res = _train_with_retries(
            lambda: raw_split(X, s_k, s, device, desc=f"{label} raw split", init=init, progress=progress),
            s, label, st["retries"], "raw", (key, "raw"), mass)
        st.update(s_l=res.s_l.cpu(), t=0, nets=res.nets)
        st["history"].append(res.s_l.cpu())
        st["split_fakes"].append(res.fake)
        st["split_logs"].append(_stage_log("raw", res))
        stage_done("raw")
    while st["t"] < s.refinements:
        t = st["t"] + 1
        s_l = st["s_l"].to(device)
        res = _train_with_retries(
            lambda: refine(X, s_l, s_k - s_l, s, device, desc=f"{label} refinement {t}", progress=progress),
            s, label, st["retries"], f"refinement {t}", (key, "ref", t), mass, may_skip=True)
        h_old = split_entropy(s_l, s_k)
        if res is None:  # every try failed: this refinement is skipped, the split stays as it was
            change, h_new, accepted, fake = None, h_old, False, st["split_fakes"][-1]
        else:
            change = float((res.s_l - s_l).abs().sum())
            h_new = split_entropy(res.s_l, s_k)
            accepted = not (s.refine_guard and h_new > h_old)
            if not accepted:
                log.info("%s: refinement %d made the split less decisive (entropy %.3f -> %.3f bits); "
                         "keeping the previous memberships", label, t, h_old, h_new)
            fake = res.fake
        kept = res.s_l.cpu() if accepted else st["s_l"]
        st.update(s_l=kept, t=t)
        st["history"].append(kept)
        st["split_fakes"].append(fake)
        st["split_logs"].append({**_stage_log(f"refinement {t}", res), "change": change,
                                 "entropy_before": h_old, "entropy_after": h_new, "accepted": accepted})
        # the authors' rule: from the second refinement on (comparing two refinements, not a refinement with
        # the raw split); a failed refinement is no convergence
        if s.refine_tol is not None and t >= 2 and change is not None and change < s.refine_tol:
            log.info("%s: refinement %d changed %.1f images' mass (< %s); stopping refinements",
                     label, t, change, s.refine_tol)
            st["t"] = s.refinements
        stage_done(f"refinement {t}")
    return st


def child_reals(X, membership, s_l, s: Settings, path: str) -> list:
    """The real images kept for the two children of the split at ``path`` (seeded by their paths)."""
    return [_real_samples(X, m, s.n_samples, _seed(s.seed, "real", seed_key(path + str(j))))
            for j, m in enumerate((s_l, membership - s_l))]


def partial_file(run_dir, path: str) -> Path:
    """Where a split trained by a worker keeps its finished stages (one file per node path)."""
    return Path(run_dir) / "partial" / f"node-{path or 'root'}.pt"


def save_partial(file: Path, state: dict) -> None:
    """Checkpoint a split's finished stages (atomically, with a checksum)."""
    save_checked(file, state, durable=False)


def load_partial(file: Path) -> dict | None:
    """A split's saved stages, or None (missing, unreadable or damaged: the split is trained again)."""
    try:
        st = torch.load(file, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        return None
    except Exception as exc:   # a file cut short by a kill mid-write is replaced atomically, so rare
        log.warning("ignoring the unreadable partial split %s (%s); the split is trained again",
                    file, type(exc).__name__)
        return None
    if not isinstance(st, dict) or not set(new_split_state()) <= set(st):
        return None
    if STORAGE_KEY in st:   # files of older versions have no checksum
        problem = checksum_problem(st)
        if problem is not None:
            log.warning("ignoring the damaged partial split %s (%s); the split is trained again", file, problem)
            return None
    return {k: v for k, v in st.items() if k != STORAGE_KEY}


# ---- growth -------------------------------------------------------------
EXECUTORS = ("inline", "processes", "ray")


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
        diff = [k for k in new if k != "profile" and old.get(k) != new[k]]
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
        from .parallel import make_executor
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
        t = self.tree
        out = {t.nodes[k].path: tuple(t.nodes[c].mass for c in t.nodes[k].children) for k in t.splits}
        for path, st in t.spare.items():
            m = self.membership(path)
            out[path] = (float(st["s_l"].sum()), float((m - st["s_l"]).sum()))
        return out

    def membership(self, path: str) -> torch.Tensor:
        """A node's membership, from the tree or from the spare split above it."""
        node = self.by_path.get(path)
        if node is not None:
            return node.membership
        parent = self.membership(path[:-1])
        s_l = self.tree.spare[path[:-1]]["s_l"]
        return s_l.clone() if path[-1] == "0" else parent - s_l

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
        from .schedule import replay
        t = self.tree
        order, _, blocked = replay(t.nodes[0].mass, self.done(), self.n_leaves)
        for path in order[len(t.splits):]:   # the tree's splits are the order's first ones; the rest are spare
            self.finish(self.by_path[path], t.spare.pop(path))
        return blocked

    def finish(self, node: Node, st: dict) -> None:
        """Make the children of a trained split (the growth order has reached it)."""
        t, s = self.tree, self.tree.settings
        for name in ("history", "split_fakes", "split_logs", "retries"):
            if getattr(node, name) is not st[name]:
                setattr(node, name, list(st[name]))
        node.nets = st.get("nets")
        s_l = st["s_l"]
        ids = (len(t.nodes), len(t.nodes) + 1)
        fakes = node.split_fakes[-1]
        if t.seeding == "path" and st.get("real") is not None:   # drawn by the worker that trained it
            reals = st["real"]
        elif t.seeding == "path":
            reals = child_reals(self.X, node.membership, s_l, s, node.path)
        else:
            reals = [_real_samples(self.X, m, s.n_samples, _seed(s.seed, "real", cid))
                     for cid, m in zip(ids, (s_l, node.membership - s_l))]
        for j, (cid, m) in enumerate(zip(ids, (s_l, node.membership - s_l))):
            child = Node(cid, node.id, node.depth + 1, m.clone(), generated=fakes[j], path=node.path + str(j),
                         real=reals[j])
            t.nodes.append(child)
            self.by_path[child.path] = child
        node.children = ids
        t.splits.append(node.id)
        t.pending = None
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
                saved = load_partial(partial_file(self.run_dir, path)) if self.run_dir is not None else None
                if saved is not None:   # a worker of an interrupted parallel run got this far
                    t.pending.update(s_l=saved["s_l"], t=saved["t"], nets=saved.get("nets"))
                    node.history, node.split_fakes = saved["history"], saved["split_fakes"]
                    node.split_logs, node.retries = saved["split_logs"], saved["retries"]
            p = t.pending
            node = t.nodes[p["node"]]
            st = {"s_l": p["s_l"], "t": p["t"], "history": node.history, "split_fakes": node.split_fakes,
                  "split_logs": node.split_logs, "retries": node.retries, "seconds": 0.0, "nets": p.get("nets")}
            counted = [0.0]

            def on_stage(st, stage, node=node, p=p):
                t.seconds += st["seconds"] - counted[0]
                counted[0] = st["seconds"]
                p.update(s_l=st["s_l"], t=st["t"], nets=st.get("nets"))
                self.save({"node": node.id, "stage": stage})

            split_node(self.X, node.membership, t.settings, self.device, self.key(node), f"node {node.id}", st,
                       on_stage, progress=self.progress, init=self.init(node.path))
            self.finish(node, st)
        self.bar.close()

    # -- several splits at once, ahead of the growth order --
    def parallel(self, make_executor, workers: int) -> None:
        from .schedule import next_jobs
        t = self.tree
        if t.pending is not None:   # an in-process split was interrupted: hand its stages to a worker
            node = t.nodes[t.pending["node"]]
            if self.run_dir is not None and t.pending["t"] >= 0:
                save_partial(partial_file(self.run_dir, node.path), {
                    "s_l": t.pending["s_l"], "t": t.pending["t"], "history": node.history,
                    "split_fakes": node.split_fakes, "split_logs": node.split_logs, "retries": node.retries,
                    "seconds": 0.0, "nets": t.pending.get("nets")})
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
                    job = {"membership": self.membership(path), "key": seed_key(path), "label": f"node {path!r}",
                           "path": path, "init": self.init(path),
                           "state": load_partial(partial) if partial is not None else None,
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

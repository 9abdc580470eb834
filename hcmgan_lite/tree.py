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
"""
from __future__ import annotations

import contextlib
import logging
import numbers
import os
import platform
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .data import ImageData, check_images, from_tensor
from .progress import progress_bar
from .settings import Settings, pick_device
from .training import CollapseError, SplitResult, raw_split, refine, to_uint8

log = logging.getLogger(__name__)

FORMAT = "hcmgan-lite-tree"
VERSION = 1


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
        }

    def save(self, path) -> Path:
        """Write atomically: a temporary file first (flushed to disk), then a rename.

        A reader (or a resumed run) sees either the previous file or the new
        one, never a half-written file, even if the process is killed mid-save.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        try:
            with open(tmp, "wb") as f:
                torch.save(self.state_dict(), f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        try:  # make the rename itself durable (POSIX; not possible on every platform)
            fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            pass
        return path

    @classmethod
    def load(cls, path) -> "Tree":
        path = Path(path)
        if path.is_dir():
            path = path / "tree.pt"
        if not path.exists():
            raise FileNotFoundError(f"no saved tree at {path}")
        try:
            d = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ValueError(f"{path} is not a readable HC-MGAN Lite tree file (corrupt or truncated?): {exc}. "
                             "Delete it to start the run over, or use another run_dir") from exc
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ValueError(f"{path} is not an HC-MGAN Lite tree file (format tag {FORMAT!r} missing)")
        v = d.get("version")
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{path} has an unknown file format version {v!r}; "
                             f"this library reads versions 1 to {VERSION}")
        if v > VERSION:
            raise ValueError(f"{path} was written by a newer version (file format {v}, "
                             f"this library reads up to {VERSION}); upgrade hcmgan_lite")
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
            tree._check_structure()
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
        for stale in run_dir.glob("*.tmp*"):   # a save or a config write killed midway: nobody else writes now
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


def _train_with_retries(fn, s: Settings, node: Node, stage: str, seed_parts, parent_mass: float,
                        may_skip: bool = False):
    """Run one GAN training; retrain with a new seed if it fails.

    Failures: a collapse (:class:`CollapseError`: D's loss on a generator's
    samples near 0, a generator's samples no longer varying, NaN/inf losses),
    NaN/inf memberships, or a degenerate split (the smaller child holds less
    than ``min_child_frac`` of the parent's mass).  Each failure is logged and
    recorded in ``node.retries`` as ``{stage, attempt, kind, reason}``.

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
        node.retries.append(record)
        last = (kind, why)
        if attempt < s.max_retries:
            log.warning("node %d %s: %s; retraining with a new seed (%d/%d)", node.id, stage, why,
                        attempt + 1, s.max_retries)
    if late is not None:
        log.warning("node %d %s: every try failed; keeping the split of the try that collapsed latest "
                    "(%.0f%% of its training done)", node.id, stage, 100 * late_progress)
        late_record["kept"] = True
        return late
    if fallback is not None:
        log.warning("node %d %s: keeping the least degenerate split (smaller child %.2f%% of the mass) "
                    "after %d tries", node.id, stage, 100 * fallback_frac, tries)
        fallback_record["kept"] = True
        return fallback
    if may_skip:
        log.warning("node %d %s: all %d tries failed (last: %s); skipping it, the split stays as it was",
                    node.id, stage, tries, last[1])
        return None
    raise CollapseError(f"node {node.id} {stage}: all {tries} tries failed; last: {last[1]}. Try another seed, "
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


def grow_tree(data, n_leaves: int, settings: Settings, device=None, run_dir=None,
              progress: bool = True, callback=None, on_start=None) -> Tree:
    """Grow an HC-MGAN tree on ``data`` (an :class:`~hcmgan_lite.data.ImageData`) to ``n_leaves`` leaves.

    ``run_dir``: where checkpoints go; an existing checkpoint there is resumed
    (it must have been grown on the same images with the same settings).
    Only one process at a time grows into a ``run_dir``: a second one gets
    :class:`RunDirInUse`, naming the process that holds it.
    ``callback(tree, event)`` is called after every raw split and refinement;
    ``on_start(tree)`` once, after every check (and with the run dir locked),
    before any training.  Bad input (too few images, images of the wrong size,
    range or with NaN, labels of the wrong length, bad settings or device)
    raises ``ValueError`` or ``TypeError`` before the run dir is touched.
    """
    data, device = _checked(data, n_leaves, settings, device)
    if run_dir is None:
        return _grow_tree(data, n_leaves, settings, device, None, progress, callback, on_start)
    with run_lock(run_dir):
        return _grow_tree(data, n_leaves, settings, device, run_dir, progress, callback, on_start)


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


def _grow_tree(data, n_leaves, settings, device, run_dir, progress, callback, on_start) -> Tree:
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
        root = Node(0, None, 0, torch.ones(len(data)))
        root.real = _real_samples(X, root.membership, s.n_samples, _seed(s.seed, "real", 0))
        tree.nodes.append(root)
    tree.device = str(device)
    env = run_environment(device)
    if not tree.envs or tree.envs[-1] != env:   # every machine (and thread count) the tree was grown on
        tree.envs.append(env)
    tree.env = env
    if on_start is not None:
        on_start(tree)

    def save(event):
        if ckpt is not None:
            tree.save(ckpt)
        if callback is not None:
            callback(tree, event)

    outer = progress_bar(total=n_leaves - 1, initial=len(tree.splits), desc="splits", disable=not progress)
    while tree.n_leaves < n_leaves:
        t_start = time.perf_counter()
        if tree.pending is None:
            leaves = tree.leaves()
            k = max(leaves, key=lambda i: tree.nodes[i].mass)
            tree.pending = {"node": k, "s_l": None, "t": -1}
        p = tree.pending
        node = tree.nodes[p["node"]]
        s_k = node.membership.to(device)
        if p["t"] < 0:  # raw split
            res = _train_with_retries(
                lambda: raw_split(X, s_k, s, device, desc=f"node {node.id} raw split", progress=progress),
                s, node, "raw", (node.id, "raw"), node.mass)
            p.update(s_l=res.s_l.cpu(), t=0)
            node.history.append(res.s_l.cpu())
            node.split_fakes.append(res.fake)
            node.split_logs.append(_stage_log("raw", res))
            tree.seconds += time.perf_counter() - t_start
            save({"node": node.id, "stage": "raw"})
            t_start = time.perf_counter()
        while p["t"] < s.refinements:
            t = p["t"] + 1
            s_l = p["s_l"].to(device)
            res = _train_with_retries(
                lambda: refine(X, s_l, s_k - s_l, s, device, desc=f"node {node.id} refinement {t}",
                               progress=progress),
                s, node, f"refinement {t}", (node.id, "ref", t), node.mass, may_skip=True)
            h_old = split_entropy(s_l, s_k)
            if res is None:  # every try failed: this refinement is skipped, the split stays as it was
                change, h_new, accepted, fake = None, h_old, False, node.split_fakes[-1]
            else:
                change = float((res.s_l - s_l).abs().sum())
                h_new = split_entropy(res.s_l, s_k)
                accepted = not (s.refine_guard and h_new > h_old)
                if not accepted:
                    log.info("node %d: refinement %d made the split less decisive (entropy %.3f -> %.3f bits); "
                             "keeping the previous memberships", node.id, t, h_old, h_new)
                fake = res.fake
            kept = res.s_l.cpu() if accepted else p["s_l"]
            p.update(s_l=kept, t=t)
            node.history.append(kept)
            node.split_fakes.append(fake)
            node.split_logs.append({**_stage_log(f"refinement {t}", res), "change": change,
                                    "entropy_before": h_old, "entropy_after": h_new, "accepted": accepted})
            tree.seconds += time.perf_counter() - t_start
            t_start = time.perf_counter()
            if s.refine_tol is not None and change is not None and change < s.refine_tol:  # a failure is no convergence
                log.info("node %d: refinement %d changed %.1f images' mass (< %s); stopping refinements",
                         node.id, t, change, s.refine_tol)
                p["t"] = s.refinements
            save({"node": node.id, "stage": f"refinement {t}"})
        # finish the split: create the children
        s_l = p["s_l"]
        s_m = node.membership - s_l
        ids = (len(tree.nodes), len(tree.nodes) + 1)
        fakes = node.split_fakes[-1]
        for j, (cid, m) in enumerate(zip(ids, (s_l, s_m))):
            child = Node(cid, node.id, node.depth + 1, m.clone(), generated=fakes[j])
            child.real = _real_samples(X, m, s.n_samples, _seed(s.seed, "real", cid))
            tree.nodes.append(child)
        node.children = ids
        tree.splits.append(node.id)
        tree.pending = None
        save({"node": node.id, "stage": "split done"})
        outer.update(1)
    outer.close()
    return tree

"""The soft clustering tree: the data structure, its cuts, and its file.

Node ``k`` holds a membership vector ``s_k`` (one weight per image); the root
is all ones.  A split turns ``s_k`` into two children with
``s_l + s_m = s_k``.  Nodes are numbered in growth order, so cutting the tree
at ``n`` clusters undoes the latest splits first.  Growing a tree is
:mod:`hcmgan_lite.growth`; one split's training is :mod:`hcmgan_lite.split`.

``Tree.save`` writes only tensors, numbers, strings, lists and dicts, with a
checksum (:mod:`hcmgan_lite.storage`), so ``torch.load(..., weights_only=True)``
reads it safely; ``Tree.load`` checks the format, the checksum and the
membership invariants.

Each split keeps its classifiers (``Node.classifier``, unless ``keep_classifiers=False``), written to
``classifiers.pt`` beside ``tree.pt`` (checksummed, bound to the memberships they made):
:meth:`Tree.route` sends new images down the tree with them.

Imports: settings, storage, schedule (the growth order, to add spare splits), networks (to apply a kept
classifier), data (to read new images).
"""
from __future__ import annotations

import copy
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .schedule import replay
from .settings import Settings
from .storage import checksum_problem, digest, save_checked

log = logging.getLogger(__name__)
CLASSIFIERS = "classifiers.pt"           # beside tree.pt: every split's classifiers
CLASSIFIERS_FORMAT = "hcmgan-lite-classifiers"

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
    classifier: dict | None = None           # split nodes: the classifiers that made the split (classifiers.pt)

    @property
    def mass(self) -> float:
        return float(self.membership.sum())

    @property
    def is_split(self) -> bool:
        return self.children is not None

    def to_dict(self) -> dict:   # (the classifier is written to classifiers.pt, not to tree.pt)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items() if k != "classifier"}

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
        import numbers
        if n_clusters is not None and (isinstance(n_clusters, bool) or not isinstance(n_clusters, numbers.Integral)):
            raise ValueError(f"n_clusters must be a whole number of clusters, got {n_clusters!r}")
        n = self.n_leaves if n_clusters is None else int(n_clusters)
        if not 1 <= n <= self.n_leaves:
            raise ValueError(f"n_clusters must be between 1 and {self.n_leaves} (the grown leaves), got {n_clusters}")
        done = set(self.splits[: n - 1])
        alive = {0} | {c for k in done for c in self.nodes[k].children}
        return sorted(k for k in alive if k not in done)

    def memberships(self, n_clusters: int | None = None) -> torch.Tensor:
        """(n_clusters, N) soft memberships of the leaves."""
        return torch.stack([self.nodes[k].membership for k in self.leaves(n_clusters)])

    def cut(self, n_clusters: int | None = None) -> torch.Tensor:
        """Hard labels of the tree's own images, the tree cut at ``n_clusters`` leaves: the leaf with the
        highest membership, numbered 0..n_clusters-1. (New images: :meth:`route`.)"""
        return self.memberships(n_clusters).argmax(0)

    predict = cut   # the earlier name of cut

    @property
    def has_classifiers(self) -> bool:
        return bool(self.splits) and all(self.nodes[k].classifier is not None for k in self.splits)

    def route(self, X, device="auto") -> torch.Tensor:
        """Every node's membership of new images: (nodes, N), from the root down, ``s_child(x) = C(x) s_parent(x)``.

        ``X``: an :class:`~hcmgan_lite.data.ImageData` or images as :func:`~hcmgan_lite.data.from_tensor`
        reads them, of the tree's image shape. Each split applies the classifiers it kept (the last kept
        stage's: after refinements the two groups' classifiers, averaged). On the images the tree was grown
        on this gives the tree's own memberships (exactly after raw splits; after refinements to float
        rounding). Leaves of a cut: ``route(X)[tree.leaves(n)]``.
        """
        from .data import ImageData, from_tensor
        from .settings import pick_device
        from .networks import apply_classifier
        missing = [k for k in self.splits if self.nodes[k].classifier is None]
        if missing or not self.splits:
            why = getattr(self, "classifier_problem", None) or (
                "it was grown with keep_classifiers=False or by an older version, or its classifiers.pt is missing")
            raise ValueError(f"this tree cannot route new images: splits of nodes {missing} have no classifiers "
                             f"({why}); grow it again with keep_classifiers=True")
        x = X.images if isinstance(X, ImageData) else from_tensor(X).images
        if tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"images of shape {tuple(x.shape[1:])}, but the tree was grown on images of shape "
                             f"{self.image_shape}")
        dev = pick_device(device)
        out = torch.empty(len(self.nodes), len(x))
        out[0] = 1.0
        for k in self.splits:
            node = self.nodes[k]
            try:
                q = apply_classifier(node.classifier, x, self.settings, dev).cpu()
            except (RuntimeError, KeyError, TypeError) as exc:
                raise ValueError(f"the classifier of node {k} does not fit this tree's settings ({exc})") from None
            left, right = node.children
            out[left] = q * out[k]
            out[right] = out[k] - out[left]
        return out

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
        t = copy.deepcopy(self)
        if t.spare and t.seeding == "path" and t.pending is None:
            order, _, _ = replay(t.nodes[0].mass, t.finished_splits(), len(t.splits) + len(t.spare) + 1)
            by_path = {n.path: n for n in t.nodes}
            for path in order[len(t.splits):]:   # the tree's splits are the order's first ones
                st = t.spare.pop(path)
                for c in t.add_split(by_path[path], st, st.get("real") or [None, None]):
                    by_path[t.nodes[c].path] = t.nodes[c]
        return t

    def membership_at(self, path: str) -> torch.Tensor:
        """A node's membership, from the tree or from the spare split above it."""
        node = next((n for n in self.nodes if n.path == path), None)
        if node is not None:
            return node.membership
        parent = self.membership_at(path[:-1])
        s_l = self.spare[path[:-1]]["s_l"]
        return s_l.clone() if path[-1] == "0" else parent - s_l

    def finished_splits(self) -> dict:
        """path -> children masses, for every finished split (in the tree or spare)."""
        out = {self.nodes[k].path: tuple(self.nodes[c].mass for c in self.nodes[k].children) for k in self.splits}
        for path, st in self.spare.items():
            m = self.membership_at(path)
            out[path] = (float(st["s_l"].sum()), float((m - st["s_l"]).sum()))
        return out

    def add_split(self, node: Node, st: dict, reals) -> tuple[int, int]:
        """Make the children of ``node`` from a trained split (the state of
        :func:`hcmgan_lite.split.split_node`); ``reals``: the real images kept for each child."""
        for name in ("history", "split_fakes", "split_logs", "retries"):
            if getattr(node, name) is not st[name]:
                setattr(node, name, list(st[name]))
        node.nets = st.get("nets")
        node.classifier = st.get("classifier")
        s_l = st["s_l"]
        ids = (len(self.nodes), len(self.nodes) + 1)
        fakes = node.split_fakes[-1]
        for j, (cid, m) in enumerate(zip(ids, (s_l, node.membership - s_l))):
            self.nodes.append(Node(cid, node.id, node.depth + 1, m.clone(), generated=fakes[j],
                                   path=node.path + str(j), real=reals[j]))
        node.children = ids
        self.splits.append(node.id)
        self.pending = None
        return ids

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
        path = save_checked(path, self.state_dict())
        self._save_classifiers(path.with_name(CLASSIFIERS))
        return path

    def _split_key(self, k: int) -> str:
        """What binds a kept classifier to its split: a digest of the memberships it made."""
        return digest({"s_l": self.nodes[self.nodes[k].children[0]].membership})

    def _save_classifiers(self, file: Path) -> None:
        """Write classifiers.pt when the tree has classifiers it has not written there yet."""
        have = {self.nodes[k].path: k for k in self.splits if self.nodes[k].classifier is not None}
        if not have or getattr(self, "_classifiers_saved", None) == (str(file), tuple(sorted(have))):
            return
        save_checked(file, {"format": CLASSIFIERS_FORMAT, "version": 1, "splits": {
            p: {"key": self._split_key(k), "classifier": self.nodes[k].classifier} for p, k in have.items()}})
        self._classifiers_saved = (str(file), tuple(sorted(have)))

    def _load_classifiers(self, file: Path) -> None:
        """Attach the classifiers of ``file`` to the splits they were made by; a damaged file is ignored
        with a warning (the tree still loads; :meth:`route` says why it cannot route)."""
        if not file.exists():
            return
        try:
            if not file.is_file():
                raise ValueError("not a regular file")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                d = torch.load(file, map_location="cpu", weights_only=True)
            if not isinstance(d, dict) or d.get("format") != CLASSIFIERS_FORMAT:
                raise ValueError("not a classifiers file")
            problem = checksum_problem(d)
            if problem is not None:
                raise ValueError(problem)
            by_path = {n.path: n for n in self.nodes}
            for p, e in dict(d["splits"]).items():
                node = by_path.get(p)
                if node is not None and node.children is not None and e["key"] == self._split_key(node.id) \
                        and isinstance(e["classifier"], dict) and e["classifier"].get("mode") in ("mgan", "pair"):
                    node.classifier = e["classifier"]
        except Exception as exc:   # noqa: BLE001 - whatever is wrong, the tree is still the tree
            self.classifier_problem = f"{file} was not used: {exc}"
            log.warning("ignoring the classifiers of %s: %s", file, exc)
            return
        self._classifiers_saved = (str(file), tuple(sorted(n.path for n in self.nodes if n.classifier is not None)))

    @classmethod
    def load(cls, path) -> "Tree":
        path = Path(path)
        if path.is_dir():
            path = path / "tree.pt"
        if not path.exists():
            raise FileNotFoundError(f"no saved tree at {path}")
        if not path.is_file():   # a FIFO or a device would block the read, or never end
            raise ValueError(f"{path} is not a regular file (a tree file is one); remove it, or use another run_dir")
        import warnings
        try:
            with warnings.catch_warnings():   # torch warns about plain pickles before failing: our line says it
                warnings.simplefilter("ignore")
                d = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:   # our words only: torch's message advises weights_only=False, which would
            # run a malicious file's code
            what = ("it is empty" if path.stat().st_size == 0 else
                    "it holds objects other than tensors, numbers, strings, lists and dicts (a tree file never "
                    "does; do not load it with weights_only=False)" if "weights_only" in str(exc) else
                    f"{type(exc).__name__}")
            raise ValueError(f"{path} is not a readable HC-MGAN Lite tree file ({what}; corrupt, truncated or "
                             "not a tree file). Delete it to start the run over, or use another run_dir") from None
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
            tree._load_classifiers(path.with_name(CLASSIFIERS))
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
        self._check_growth()
        if self.labels is not None:
            if tuple(self.labels.shape) != (self.n_images,):
                raise ValueError(f"{tuple(self.labels.shape)} labels for {self.n_images} images")
            k = len(self.class_names) if self.class_names is not None else self.n_images
            if self.n_images and (int(self.labels.min()) < 0 or int(self.labels.max()) >= k):
                raise ValueError(f"labels run from {int(self.labels.min())} to {int(self.labels.max())}, outside "
                                 f"0..{k - 1} (the {'classes' if self.class_names is not None else 'images'})")
        self._check_memberships()
        self._check_stages()

    def _check_growth(self) -> None:
        """The split list replays the growth: each split is of a node that was a leaf then, and made the next
        two nodes, its children (add_split's numbering); every split node is in the list once."""
        alive = {0}
        for i, k in enumerate(self.splits):
            if k not in alive:
                raise ValueError(f"split {i} is of node {k}, which was not a leaf then "
                                 f"(the split list {self.splits} repeats or reorders nodes)")
            node, kids = self.nodes[k], (2 * i + 1, 2 * i + 2)
            if tuple(node.children) != kids:
                raise ValueError(f"node {k}'s children are {node.children}, not the nodes its split made {kids}")
            for j, c in enumerate(kids):
                child = self.nodes[c]
                if child.parent != k or child.depth != node.depth + 1:
                    raise ValueError(f"node {c} does not say it is a child of node {k} at depth {node.depth + 1}")
                if child.path and node.path + str(j) != child.path:
                    raise ValueError(f"node {c}'s path {child.path!r} is not its parent's plus {j}")
            alive = (alive - {k}) | set(kids)
        if sum(n.children is not None for n in self.nodes) != len(self.splits):
            raise ValueError("nodes have children that no split in the split list made")
        if self.nodes[0].parent is not None:
            raise ValueError("the root (node 0) names a parent")

    def _check_stages(self, tol: float = MEMBERSHIP_TOL) -> None:
        """What reports read of each split: its stages' memberships lie between 0 and the node's own; and a
        split in progress (``pending``) is of a leaf, at a stage of this run."""
        def within(v, s_k, what):
            if not isinstance(v, torch.Tensor) or not v.is_floating_point() or v.shape != s_k.shape:
                raise ValueError(f"{what} is not a vector of {self.n_images} weights")
            v = v.float()
            if not bool(torch.isfinite(v).all()) or bool((v < -tol).any()) or bool((v > s_k + tol).any()):
                raise ValueError(f"{what} is not between 0 and the node's membership "
                                 f"(from {float(v.min()):.4g} to {float(v.max()):.4g})")
        for node in self.nodes:
            if node.children is not None and not node.history:
                raise ValueError(f"split node {node.id} has no stages")
            for i, h in enumerate(node.history):
                within(h, node.membership, f"stage {i} of node {node.id}'s split")
        p = self.pending
        if p is not None:
            k = p.get("node") if isinstance(p, dict) else None
            if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < len(self.nodes) \
                    or self.nodes[k].children is not None:
                raise ValueError(f"the split in progress is of node {k!r}, which is not a leaf of the tree")
            t = p.get("t")
            if isinstance(t, bool) or not isinstance(t, int) or not -1 <= t <= self.settings.refinements:
                raise ValueError(f"the split in progress is at stage {t!r}, not a stage of this run")
            if t >= 0:
                within(p.get("s_l"), self.nodes[k].membership, f"the split in progress (node {k})")
        for path, st in sorted(self.spare.items(), key=lambda kv: len(str(kv[0]))):
            if not isinstance(path, str) or set(path) - {"0", "1"} or not isinstance(st, dict):
                raise ValueError(f"the spare split {path!r} is not a node path with a split")
            try:
                s_k = self.membership_at(path)
            except (KeyError, StopIteration):
                raise ValueError(f"the spare split {path!r} hangs under no node of the tree") from None
            within(st.get("s_l"), s_k, f"the spare split of node {path!r}")

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

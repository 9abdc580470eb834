"""Which splits to train next, when several can be trained at once; and what that buys.

A split depends only on its own node's membership, and every split's random
streams come from the run's seed and the node's *path* (the root is ``""``, its
children ``"0"`` and ``"1"``, theirs ``"00"`` ... ; ``"0"`` is the first child,
``s_l``).  What ties a tree together is the order of growth: the next leaf to
split is the one with the largest mass.  So a tree can be grown by several
workers at once and still be the tree that sequential growth gives:

* the sequential order is *replayed* from the finished splits: start at the
  root, take the largest leaf, and if its split is done apply it, until the
  tree has its leaves or the next split is not done yet (it is *blocked*);
* idle workers *speculate*: they split the blocked leaf first, then other
  leaves by mass, but never a leaf that provably cannot be among the splits the
  sequential order still needs (see :func:`next_jobs`).

Everything here works on masses and paths only (no tensors, no training), so
the same code drives real growth (:mod:`hcmgan_lite.tree`) and the simulation
of a schedule (:func:`simulate`).

Imports: training (the steps of a split, for a GPU time estimate).
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field


def replay(root_mass: float, done: dict, n_leaves: int) -> tuple[list[str], dict, str | None]:
    """The sequential growth order as far as the finished splits reach.

    ``done`` maps a path to its children's masses ``(mass_0, mass_1)``.
    Returns ``(order, leaves, blocked)``: the paths split in order, the leaves
    of the replayed tree (path -> mass) and the path whose split the order needs
    next but is not done (None when the tree has ``n_leaves`` leaves).
    Ties go to the leaf created first, as in sequential growth (lowest node id).
    """
    leaves = {"": float(root_mass)}
    created = {"": 0}
    order: list[str] = []
    while len(order) + 1 < n_leaves:
        nxt = max(leaves, key=lambda p: (leaves[p], -created[p]))
        if nxt not in done:
            return order, leaves, nxt
        m0, m1 = done[nxt]
        del leaves[nxt]
        for j, m in enumerate((m0, m1)):
            leaves[nxt + str(j)] = float(m)
            created[nxt + str(j)] = len(created)
        order.append(nxt)
    return order, leaves, None


def next_jobs(root_mass: float, done: dict, running, n_leaves: int, free: int) -> list[str]:
    """Up to ``free`` paths to split now, most useful first (the blocked leaf, then the largest).

    A leaf ``c`` of the tree grown so far (the replayed tree, extended by
    finished splits the order has not reached) is left out when the sequential
    order provably never splits it.  When the order splits ``c`` (mass ``m``),
    ``c`` is the heaviest leaf, so every other leaf then weighs at most ``m``:
    the subtree of a replayed leaf of mass ``M > m`` has been split at least
    ``ceil(M / m) - 1`` times by then (its leaves, each at most ``m``, add up to
    ``M``), and the subtree that holds ``c`` at least as often, and at least once
    per ancestor of ``c`` below it.  If those splits are at least the ``R`` the
    order still needs, ``c`` is never needed.  Nothing is proposed once the tree
    is complete.
    """
    order, leaves, blocked = replay(root_mass, done, n_leaves)
    if blocked is None or free < 1:
        return []
    remaining = n_leaves - 1 - len(order)
    frontier = []                     # (path, mass, replayed leaf above it, splits between them)
    stack = [(p, m, p, 0) for p, m in leaves.items()]
    while stack:
        p, m, top, depth = stack.pop()
        if p in done:
            stack.extend((p + str(j), float(mj), top, depth + 1) for j, mj in enumerate(done[p]))
        else:
            frontier.append((p, m, top, depth))

    def splits_before(m: float, top: str, depth: int) -> float:
        if m <= 0:
            return float("inf")
        need = lambda mass: max(math.ceil(mass / m * (1 - 1e-9)) - 1, 0)   # noqa: E731 - float sums
        return (sum(need(mx) for x, mx in leaves.items() if x != top and mx > m)
                + max(depth, need(leaves[top])))

    running = set(running)
    out = []
    for p, m, top, depth in sorted(frontier, key=lambda c: (c[0] != blocked, -c[1], len(c[0]), c[0])):
        if p in running or (p != blocked and splits_before(m, top, depth) >= remaining):
            continue
        out.append(p)
        if len(out) == free:
            break
    return out


@dataclass
class Simulated:
    workers: int
    wall: float          # seconds from the first split to the tree's last needed split
    work: float          # seconds of training, all workers together (speculation included)
    wasted: float        # seconds spent on splits that the tree did not use
    rounds: int          # splits on the longest chain of waits (the critical path, in splits)
    jobs: list = field(default_factory=list)   # (worker, path, start, end, used) for every split trained


def simulate(root_mass: float, children, seconds, n_leaves: int, workers: int) -> Simulated:
    """Grow a tree on ``workers`` workers with :func:`next_jobs`, on a simulated clock.

    ``children(path, mass) -> (mass_0, mass_1)`` gives a split's outcome (for
    paths a real tree never split, any plausible guess, e.g. two halves) and
    ``seconds(path, mass)`` how long the split trains.  Returns the wall time
    until the replayed tree has ``n_leaves`` leaves and the work done.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    done: dict = {}
    mass = {"": float(root_mass)}
    running: dict = {}                  # path -> starting time
    lane: dict = {}                     # path -> the worker it runs on
    events: list = []
    jobs: list = []
    clock, work, depth_at = 0.0, 0.0, {"": 0}
    while True:
        _, _, blocked = replay(root_mass, done, n_leaves)
        if blocked is None:
            break
        for p in next_jobs(root_mass, done, running, n_leaves, workers - len(running)):
            d = float(seconds(p, mass[p]))
            running[p] = clock
            lane[p] = min(set(range(workers)) - {lane[q] for q in running if q != p})
            heapq.heappush(events, (clock + d, p))
        if not events:   # pragma: no cover - next_jobs always proposes the blocked leaf
            raise RuntimeError("the schedule stalled")
        clock, p = heapq.heappop(events)
        start = running.pop(p)
        work += clock - start
        jobs.append([lane[p], p, start, clock, None])
        done[p] = tuple(float(m) for m in children(p, mass[p]))
        for j, m in enumerate(done[p]):
            mass[p + str(j)] = m
    order, _, _ = replay(root_mass, done, n_leaves)
    used = set(order)
    unfinished = sum(clock - start for start in running.values())   # stopped when the tree is complete
    jobs += [[lane[p], p, start, clock, False] for p, start in running.items()]
    wasted = sum(float(seconds(p, mass[p])) for p in done if p not in used) + unfinished
    work += unfinished
    for p in order:   # the critical path in splits: a split waits for its parent
        depth_at[p] = depth_at.get(p[:-1], 0) + 1 if p else 1
    for j in jobs:
        if j[4] is None:
            j[4] = j[1] in used
    return Simulated(workers, clock, work, wasted, max(depth_at.values()), [tuple(j) for j in jobs])


# ---- projections from real trees -------------------------------------------------------------
def tree_splits(tree) -> dict:
    """path -> {"mass", "children": (mass_0, mass_1), "seconds"} for every split of a :class:`~hcmgan_lite.tree.Tree`."""
    return {tree.nodes[k].path: {"mass": tree.nodes[k].mass,
                                 "children": tuple(tree.nodes[c].mass for c in tree.nodes[k].children),
                                 "seconds": sum(lg["seconds"] for lg in tree.nodes[k].split_logs)}
            for k in tree.splits}


def report_splits(report: dict) -> dict:
    """The same from a run report (``runs.report``): masses only; a leaf child's mass is the rest."""
    splits, path = {}, {}
    for sp in report["splits"]:                     # in growth order: a parent comes before its children
        p = path.get(sp["node"], "")
        for j, c in enumerate(sp["children"]):
            path[c] = p + str(j)
        splits[p] = {"mass": float(sp["mass"]), "children": [None, None], "seconds": None}
    for p, sp in splits.items():
        kids = [splits[p + str(j)]["mass"] if p + str(j) in splits else None for j in (0, 1)]
        if kids[0] is None and kids[1] is None:
            kids = [sp["mass"] / 2] * 2
        kids = [sp["mass"] - kids[1 - j] if kids[j] is None else kids[j] for j in (0, 1)]
        sp["children"] = tuple(kids)
    return splits


def project(splits: dict, n_leaves: int, seconds, workers=(1, 2, 4, 8)) -> list[Simulated]:
    """:func:`simulate` on 1, 2, 4, 8 ... workers for a real tree's splits (``tree_splits``/``report_splits``).

    ``seconds(path, mass)`` is a split's training time; splits the tree never made (speculation
    beyond it) split their mass in halves.
    """
    kids = {p: sp["children"] for p, sp in splits.items()}
    return [simulate(splits[""]["mass"], lambda p, m: kids.get(p) or (m / 2, m / 2), seconds, n_leaves, w)
            for w in workers]


def gpu_split_seconds(speed: dict, settings, n_images: int, splits: dict):
    """``seconds(path, mass)`` of one split at ``settings`` from ``benchmarks/bench.py``'s measured speeds.

    A raw split takes ``steps_for(mass)`` steps at the raw-split rate, each refinement
    ``steps_for(larger child's mass)`` at the refinement rate, and every stage re-estimates all
    ``n_images`` at the measured images per second (the paper-width rows of ``speed``).
    """
    from .training import steps_for
    rate = {r["phase"]: r for r in speed["rows"] if r["width"] == "paper"}

    def seconds(path, mass):
        big = max(splits[path]["children"]) if path in splits else mass / 2
        return (steps_for(mass, settings) / rate["raw"]["library_steps_s"]
                + settings.refinements * steps_for(big, settings) / rate["refine"]["library_steps_s"]
                + n_images / rate["raw"]["library_predict_img_s"]
                + settings.refinements * n_images / rate["refine"]["library_predict_img_s"])
    return seconds

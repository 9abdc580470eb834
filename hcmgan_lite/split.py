"""One split, the unit of work a worker runs: a raw split, then refinements, with retries.

:func:`split_node` trains one node's split (Algorithm 1's loop body) from the
images, the node's membership, the settings and a seed key (derived from the
node's *path*: ``""`` for the root, then ``"0"``/``"1"`` per level), so it can
run anywhere, in any order.  A failed training is retried with a new seed
(:func:`_train_with_retries`); a split trained by a worker checkpoints its
finished stages in a partial file (:func:`save_partial`, with a checksum).

Imports: settings, storage, training.
"""
from __future__ import annotations

import logging
import time
import zlib
from pathlib import Path

import torch

from .settings import Settings
from .storage import KEY as STORAGE_KEY, checksum_problem, save_checked
from .training import CollapseError, SplitResult, raw_split, refine, to_uint8

log = logging.getLogger(__name__)


def _seed(base: int, *parts) -> int:
    """A seed for one GAN, derived from the run's seed and where the GAN is."""
    return zlib.crc32(repr((base,) + parts).encode()) & 0x7FFFFFFF


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
        st.update(s_l=res.s_l.cpu(), t=0, nets=res.nets, classifier=res.classifier)
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
        if accepted:   # the classifiers that made the kept memberships route new images
            st["classifier"] = res.classifier
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


def load_partial(file: Path, membership: torch.Tensor | None = None, refinements: int | None = None) -> dict | None:
    """A split's saved stages, or None (missing, unreadable, damaged or inconsistent: the split is trained again).

    Checked: the checksum (a file without one is refused), and, given the node's ``membership``
    and the run's ``refinements``, what a checksum cannot vouch for: ``s_l`` and every entry of
    the history are vectors of weights between 0 and the node's own (``0 <= s_l <= s_k``), the
    stage counter ``t`` lies in ``0..refinements`` with a history entry per finished stage.
    """
    try:
        st = torch.load(file, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        return None
    except Exception as exc:   # a file cut short by a kill mid-write is replaced atomically, so rare
        log.warning("ignoring the unreadable partial split %s (%s); the split is trained again",
                    file, type(exc).__name__)
        return None
    problem = partial_problem(st, membership, refinements)
    if problem is not None:
        log.warning("ignoring the partial split %s (%s); the split is trained again", file, problem)
        return None
    return {k: v for k, v in st.items() if k != STORAGE_KEY}


def partial_problem(st, membership: torch.Tensor | None = None, refinements: int | None = None) -> str | None:
    """None when a loaded partial-split file can be continued; else what is wrong with it, in a few words."""
    if not isinstance(st, dict) or not set(new_split_state()) <= set(st):
        return "not a partial-split file"
    problem = checksum_problem(st)
    if problem is not None:
        return problem
    t, hist = st["t"], st["history"]
    if isinstance(t, bool) or not isinstance(t, int) or t < 0 or (refinements is not None and t > refinements):
        return f"its stage counter {t!r} is not a finished stage of this run"
    # one history entry per finished stage (fewer when refinements stopped early, refine_tol)
    if not isinstance(hist, list) or not 1 <= len(hist) <= t + 1 or not isinstance(st["split_fakes"], list) \
            or len(st["split_fakes"]) != len(hist):
        return f"it holds {len(hist) if isinstance(hist, list) else '?'} stages for stage counter {t}"
    if membership is None:
        return None
    s_k = membership.detach().cpu().float()
    for name, v in [("s_l", st["s_l"])] + [(f"history entry {i}", h) for i, h in enumerate(hist)]:
        if not isinstance(v, torch.Tensor) or not v.is_floating_point() or tuple(v.shape) != tuple(s_k.shape):
            return f"its {name} is not a vector of {len(s_k)} weights"
        v = v.float()
        if not bool(torch.isfinite(v).all()):
            return f"its {name} has values that are not finite numbers"
        tol = 1e-4
        if bool((v < -tol).any()) or bool((v > s_k + tol).any()):
            return f"its {name} leaves [0, the node's membership] (from {float(v.min()):.4g} to {float(v.max()):.4g})"
    if not torch.equal(st["s_l"].float(), hist[-1].float()):
        return "its s_l is not its last stage's"
    return None

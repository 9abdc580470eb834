"""Runs: fit a tree on a named dataset into a run directory, reopen it, and report on it.

The command line (``python -m hcmgan_lite``) is a thin layer over these
functions; they also measure one split on its own (:func:`split_experiment`,
the raw-split chapter's ablations) and compute the baselines (k-means and
Ward on the raw pixels of the same images). Reports hold the tree's dendrogram and leaf purity, and
Ward's (:mod:`hcmgan_lite.hierarchy`).

Imports: data, metrics, hierarchy, settings, growth, tree, training, split, storage and networks (a split's saved
networks), figures (the tree figure of a report).
"""
from __future__ import annotations

import json
import logging
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from .data import ImageData, load_dataset
from .growth import checked_executor, checked_run_dir, data_digest, grow_tree, run_lock
from .hierarchy import Hierarchy, cut_purity, dendrogram_purity, hierarchy_scores, leaf_purity, ward_tree
from .metrics import class_mass_table, evaluate, majority_side_purity
from .settings import get_settings, pick_device
from .tree import Tree

log = logging.getLogger(__name__)


def data_source(root=None) -> str:
    """The data folder a load reads (for messages)."""
    from .data import find_data_root
    try:
        return str(find_data_root(root))
    except (FileNotFoundError, ValueError):
        return "the data folder"


def load_subset(dataset: str, root=None, classes=None, per_class: int | None = None, seed: int = 0,
                announce=None) -> ImageData:
    """A named dataset, optionally restricted to some classes and images per class.

    ``announce(line)``: told which images were loaded (how many, from which folder, which subset kept).
    """
    from .data import describe
    data = load_dataset(dataset, root)
    line = describe(data)
    if classes is not None or per_class is not None:
        data = data.subset(classes=classes, per_class=per_class, seed=seed)
        line += f"; kept {len(data):,}" + (f" of classes {', '.join(map(str, classes))}" if classes else "") \
            + (f", at most {per_class:,} per class" if per_class else "")
    if announce is not None:
        announce(f"data: {line}")
    return data


def fit(dataset: str, run_dir, n_clusters: int = 10, profile: str = "quick", seed: int = 0, device="auto",
        root=None, classes=None, per_class: int | None = None, progress: bool = True, executor: str = "inline",
        workers: int | None = None, ray_address: str | None = None, announce=None, **overrides) -> Tree:
    """Grow a tree on a dataset into ``run_dir`` (resuming what is there) and return it.

    ``announce(line)``: told which images were loaded (the command line prints it).

    ``executor``, ``workers``, ``ray_address``: how many splits train at once and where (see
    :func:`~hcmgan_lite.tree.grow_tree`); they do not change the tree, so a run may be resumed
    with another executor.

    Everything is checked first (the arguments, the settings, the data, and that a tree already in
    ``run_dir`` was grown with the same configuration); only then, holding the run dir's lock, is
    ``config.json`` written, so a refused command leaves the run dir as it was (or uncreated).
    """
    import numbers
    run_dir = checked_run_dir(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"run dir {run_dir} is a file; a run dir must be a folder")
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, numbers.Integral) or n_clusters < 2:
        raise ValueError(f"n_clusters (--clusters) must be an integer >= 2, got {n_clusters!r}")
    if per_class is not None and (isinstance(per_class, bool) or not isinstance(per_class, numbers.Integral)
                                  or per_class < 1):
        raise ValueError(f"per_class (--per-class) must be a positive integer, got {per_class!r}")
    dev = pick_device(device)
    checked_executor(executor, workers, dev, ray_address)
    settings = get_settings(profile, dataset, seed=seed, **overrides)
    config = {"dataset": dataset, "n_clusters": n_clusters, "profile": profile, "seed": seed,
              "classes": classes, "per_class": per_class, "overrides": overrides}
    data = load_subset(dataset, root, classes, per_class, seed=0, announce=announce)
    if len(data) < n_clusters:
        raise ValueError(f"n_clusters (--clusters) is {n_clusters} but the data holds only {len(data)} images")
    cfg_path = run_dir / "config.json"

    def write_config(tree):   # called by grow_tree after its own checks (same data and settings as tree.pt)
        if not cfg_path.exists():
            tmp = cfg_path.with_name(cfg_path.name + ".tmp")
            tmp.write_text(json.dumps(config, indent=2))
            tmp.replace(cfg_path)

    t0 = time.perf_counter()
    before = _run_dir_state(run_dir)
    try:
        with run_lock(run_dir):   # from here on no other process writes into run_dir
            if cfg_path.exists():
                old, new = read_config(run_dir), json.loads(json.dumps(config))
                if old != new:
                    diff = "; ".join(f"{k}: {old.get(k)!r} there, {new.get(k)!r} now"
                                     for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k))
                    raise ValueError(f"{run_dir} holds a run with another configuration ({diff}); "
                                     "run the same command to resume it, or use another run_dir")
            tree = grow_tree(data, n_clusters, settings, dev, run_dir, progress=progress, on_start=write_config,
                             executor=executor, workers=workers, ray_address=ray_address)
    except BaseException:
        _restore_run_dir(run_dir, before)
        raise
    log.info("grew %s in %.0f s on %s", tree, time.perf_counter() - t0, dev)
    return tree


def _run_dir_state(run_dir: Path) -> dict:
    return {"existed": run_dir.is_dir(), "files": {p.name for p in run_dir.iterdir()} if run_dir.is_dir() else set()}


def _restore_run_dir(run_dir: Path, before: dict) -> None:
    """After a first command that failed before anything could be resumed (no tree.pt, no partial split):
    remove what it wrote (config.json, the lock file, an empty partial/ folder, the run dir it created),
    so the run dir is as it was and any other command may start there."""
    if not run_dir.is_dir() or (run_dir / "tree.pt").exists() or any(run_dir.glob("partial/*.pt")):
        return
    for name in ("config.json", ".lock", "partial"):
        p = run_dir / name
        if name in before["files"] or not os.path.lexists(p):
            continue
        try:
            p.rmdir() if p.is_dir() and not p.is_symlink() else p.unlink()
        except OSError:
            pass
    if not before["existed"]:
        try:
            run_dir.rmdir()   # only when empty
        except OSError:
            pass


def read_config(run_dir) -> dict:
    """A run dir's ``config.json`` (written by :func:`fit`), checked: a JSON object; errors name the file."""
    path = Path(run_dir) / "config.json"
    try:
        cfg = json.loads(path.read_text())
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not a text file ({exc.reason}); fix or delete it") from None
    except ValueError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); fix or delete it") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"{path} holds a JSON {type(cfg).__name__}, not the object fit writes; fix or delete it")
    return cfg


# ---- saved runs --------------------------------------------------------------------
def latest_run(runs, pattern: str = "*") -> Path | None:
    """The most recently written run directory ``runs/<pattern>`` that holds a tree, or None."""
    found = sorted(Path(runs).glob(f"{pattern}/tree.pt"), key=lambda p: p.stat().st_mtime)
    return found[-1].parent if found else None


def load_run(path, root=None) -> tuple[Tree, ImageData | None]:
    """A saved tree (a run directory or its ``tree.pt``) and the images it was grown on.

    The images come back when the run directory's ``config.json`` (written by :func:`fit`)
    names them and they can be loaded and match the tree (same number, same pixels);
    otherwise the second value is None and the tree alone is returned.
    """
    path = Path(path)
    tree = Tree.load(path)
    config = (path if path.is_dir() else path.parent) / "config.json"
    if not config.is_file():
        return tree, None
    try:
        cfg = read_config(config.parent)
        data = load_subset(cfg["dataset"], root, cfg.get("classes"), cfg.get("per_class"))
    except (FileNotFoundError, KeyError, ValueError) as exc:
        log.info("the images of %s were not loaded: %s", path, exc)
        return tree, None
    if len(data) != tree.n_images or (tree.data_digest and data_digest(data.images) != tree.data_digest):
        return tree, None
    return tree, data


def sop_data(per_class: int | None = 300, root=None, stand_in=("Trouser", "Bag", "Sneaker", "Dress")):
    """(data, source, real): Stanford Online Products if it is under the data root, else a stand-in.

    The stand-in is ``per_class`` Fashion-MNIST images of each class in ``stand_in``, written in
    SOP's folder layout (:func:`~hcmgan_lite.data.write_sop_layout`, with the kettle and lamp decoys)
    and read back with :func:`~hcmgan_lite.data.load_sop`: the SOP pipeline runs for real, but its
    numbers are not SOP numbers, and ``source`` says so.
    """
    import tempfile
    from .data import find_data_root, load_fashion_mnist, load_sop, write_sop_layout
    base = find_data_root(root)
    if (base / "Stanford_Online_Products").is_dir():
        return load_sop(base, max_per_class=per_class), f"Stanford Online Products from {base}", True
    fm = load_fashion_mnist(root).subset(classes=list(stand_in), per_class=per_class or 300)
    with tempfile.TemporaryDirectory(prefix="sop-standin-") as tmp:   # read into memory, then removed
        data = load_sop(write_sop_layout(fm, tmp).parent, progress=False)
    source = (f"a stand-in in SOP's folder layout built from {len(fm):,} Fashion-MNIST images "
              f"({', '.join(fm.class_names)}), because Stanford Online Products was not found under {base}")
    return data, source, False


def refinement_chain(X, s_l, s_m, settings, n: int, guard: bool = False, seed: int = 0, device=None,
                     cache: dict | None = None) -> dict:
    """``n`` refinements of one split in a row, as Algorithm 1 runs them; returns what each did.

    With ``guard`` a refinement is kept only if it lowers :func:`~hcmgan_lite.tree.split_entropy`
    (the library's ``refine_guard``); otherwise every refinement is kept (the paper).
    Refinement ``t`` is seeded with ``seed * 1000 + t``; pass the same ``cache`` dict to two chains
    to train a refinement once when both start it from the same memberships.
    Returns ``{"history": [s_l after raw split, after refinement 1, ...], "kept": [bool, ...],
    "results": [SplitResult, ...], "seconds": training time}``.
    """
    from .training import refine
    from .split import split_entropy
    cache = {} if cache is None else cache
    s_l, s_m = torch.as_tensor(s_l).cpu().float(), torch.as_tensor(s_m).cpu().float()
    s_k = s_l + s_m
    history, kept, results, seconds = [s_l], [], [], 0.0
    for t in range(1, n + 1):
        if t not in cache or not torch.equal(cache[t][0], s_l):
            torch.manual_seed(seed * 1000 + t)
            t0 = time.perf_counter()
            cache[t] = (s_l, refine(X, s_l.to(X.device), s_m.to(X.device), settings, device,
                                    desc=f"refinement {t}"), time.perf_counter() - t0)
        _, r, sec = cache[t]
        seconds += sec
        new_l, new_m = r.s_l.cpu().float(), r.s_m.cpu().float()
        keep = not guard or split_entropy(new_l, s_k) <= split_entropy(s_l, s_k)
        if keep:
            s_l, s_m = new_l, new_m
        history.append(s_l)
        kept.append(keep)
        results.append(r)
    return {"history": history, "kept": kept, "results": results, "seconds": seconds}


# ---- one split, watched closely (the ablations of the raw-split chapter) ----------------------
def collapse_verdict(history: dict, settings) -> dict:
    """What the collapse check says of a finished training's log, without acting on it.

    ``flagged`` is True when, from where the run watches (``collapse_after`` of the
    training, or epoch ``collapse_epoch``) on, a
    logged spread ratio (the least varied generator's spread over its real
    batch's) fell below ``settings.collapse_spread``: the spread check of
    :meth:`~hcmgan_lite.training.SplitGAN.train`, judged with ``settings``
    whatever the run itself watched for.  (D's loss, the other check, is not
    judged here.)
    """
    steps = history.get("step", [])
    if not steps:
        return {"flagged": False, "threshold": settings.collapse_spread, "min_spread_ratio": None,
                "final_spread_ratio": None, "final_spread_ratio_each": []}
    from .training import watch_start
    start = watch_start(settings, steps[-1])
    watched = [i for i, t in enumerate(steps) if t >= start]
    ratios = history.get("spread_ratio", [])
    low_spread = any(ratios[i] < settings.collapse_spread for i in watched) if ratios else False
    each = history.get("spread_ratio_each") or [[]]
    return {"flagged": bool(low_spread), "threshold": settings.collapse_spread,
            "min_spread_ratio": min(ratios[i] for i in watched) if ratios else None,
            "final_spread_ratio": ratios[-1] if ratios else None,
            "final_spread_ratio_each": list(each[-1]),
            "final_g_spread": history["g_std"][-1] if history.get("g_std") else None,
            "final_real_spread": history["real_std"][-1] if history.get("real_std") else None}


def split_experiment(dataset: str, classes=None, per_class: int | None = None, profile: str = "quick",
                     seed: int = 0, device="cpu", root=None, progress: bool = True, announce=None,
                     save_nets=None, **overrides) -> dict:
    """One split of a dataset's images (a raw split, then ``refinements`` refinements), measured.

    No retries and no collapse action (``collapse_loss`` and ``collapse_spread``
    are switched off for the run), so that every setting shows what it does;
    what the collapse check *would* have said is in ``collapse`` (judged with
    the profile's thresholds).  Returns a JSON-ready dict: the configuration, and
    per stage the two-way ACC (each image to its larger share), the
    majority-side purity, the generators' and the real images' spread, the
    classifier's accuracy and the seconds. ``save_nets``: a file to keep the raw split's trained
    networks in (generators and critic, checksummed; :func:`~hcmgan_lite.networks.load_split_networks`
    reads it).
    """
    from .training import raw_split, refine
    dev = pick_device(device)
    judge = get_settings(profile, dataset, seed=seed, **overrides)
    s = judge.replace(collapse_loss=0.0, collapse_spread=0.0)
    data = load_subset(dataset, root, classes, per_class, seed=0, announce=announce)
    X = data.images.to(dev)
    s_k = torch.ones(len(data), device=dev)
    torch.manual_seed(seed)
    stages, t_all = [], time.perf_counter()
    res = raw_split(X, s_k, s, dev, progress=progress, keep_nets=save_nets is not None)
    if save_nets is not None:   # the trained raw split: its generators and its critic (trunk, D and C heads)
        from .storage import save_checked
        from .networks import NETS_FORMAT
        save_checked(save_nets, {"format": NETS_FORMAT, "mode": "mgan", "settings": s.to_dict(), "dataset": dataset,
                                 "classes": classes, "per_class": per_class, "seed": seed, "steps": res.log.steps,
                                 "image_shape": list(X.shape[1:]), "stored_as": "float16",
                                 **{k: {n: v.half() if v.is_floating_point() else v for n, v in net.items()}
                                    for k, net in res.nets.items()}})   # half the size; fp32 again when loaded
    s_l = res.s_l
    for t in range(s.refinements + 1):
        if t > 0:
            res = refine(X, s_l, s_k - s_l, s, dev, desc=f"refinement {t}", progress=progress)
            s_l = res.s_l
        a, b = s_l.cpu(), (s_k - s_l).cpu()
        h = res.log.history
        stages.append({"stage": "raw" if t == 0 else f"refinement {t}", "steps": res.log.steps,
                       "seconds": round(res.log.seconds, 2),
                       "acc": evaluate(data.labels, (b > a).long())["acc"] if data.labels is not None else None,
                       "purity": majority_side_purity(a, b, data.labels) if data.labels is not None else None,
                       "smaller_side": float(min(a.sum(), b.sum()) / s_k.sum()),
                       "c_acc": h["c_acc"][-1], "d_fake": h["d_fake"][-1],
                       "collapse": collapse_verdict(h, judge),
                       "history": {k: [round(v, 4) for v in h.get(k, [])]
                                   for k in ("step", "d_fake", "c_acc", "g_std", "spread_ratio")}})
    return {"dataset": dataset, "classes": classes, "per_class": per_class, "n_images": len(data),
            "profile": profile, "seed": seed, "overrides": overrides, "settings": s.to_dict(),
            "device": str(dev), "threads": torch.get_num_threads(), "torch": torch.__version__,
            "seconds": round(time.perf_counter() - t_all, 1), "stages": stages}


def two_means(dataset: str, classes=None, per_class: int | None = None, root=None, seed: int = 0) -> dict:
    """k-means with 2 clusters on the pixels of a split's images: its two-way ACC and majority-side purity."""
    from sklearn.cluster import KMeans
    data = load_subset(dataset, root, classes, per_class, seed=0)
    pred = KMeans(2, n_init=10, random_state=seed).fit_predict(data.images.reshape(len(data), -1).cpu().numpy())
    side = torch.as_tensor(pred == 0, dtype=torch.float32)
    return {"acc": evaluate(data.labels, pred)["acc"], "purity": majority_side_purity(side, 1 - side, data.labels)}


def baselines(data: ImageData, n_clusters: int, seed: int = 0, ward_max: int = 20000) -> dict:
    """k-means and agglomerative (Ward) clustering on the raw pixels of the same images."""
    from sklearn.cluster import KMeans
    X = data.images.reshape(len(data), -1).cpu().numpy()
    out = {}
    t = time.perf_counter()
    km = KMeans(n_clusters, n_init=10, random_state=seed).fit_predict(X)
    out["k-means"] = {**evaluate(data.labels, km), "seconds": time.perf_counter() - t}
    out["k-means"]["leaf_purity"] = cut_purity(data.labels, km)
    if len(X) <= ward_max:  # Ward needs O(N^2) memory
        t = time.perf_counter()
        merges = ward_tree(X)   # the full tree: scored whole, and cut at n_clusters
        cut = Hierarchy.from_merges(merges, len(X), n_clusters)
        out["ward"] = {**evaluate(data.labels, cut.leaf_of), "seconds": time.perf_counter() - t,
                       "dendrogram_purity_full": dendrogram_purity(data.labels, Hierarchy.from_merges(merges, len(X))),
                       "dendrogram_purity": dendrogram_purity(data.labels, cut),
                       "leaf_purity": leaf_purity(data.labels, cut)}
    return out


def split_purities(tree: Tree) -> list[dict]:
    """Per split: share of the mass on each class's majority side, after the raw split and at the end."""
    if tree.labels is None:
        return []
    rows = []
    for k in tree.splits:
        node = tree.nodes[k]
        s_k = node.membership
        raw = majority_side_purity(node.history[0], s_k - node.history[0], tree.labels)
        final = majority_side_purity(node.history[-1], s_k - node.history[-1], tree.labels)
        rows.append({"node": k, "children": list(node.children), "mass": round(float(s_k.sum()), 1),
                     "purity_raw": raw, "purity_final": final, "retries": len(node.retries)})
    return rows


def tree_scores(tree: Tree) -> dict:
    """ACC/NMI/ARI/mean per-class ACC of the full tree and of the raw splits alone."""
    if tree.labels is None:
        return {}
    return {"final": evaluate(tree.labels, tree.predict()), "per_cut": {
        n: evaluate(tree.labels, tree.predict(n)) for n in range(2, tree.n_leaves + 1)}}


def report(run_dir, with_baselines: bool = False, root=None, figure: bool = True) -> dict:
    """Scores, per-split purity, time and device of a run; writes report.json, report.md and tree.png."""
    run_dir = checked_run_dir(run_dir)
    if run_dir.name == "tree.pt" and not run_dir.is_dir():   # report RUN/tree.pt: the run dir is its folder
        run_dir = run_dir.parent
    tree = Tree.load(run_dir)
    cfg = read_config(run_dir) if (run_dir / "config.json").exists() else {}
    rep = {"run_dir": str(run_dir), "config": cfg, "n_images": tree.n_images, "n_leaves": tree.n_leaves,
           "complete": tree.pending is None and tree.n_leaves == cfg.get("n_clusters", tree.n_leaves),
           "seconds": round(tree.seconds, 1), "wall_seconds": round(tree.wall, 1), "device": tree.device,
           "seeding": tree.seeding,
           "device_name": tree.env.get("device_name", ""), "host": tree.env.get("host", platform.node()),
           "environments": tree.envs,
           "torch": tree.env.get("torch", torch.__version__), "settings": tree.settings.to_dict(),
           "scores": tree_scores(tree), "splits": split_purities(tree),
           "hierarchy": hierarchy_scores(tree.labels, tree) if tree.labels is not None and tree.splits else {},
           "leaf_sizes": torch.bincount(tree.predict(), minlength=tree.n_leaves).tolist(),   # images per leaf (argmax)
           "retries": sum(len(n.retries) for n in tree.nodes)}
    if tree.labels is not None:   # where each class's mass went: a row per leaf, % of the class's mass
        rep["leaves"] = tree.leaves()
        rep["class_names"] = tree.class_names
        rep["class_mass"] = np.round(class_mass_table(tree.memberships(), tree.labels, tree.class_names), 2).tolist()
    if with_baselines and cfg.get("dataset") and tree.labels is not None:
        data = load_subset(cfg["dataset"], root, cfg.get("classes"), cfg.get("per_class"))
        if len(data) != tree.n_images or (tree.data_digest and data_digest(data.images) != tree.data_digest):
            raise ValueError(f"the {cfg['dataset']} images found now ({len(data)} from {data_source(root)}) are not "
                             f"the {tree.n_images} the tree in {run_dir} was grown on; the baselines would be "
                             "computed on other images. Point HCMGAN_DATA (or --data-root) at the data of the run")
        rep["baselines"] = baselines(data, tree.n_leaves, seed=cfg.get("seed", 0))
        rep["baselines_images"] = f"the tree's own {len(data):,} images (fingerprint {tree.data_digest})"
    (run_dir / "report.json").write_text(json.dumps(rep, indent=2, default=_jsonable))
    (run_dir / "report.md").write_text(report_markdown(rep))
    if figure:
        try:
            from .figures import tree_figure
            fig = tree_figure(tree)
            fig.savefig(run_dir / "tree.png", dpi=110, bbox_inches="tight")
            import matplotlib.pyplot as plt
            plt.close(fig)
        except Exception as exc:  # a report without its figure is still a report
            log.warning("tree figure not written: %s", exc)
    return rep


def _jsonable(x):
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, torch.Tensor):
        return x.tolist()
    return str(x)


def report_markdown(rep: dict) -> str:
    cfg = rep.get("config", {})
    lines = [f"# HC-MGAN Lite run: {cfg.get('dataset', '?')}, profile {cfg.get('profile', '?')}, seed {cfg.get('seed', '?')}",
             "", f"{rep['n_images']} images, {rep['n_leaves']} leaves, {rep['seconds']:.0f} s on {rep['device']}"
             + (f" ({rep['device_name']})" if rep.get("device_name") else "") +
             f" (torch {rep['torch']}); retries: {rep['retries']}", ""]
    envs = rep.get("environments") or []
    if len(envs) > 1:   # a run resumed elsewhere: every machine it was grown on
        lines += ["Grown on, in order: " + "; ".join(
            f"{e.get('device_name', '?')} ({e.get('host', '?')}, torch {e.get('torch', '?')}, "
            f"{e.get('threads', '?')} threads)" for e in envs), ""]
    rows = []
    if rep["scores"]:
        rows.append(("HC-MGAN", rep["scores"]["final"]))
    rows += list(rep.get("baselines", {}).items())
    if rows:
        lines += ["| method | ACC | NMI | ARI | mean per-class ACC |", "|---|---|---|---|---|"]
        lines += [f"| {name} | {r['acc']:.3f} | {r['nmi']:.3f} | {r['ari']:.3f} | {r['mean_per_class_acc']:.3f} |"
                  for name, r in rows]
        lines.append("")
    h = rep.get("hierarchy") or {}
    if h:   # the tree itself: dendrogram and leaf purity (hcmgan_lite.hierarchy), beside Ward's
        k = rep["n_leaves"]
        rows = [(f"HC-MGAN ({k} leaves)", f"{h['dendrogram_purity']:.3f}", f"{h['leaf_purity']:.3f}")]
        w = rep.get("baselines", {}).get("ward", {})
        if "dendrogram_purity" in w:
            rows += [(f"Ward, cut at {k} clusters", f"{w['dendrogram_purity']:.3f}", f"{w['leaf_purity']:.3f}"),
                     ("Ward, full tree (a leaf per image)", f"{w['dendrogram_purity_full']:.3f}", "")]
        lines += ["| tree | dendrogram purity | leaf purity |", "|---|---|---|"]
        lines += [f"| {name} | {dp} | {lp} |" for name, dp, lp in rows]
        if "dendrogram_purity_soft" in h:
            lines.append(f"\nHC-MGAN's soft memberships: dendrogram purity {h['dendrogram_purity_soft']:.3f}, "
                         f"leaf purity {h['leaf_purity_soft']:.3f}.")
        lines.append("")
    if rep["splits"]:
        lines += ["| split node | children | mass | purity after raw split | after refinement | retries |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {r['node']} | {r['children'][0]}, {r['children'][1]} | {r['mass']:.0f} | {r['purity_raw']:.3f}"
                  f" | {r['purity_final']:.3f} | {r['retries']} |" for r in rep["splits"]]
    return "\n".join(lines) + "\n"


# Table 1 of the paper (ACC, NMI): HC-MGAN with and without refinements, and the classical baselines.
PAPER_TABLE1 = {
    "mnist": {"HC-MGAN (paper)": (.943, .905), "HC-MGAN raw splits only (paper)": (.877, .856),
              "k-means (paper)": (.572, .500), "agglomerative (paper)": (.695, .609)},
    "fashion-mnist": {"HC-MGAN (paper)": (.721, .691), "HC-MGAN raw splits only (paper)": (.704, .690),
                      "k-means (paper)": (.474, .512), "agglomerative (paper)": (.500, .564)},
    "sop": {"HC-MGAN (paper; ACC = mean per-class ACC)": (.229, .072),
            "HC-MGAN raw splits only (paper)": (.204, .063)},
}


def comparison_rows(rep: dict, dataset: str) -> list[tuple]:
    """(method, data, ACC, NMI, mean per-class ACC) rows: this run, baselines on the same images, the paper."""
    what = f"{rep['n_images']:,} images"
    rows = []
    if rep["scores"]:
        f = rep["scores"]["final"]
        rows.append((f"HC-MGAN Lite ({rep['config'].get('profile', '?')} profile)", what, f["acc"], f["nmi"],
                     f["mean_per_class_acc"]))
    for name, r in rep.get("baselines", {}).items():
        rows.append((f"{name} on raw pixels", what, r["acc"], r["nmi"], r["mean_per_class_acc"]))
    for name, (acc, nmi) in PAPER_TABLE1.get(dataset, {}).items():
        rows.append((name, "all images", acc, nmi, float("nan")))
    return rows


def comparison_markdown(rows) -> str:
    out = ["| method | data | ACC | NMI | mean per-class ACC |", "|---|---|---|---|---|"]
    for name, what, acc, nmi, mpc in rows:
        out.append(f"| {name} | {what} | {acc:.3f} | {nmi:.3f} | {'' if mpc != mpc else f'{mpc:.3f}'} |")
    return "\n".join(out)

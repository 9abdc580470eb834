"""What refinement does to every split of a grown tree: purity after the raw split and after each refinement.

For each split of a tree grown without refinements (e.g. a quick-profile run of ``scripts/seeds.sh``), this
continues the split exactly as a tree grown with ``refinements=N`` would (the same ``split_node`` from the saved
raw split, the same seeds, the paper's refinement, every refinement kept), and records per split the purity
(share of each class's mass on its majority side), the split entropy, and whether the library's
``refine_guard`` would have kept each refinement. Splits run smallest first; the result file is rewritten after
every split, and a split already in it is not run again, so an interrupted run resumes::

    python benchmarks/refine_splits.py runs/seeds/quick-cpu/fashion-mnist-s0 --refinements 1 \\
        --out book/results/refine-splits/fashion-mnist-s0.json

Only the splits of the tree as grown are refined: their children (below) are the raw tree's, so this measures
what refinement does to each split, not a tree grown with refinements.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hcmgan_lite import runs, tables  # noqa: E402
from hcmgan_lite.metrics import majority_side_purity  # noqa: E402
from hcmgan_lite.settings import pick_device  # noqa: E402
from hcmgan_lite.growth import run_environment
from hcmgan_lite.split import new_split_state, seed_key, split_entropy, split_node  # noqa: E402


def refine_split(tree, node, X, n: int, device) -> dict:
    """``n`` unguarded refinements of one split of ``tree``, continued from its saved raw split."""
    s = tree.settings.replace(refinements=n, refine_guard=False, refine_tol=None)
    st = new_split_state()
    raw = node.history[0]
    st.update(s_l=raw.clone(), t=0, history=[raw.clone()], split_fakes=[node.split_fakes[0]],
              split_logs=[node.split_logs[0]])
    t0 = time.perf_counter()
    key = node.id if tree.seeding == "id" else seed_key(node.path)   # as the growth seeded it
    st = split_node(X, node.membership, s, device, key, f"node {node.path or 'root'}", state=st)
    s_k, labels = node.membership, tree.labels
    stages = []
    for i, s_l in enumerate(st["history"]):
        log = st["split_logs"][i]
        stages.append({"stage": log["stage"], "steps": log["steps"],
                       "purity": majority_side_purity(s_l, s_k - s_l, labels),
                       "entropy": split_entropy(s_l, s_k), "guard_keeps": log.get("accepted", True)
                       if i == 0 else log["entropy_after"] <= log["entropy_before"]})
    return {"path": node.path, "mass": round(node.mass, 1), "stages": stages,
            "retries": len(st["retries"]), "seconds": time.perf_counter() - t0}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", help="a run directory grown by `python -m hcmgan_lite fit`")
    p.add_argument("--refinements", type=int, default=1)
    p.add_argument("--max-splits", type=int, default=None, help="refine at most this many splits (smallest first)")
    p.add_argument("--device", default="auto")
    p.add_argument("--data-root", default=None)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    if a.refinements < 1:
        p.error(f"--refinements must be >= 1, got {a.refinements}")
    tree, data = runs.load_run(a.run_dir, a.data_root)
    if data is None or tree.labels is None:
        p.error(f"{a.run_dir}: its images (with labels) could not be loaded; purity needs the labels")
    if tree.settings.refinements:
        p.error(f"{a.run_dir} was grown with {tree.settings.refinements} refinements per split; give a raw tree")
    device = pick_device(a.device)
    X = data.images.to(device)
    out = Path(a.out)
    done = json.loads(out.read_text()) if out.is_file() else None
    if done is not None and done.get("refinements") != a.refinements:
        p.error(f"{out} holds {done.get('refinements')} refinements per split; use another --out")
    res = done or {"run_dir": str(a.run_dir), "refinements": a.refinements, "n_images": tree.n_images,
                   "settings": tree.settings.to_dict(), "splits": []}
    res.update(device=device.type, **run_environment(device))
    have = {sp["path"] for sp in res["splits"]}
    todo = sorted((tree.nodes[k] for k in tree.splits), key=lambda nd: nd.mass)
    todo = [nd for nd in todo if nd.path not in have][:None if a.max_splits is None else
                                                       max(0, a.max_splits - len(have))]
    out.parent.mkdir(parents=True, exist_ok=True)
    for node in todo:
        sp = refine_split(tree, node, X, a.refinements, device)
        res["splits"].append(sp)
        res["summary"] = tables.refinement_summary(res["splits"])
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(res, indent=2))
        tmp.replace(out)
        st = sp["stages"]
        print(f"split {sp['path'] or 'root'} ({sp['mass']:.0f} images): purity {st[0]['purity']:.3f} -> "
              f"{st[-1]['purity']:.3f} in {sp['seconds']:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

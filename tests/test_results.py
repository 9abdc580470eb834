"""Summaries over several runs (seeds): arithmetic checked by hand, and refusal of mixed data."""
import json
from pathlib import Path

import pytest

from hcmgan_lite import results, runs, tables


def _report(seed, acc, nmi, seconds, n_images=100, baselines=None, dataset="fashion-mnist"):
    s = {"acc": acc, "nmi": nmi, "ari": acc / 2, "mean_per_class_acc": acc}
    r = {"config": {"dataset": dataset, "seed": seed, "classes": None, "per_class": 10}, "n_images": n_images,
         "seconds": seconds, "device": "cpu", "device_name": "x86_64", "retries": 1, "scores": {"final": s},
         "settings": {"epochs": 5, "refinements": 2, "g_width": 16}}
    if baselines:
        r["baselines"] = {k: {"acc": a, "nmi": n, "ari": 0, "mean_per_class_acc": a} for k, (a, n) in baselines.items()}
    return r


def test_seed_summary_mean_std_range(tmp_path):
    reps = [_report(0, 0.5, 0.4, 10, baselines={"k-means": (0.55, 0.5), "ward": (0.45, 0.25)}),
            _report(1, 0.7, 0.2, 20), _report(2, 0.6, 0.3, 30)]
    for i, r in enumerate(reps):  # through files, as the book reads them
        (tmp_path / f"r{i}.json").write_text(json.dumps(r))
    s = results.seed_summary(results.load_reports(sorted(tmp_path.glob("r*.json"))))
    acc = s["methods"]["HC-MGAN"]["acc"]
    assert acc["mean"] == pytest.approx(0.6) and acc["std"] == pytest.approx(0.1)   # sample std of .5 .6 .7
    assert (acc["min"], acc["max"], acc["n"]) == (0.5, 0.7, 3)
    assert s["seconds"]["mean"] == pytest.approx(20) and s["retries"] == 3 and s["seeds"] == [0, 1, 2]
    assert s["methods"]["k-means"]["acc"]["n"] == 1 and s["methods"]["ward"]["nmi"]["mean"] == 0.25
    assert s["smallest_leaf"] == []                      # reports without leaf sizes (older reports)
    reps[1]["leaf_sizes"], reps[2]["leaf_sizes"] = [40, 0, 60], [50, 50]
    assert results.seed_summary(reps)["smallest_leaf"] == [0, 50]
    table = tables.seed_markdown(s)
    assert "| HC-MGAN | 3 | 0.600 ± 0.100 (0.500–0.700) | 0.300 ± 0.100 (0.200–0.400) |" in table
    assert "| k-means | 1 | 0.550 | 0.500 |" in table
    # ACC 0.6 is above both baselines (0.55, 0.45); NMI 0.3 is above Ward (0.25), below k-means (0.5)
    assert results.versus_baselines(s) == "above k-means and ward in ACC on the same images"
    assert results.versus_baselines(s, "nmi") == "above ward but below k-means in NMI on the same images"
    section = tables.seed_section(reps)
    assert table in section and "seeds [0, 1, 2]; training 0.3 min per run on average" in section
    assert section.endswith("3 retrained GANs in all; the smallest leaf under the argmax holds 0 / 50 images "
                            "(one number per seed).")


def test_seed_summary_refuses_mixed_data_and_missing_reports(tmp_path):
    with pytest.raises(ValueError, match="different data"):
        results.seed_summary([_report(0, .5, .4, 1), _report(1, .5, .4, 1, n_images=200)])
    with pytest.raises(ValueError, match="different data"):
        results.seed_summary([_report(0, .5, .4, 1), _report(1, .5, .4, 1, dataset="mnist")])
    with pytest.raises(ValueError, match="at least one"):
        results.seed_summary([])
    with pytest.raises(FileNotFoundError, match="no report at"):
        results.load_reports([tmp_path])


def test_runs_markdown_rows():
    one = _report(0, 0.5, 0.4, 120, baselines={"k-means": (0.55, 0.5)})
    seeds = [_report(0, 0.5, 0.4, 60), _report(1, 0.7, 0.2, 120), _report(2, 0.6, 0.3, 180)]
    table = tables.runs_markdown([("one run", one), ("three seeds", seeds)]).splitlines()
    assert table[2] == "| one run | 100 | 5 epochs, 2 refinements, width 16 | 0.500 | 0.400 | 2.0 min | x86_64 |"
    assert table[3] == "| k-means (same images) | 100 | | 0.550 | 0.500 | | |"
    assert table[4] == ("| three seeds | 100 | 5 epochs, 2 refinements, width 16 | 0.600 ± 0.100 | 0.300 ± 0.100 | "
                        "2.0 min each | x86_64 |")


def test_collapse_verdict_watches_from_collapse_after():
    """A dip below collapse_spread counts only from collapse_after of the training on."""
    from hcmgan_lite import get_settings
    s = get_settings("quick")                                       # collapse_spread 0.1, collapse_after 0.5
    early = {"step": [25, 50, 75, 100], "spread_ratio": [0.05, 0.3, 0.4, 0.5],
             "spread_ratio_each": [[0.05, 0.2], [0.3, 0.4], [0.4, 0.5], [0.5, 0.6]], "g_std": [.1] * 4,
             "real_std": [.3] * 4}
    v = runs.collapse_verdict(early, s)
    assert not v["flagged"] and v["min_spread_ratio"] == 0.3 and v["final_spread_ratio_each"] == [0.5, 0.6]
    late = dict(early, spread_ratio=[0.5, 0.5, 0.09, 0.5])
    v = runs.collapse_verdict(late, s)
    assert v["flagged"] and v["min_spread_ratio"] == 0.09 and v["threshold"] == 0.1


def _split_result(variant, seed, acc, purity, ratio, flagged, refined=None):
    stage = {"acc": acc, "purity": purity, "smaller_side": 0.4,
             "collapse": {"final_spread_ratio": ratio, "final_g_spread": ratio / 2, "flagged": flagged}}
    stages = [stage] + ([dict(stage, acc=refined, purity=refined)] if refined is not None else [])
    return {"variant": variant, "seed": seed, "n_images": 10, "seconds": 60.0 + seed, "stages": stages}


def test_ablation_rows_and_table():
    res = [_split_result("quick profile", s, a, a, 0.5, False) for s, a in enumerate((0.6, 0.7, 0.8))]
    res += [_split_result("latent U[0,1]", s, 0.5, 0.5, 0.02, True) for s in range(2)]
    res += [_split_result("+ 1 refinement", 0, 0.6, 0.6, 0.5, False, refined=0.65)]
    rows = results.ablation_rows(res)
    assert [r["variant"] for r in rows] == ["quick profile", "latent U[0,1]", "+ 1 refinement"]
    q = rows[0]
    assert q["acc_raw"]["mean"] == pytest.approx(0.7) and q["acc_raw"]["std"] == pytest.approx(0.1)
    assert rows[1]["flagged"] == 2 and rows[2]["refinements"] == 1 and rows[2]["acc_final"]["mean"] == 0.65
    table = tables.ablation_markdown(rows, "acc").splitlines()
    assert table[2].startswith("| quick profile | 0.700 ± 0.100 |  | 40% | 0.50 ± 0.00 | 0 of 3 | 61 |")
    assert "| latent U[0,1] | 0.500 ± 0.000 |" in table[3] and "2 of 2" in table[3]
    text = results.ablation_summary({"running-example": rows})
    assert "latent U[0,1]: ACC 0.500 (-0.200)" in text and "ACC 0.600 → 0.650 (+0.050)" in text


# ---- the results table --------------------------------------------------------
def test_result_rows_and_markdown():
    st = {"epochs": 20, "refinements": 0, "g_width": 32, "min_steps": 300, "max_steps": 600, "latent": "symmetric"}
    reps = [_report(0, 0.5, 0.4, 120, baselines={"k-means": (0.55, 0.5)}), _report(1, 0.7, 0.2, 60),
            _report(2, 0.6, 0.3, 180)]
    for r in reps:
        r["settings"] = dict(st)
        r["config"]["profile"] = "quick"
    rows = tables.result_rows("100 images", reps, "`cmd A`", "HC-MGAN Lite, 3 seeds")
    assert [r["method"] for r in rows] == ["HC-MGAN Lite, 3 seeds", "k-means on the pixels"]
    assert rows[0]["acc"]["mean"] == pytest.approx(0.6) and rows[0]["seeds"] == [0, 1, 2]
    assert rows[0]["schedule"] == "20 epochs per GAN (300–600 steps), 0 refinements, width 32"
    assert rows[1]["seeds"] == [0]
    one = tables.result_rows("100 images", reps[0], "`cmd B`")          # same images, same k-means
    old = tables.result_rows("100 images", [dict(reps[1], settings={**st, "latent": "positive"})], "`cmd C`")
    paper = tables.paper_rows("fashion-mnist")
    assert [(r["method"], r["acc"]["mean"]) for r in paper][:2] == [("HC-MGAN (paper)", .721),
                                                                   ("HC-MGAN raw splits only (paper)", .704)]
    table = tables.results_markdown(paper + rows + one + old).splitlines()
    assert "| 70,000 (all) | HC-MGAN (paper) | paper | 0.721 | 0.691 |  | GPU (paper) | (1) |" in table
    sched = "20 epochs per GAN (300–600 steps), 0 refinements, width 32"
    assert "| 100 images | HC-MGAN Lite, 3 seeds | 0, 1, 2 | 0.600 ± 0.100 | 0.300 ± 0.100 | 2.0 min | x86_64 | (3) |" in table
    assert sum("k-means on the pixels" in line for line in table) == 1     # shown once: same images, same result
    assert any(line.startswith("| 100 images | HC-MGAN Lite, quick profile | 0 | 0.500 | 0.400 | 2.0 min")
               and line.endswith("(5) |") for line in table)
    assert any("(grown before the latent fix)" in line and line.endswith("(6) |") for line in table)
    assert table[-6:] == ["1. the paper's Table 3 schedule", "2. the paper's Table 3 schedule, refinements left out",
                          f"3. {sched}; command: `cmd A`",
                          "4. scikit-learn on the raw pixels of the same images, computed by `--baselines`; command: `cmd A`", f"5. {sched}; command: `cmd B`",
                          f"6. {sched}; command: `cmd C`"]
    assert tables._short_device("Intel(R) Xeon(R) Processor, 2 cores") == "Intel Xeon, 2 cores"
    assert tables._short_device("NVIDIA H100 80GB HBM3") == "H100 80GB HBM3"


def test_refinement_chain_guard_and_cache(monkeypatch):
    import torch
    from hcmgan_lite import training
    from hcmgan_lite.split import split_entropy
    calls = []

    class Result:
        def __init__(self, s_l, s_m):
            self.s_l, self.s_m = s_l, s_m

    def fake_refine(X, s_l, s_m, settings, device=None, desc=""):   # refinement 1 blurs, refinement 2 sharpens
        calls.append(desc)
        s_k = s_l + s_m
        new_l = (0.5 * s_k) if desc == "refinement 1" else torch.where(s_l > s_m, s_k, torch.zeros_like(s_k))
        return Result(new_l, s_k - new_l)
    monkeypatch.setattr(training, "refine", fake_refine)
    X = torch.zeros(4, 1, 2, 2)
    s_l = torch.tensor([0.8, 0.7, 0.2, 0.1])
    cache = {}
    paper = runs.refinement_chain(X, s_l, 1 - s_l, None, 2, guard=False, cache=cache)
    assert paper["kept"] == [True, True] and torch.equal(paper["history"][1], torch.full((4,), 0.5))
    guarded = runs.refinement_chain(X, s_l, 1 - s_l, None, 2, guard=True, cache=cache)
    assert guarded["kept"][0] is False                     # the blur raises the split's entropy: refused
    assert torch.equal(guarded["history"][1], s_l)
    assert split_entropy(guarded["history"][2], torch.ones(4)) < split_entropy(s_l, torch.ones(4))
    assert calls == ["refinement 1", "refinement 2", "refinement 2"]   # refinement 1 trained once for both chains


def test_compute_summary_says_where_the_curve_passes_the_level():
    def res(w, steps, v):
        return {"settings": {"g_width": w}, "stages": [{"steps": steps, "acc": v}]}
    res_in = [res(32, 200, 0.5), res(32, 200, 0.7), res(32, 800, 0.75), res(64, 200, 0.4)]
    text = results.compute_summary(res_in, "acc", 0.702, "the split")
    assert text == ("**the split** (acc, mean over seeds): width 32: 0.600 at 200, 0.750 at 800 steps (1-2 seeds a point); "
                    "first above k-means (0.702) at 800 steps; width 64: 0.400 at 200 steps (1 seed a point); "
                    "below k-means (0.702) at every step count measured, up to 200.")


def test_compute_cost_summary_in_minutes_of_one_thread(tmp_path):
    def res(w, steps, v):
        return {"settings": {"g_width": w}, "stages": [{"steps": steps, "acc": v}]}
    path = tmp_path / "cost.json"
    path.write_text(json.dumps({"machine": "test CPU", "seconds_per_step": {"16": 0.06, "32": 0.15, "64": 0.45}}))
    cost, machine = results.load_step_cost(path)
    assert cost == {16: 0.06, 32: 0.15, 64: 0.45} and machine == "test CPU"
    # width 16 passes at 3,200 steps (3.2 min), width 32 at 800 (2.0 min), width 64 never (up to 400 steps, 3 min);
    # width 8 has no measured cost and is left out
    points = [res(16, 1600, 0.6), res(16, 3200, 0.8), res(32, 400, 0.6), res(32, 800, 0.71), res(32, 800, 0.73),
              res(64, 400, 0.6), res(8, 400, 0.9)]
    text = results.compute_cost_summary(points, "acc", 0.702, cost, "the split")
    assert text == ("**the split**, first mean above k-means (0.702), in minutes of one CPU thread per GAN: "
                    "width 16 at 3,200 steps, 3.2 min; width 32 at 800 steps, 2.0 min; "
                    "width 64 not up to 400 steps (3.0 min); soonest: width 32.")
    assert results.compute_cost_summary([res(8, 400, 0.9)], "acc", 0.7, cost, "x") == (
        "**x**: no width of the curve has a measured step cost.")


def test_committed_step_cost_covers_the_curve_widths():
    """The compute curve's committed points all have a measured step cost, and a wider step costs more."""
    res_in = Path(__file__).resolve().parents[1] / "book" / "results" / "compute"
    cost, _ = results.load_step_cost(res_in / "step-seconds.json")
    widths = {r["settings"]["g_width"] for name in ("running-example", "fmnist-root")
              for r in results.load_results(res_in / name)}
    assert widths <= set(cost)
    assert [cost[w] for w in sorted(cost)] == sorted(cost.values())


def test_data_label_names_the_images():
    rep = _report(0, .5, .4, 1, n_images=10000)
    assert results.data_label(rep) == "10,000 (10 per class)"
    rep["config"].update(per_class=None)
    assert results.data_label(rep) == "10,000 (all)"
    rep["config"].update(classes=[3, 5])
    assert results.data_label(rep) == "10,000 (2 classes)"


def test_deep_baseline_rows_mean_and_spread_over_seeds():
    def rep(seed, acc, nmi):
        return {"method": "IDEC", "config": {"dataset": "mnist", "per_class": None, "classes": None, "seed": seed},
                "n_images": 10000, "pixels": "[0, 1]", "scores": {"acc": acc, "nmi": nmi}, "seconds": 60.0 * (seed + 1),
                "params": {"pretrain_epochs": 100, "clustering_epochs": 150, "batch_size": 256, "embedding_size": 10},
                "clustpy": "0.0.3", "device": "cpu", "device_name": "x86_64, 2 cores"}
    assert tables.deep_baseline_rows([], "CMD") == []
    row, = tables.deep_baseline_rows([rep(0, 0.5, 0.4), rep(1, 0.7, 0.6)], "CMD")
    assert row["data"] == "10,000 (all)" and row["seeds"] == [0, 1] and row["seconds"] == 90.0
    assert abs(row["acc"]["mean"] - 0.6) < 1e-12 and abs(row["acc"]["std"] - 0.1414213562) < 1e-9
    assert "100 pre-training and 150 clustering epochs" in row["schedule"]
    table = tables.results_markdown([row])
    assert "| 10,000 (all) | IDEC (deep clustering baseline) | 0, 1 | 0.600 ± 0.141 | 0.500 ± 0.141 | 1.5 min |" in table


@pytest.mark.parametrize("ds,args", [("fashion-mnist", "--per-class 1000"), ("mnist", "")])
def test_committed_rows_say_how_their_reports_were_grown(ds, args):
    """Each committed seed row's command, run with today's profile, gives the settings its reports were grown with."""
    import ast
    import shlex
    from hcmgan_lite import get_settings
    res_in = Path(__file__).resolve().parents[1] / "book" / "results"
    rows = tables.committed_rows(res_in, ds, args)
    assert rows and all(0 <= r["acc"]["mean"] <= 1 and 0 <= r["nmi"]["mean"] <= 1 for r in rows)
    for label, folder, extra, _ in tables.COMMITTED_SEEDS:
        reps = results.load_reports(sorted((res_in / folder).glob(f"{ds}-s*.json")))
        if not reps:
            continue
        row = next(r for r in rows if r["method"] == label or r["method"].startswith(label + " ("))
        assert f"book/results/{folder} {ds}" in row["command"] and row["seeds"] == [r["config"]["seed"] for r in reps]
        words = shlex.split(" ".join(a for a in (args, extra) if a))
        sets = dict(w.split("=", 1) for w in words[words.index("--set") + 1::2]) if "--set" in words else {}
        want = get_settings("quick", ds, **{k: ast.literal_eval(v) for k, v in sets.items()})
        for rep in reps:
            assert rep["config"]["per_class"] == (1000 if args else None)
            for key in ("epochs", "min_steps", "max_steps", "refinements", "g_width", "batch_size", "noise", "lr_c",
                        "warm_start"):
                assert rep["settings"].get(key, getattr(want, key)) == getattr(want, key), (folder, key)


def test_row_verdict_compares_with_the_baselines_of_the_same_images():
    one = lambda a, n: {"mean": a, "std": 0.0, "n": 1}   # noqa: E731
    rows = [{"data": "A", "method": "HC-MGAN Lite, x", "seeds": [0, 1], "acc": one(0.5, 1), "nmi": one(0.4, 1)},
            {"data": "B", "method": "k-means on the pixels", "seeds": [0], "acc": one(0.9, 1), "nmi": one(0.9, 1)},
            {"data": "A", "method": "k-means on the pixels", "seeds": [0], "acc": one(0.3, 1), "nmi": one(0.3, 1)},
            {"data": "A", "method": "k-means on the pixels", "seeds": [0, 1, 2], "acc": one(0.45, 1),
             "nmi": one(0.5, 1)},
            {"data": "A", "method": "ward on the pixels", "seeds": [0], "acc": one(0.55, 1), "nmi": one(0.3, 1)}]
    assert tables.row_verdict(rows, "HC-MGAN Lite, x") == (
        "2 seeds, ACC 0.500 / NMI 0.400 against k-means' 0.450 / 0.500 (mean of seeds 0, 1, 2) on the same images "
        "(above it in ACC, below in NMI) and Ward's 0.550 / 0.300 (below in ACC, above in NMI)")
    assert tables.row_verdict(rows, "HC-MGAN Lite") == "no committed reports"   # a whole label, not a prefix


def test_refinement_markdown_and_summary():
    def sp(path, mass, raw, ref, keeps):
        return {"path": path, "mass": mass, "stages": [{"steps": 100, "purity": raw, "guard_keeps": True},
                                                       {"steps": 100, "purity": ref, "guard_keeps": keeps}]}
    res = {"refinements": 1, "splits": [sp("0", 400.0, 0.8, 0.7, False), sp("", 1000.0, 0.7, 0.9, True)]}
    sm = results.refinement_summary(res["splits"])
    assert sm["n"] == 2 and sm["rose"] == 1 and sm["kept_by_guard"] == 1
    assert abs(sm["mean_change"] - 0.05) < 1e-12 and abs(sm["min_change"] + 0.1) < 1e-12
    text = tables.refinement_markdown(res)
    lines = text.splitlines()
    assert lines[2] == "| root | 1,000 | 100 | 0.700 | 0.900 | +0.200 | yes |"     # largest first
    assert lines[3] == "| 0 | 400 | 100 | 0.800 | 0.700 | -0.100 | no |"
    assert "Purity rose in 1 of 2 splits; the change was +0.050 on average (from -0.100 to +0.200)" in text


def test_paired_rows_compare_the_same_seeds(tmp_path):
    def rep(seed, acc, splits, leaves):
        r = _report(seed, acc, acc - 0.1, 600.0)
        r["splits"] = [{"node": n, "mass": m, "purity_final": p} for n, m, p in splits]
        r["leaf_sizes"] = leaves
        return r
    for folder, seeds in (("a", (0, 1, 2, 3)), ("b", (0, 1)), ("c", (1, 4))):
        (tmp_path / folder).mkdir()
        for seed in seeds:
            acc = 0.5 + 0.1 * seed + {"a": 0, "b": 0.05, "c": -0.05}[folder]
            splits = [(0, 100, 0.9), (1, 60, 0.8 if folder == "a" else 0.7), (2, 40, 0.6)]
            (tmp_path / folder / f"fashion-mnist-s{seed}.json").write_text(json.dumps(rep(seed, acc, splits, [3, 7])))
    rows = results.paired_rows(tmp_path, "fashion-mnist", {"A": "a", "B": "b"})
    assert [(r["label"], r["seed"]) for r in rows] == [("A", 0), ("A", 1), ("B", 0), ("B", 1)]   # seed 2: only in a
    three = results.paired_rows(tmp_path, "fashion-mnist", {"A": "a", "B": "b", "C": "c"})
    assert [(r["label"], r["seed"]) for r in three] == [("A", 0), ("A", 1), ("B", 0), ("B", 1), ("C", 1)]
    assert results.paired_summary(three, "A", "C").startswith("C, seeds 1: ACC 0.550 against 0.600 (higher in 0 of 1")
    a0, b1 = rows[0], rows[3]
    assert a0["root_purity"] == 0.9 and abs(a0["below_purity"] - (60 * 0.8 + 40 * 0.6) / 100) < 1e-12
    assert abs(b1["below_purity"] - 0.66) < 1e-12 and b1["smallest_leaf"] == 3 and b1["minutes"] == 10
    table = tables.paired_markdown(rows)
    assert "| A | 0 | 0.500 | 0.400 | 0.900 | 0.720 | 3 | 10.0 |" in table
    assert "| **B, mean** | 2 seeds | **0.600** | **0.500** | **0.900** | **0.660** | | |" in table
    assert results.paired_summary(rows, "A", "B") == (
        "B, seeds 0, 1: ACC 0.600 against 0.550 (higher in 2 of 2 seeds); NMI 0.500 against 0.450 "
        "(higher in 2 of 2 seeds); the purity of the splits below the root 0.660 against 0.720 (higher in 0 of 2 seeds)")


@pytest.mark.parametrize("run", tables.FEW_CLASS_SEEDS, ids=lambda r: r.folder)
def test_few_class_rows_say_how_their_reports_were_grown(run):
    """The few-class trees are committed, and each one's command picks the images, leaves and settings it had."""
    from hcmgan_lite import get_settings
    res_in = Path(__file__).resolve().parents[1] / "book" / "results"
    reps = results.load_reports(sorted((res_in / run.folder).glob(f"{run.dataset}-s*.json")))
    assert len(reps) >= 3, "the few-class rows need three seeds"
    rows = tables.few_class_rows(res_in, run)
    assert [r["method"] for r in rows] == [run.label, "k-means on the pixels", "ward on the pixels"]
    assert rows[0]["seeds"] == [r["config"]["seed"] for r in reps]
    assert f'book/results/{run.folder} {run.dataset} "{run.args}"' in rows[0]["command"]
    assert run.args == f"--per-class {run.per_class} --classes {','.join(run.classes)} --clusters {len(run.classes)}"
    want = get_settings("quick", run.dataset)
    for rep in reps:
        assert rep["config"]["dataset"] == run.dataset and rep["config"]["classes"] == list(run.classes)
        assert rep["config"]["per_class"] == run.per_class
        assert rep["n_leaves"] == rep["config"]["n_clusters"] == len(run.classes)
        assert rep["n_images"] == len(run.classes) * run.per_class and rep["complete"]
        for key in ("epochs", "min_steps", "max_steps", "refinements", "g_width", "batch_size", "noise", "lr_c"):
            assert rep["settings"][key] == getattr(want, key), key


def test_few_class_splits_per_seed_and_two_means():
    """The four-class trees split by split: one row per committed seed, their mean root purity, and k-means with
    two clusters on the same 4,000 images (the purity of any 2-way split of 4 balanced classes is at least 0.5)."""
    res_in = Path(__file__).resolve().parents[1] / "book" / "results"
    run = tables.FEW_CLASS_SEEDS[0]
    sp = tables.few_class_splits(res_in, run)
    reps = results.load_reports(sorted((res_in / run.folder).glob(f"{run.dataset}-s*.json")))
    assert [r["seed"] for r in sp["rows"]] == [r["config"]["seed"] for r in reps]
    roots = [next(s["purity_final"] for s in r["splits"] if s["node"] == 0) for r in reps]
    assert sp["root"] == pytest.approx(sum(roots) / len(roots))
    assert 0.5 <= sp["two_means"]["purity"] <= 1 and 0 <= sp["two_means"]["acc"] <= 1

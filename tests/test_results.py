"""The results layer: loading, flattening, summarising over seeds (arithmetic checked by hand, mixed data refused),
tables and comparisons; and the book's tables of committed runs."""
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


def _write(folder, name, record):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(record))
    return folder / name


def test_load_reads_files_run_folders_and_folders_of_results(tmp_path):
    f = _write(tmp_path / "seeds", "fashion-mnist-s0.json", _report(0, .5, .4, 1))
    _write(tmp_path / "seeds", "fashion-mnist-s1.json", _report(1, .6, .4, 1))
    _write(tmp_path / "seeds", "mnist-s0.json", _report(0, .7, .4, 1, dataset="mnist"))
    _write(tmp_path / "run", "report.json", _report(2, .8, .4, 1))
    (tmp_path / "run" / "other.json").write_text("{}")                 # a run folder gives its report only
    assert [r["config"]["seed"] for r in results.load(tmp_path / "seeds", "fashion-mnist-s*.json")] == [0, 1]
    assert len(results.load(tmp_path / "seeds")) == 3 and results.load(tmp_path / "seeds", "x*.json") == []
    run, = results.load(tmp_path / "run")
    assert run["scores"]["final"]["acc"] == .8 and run["_file"] == str(tmp_path / "run" / "report.json")
    assert [r["config"]["seed"] for r in results.load([f, tmp_path / "run"])] == [0, 2]     # in the order given
    # first=True: the first place that has any records; places that are missing are skipped
    got = results.load([tmp_path / "missing", tmp_path / "seeds", tmp_path / "run"], "mnist-s*.json", first=True)
    assert [r["config"]["dataset"] for r in got] == ["mnist"]
    with pytest.raises(FileNotFoundError, match="no report or results at"):
        results.load(tmp_path / "missing")
    (tmp_path / "unreported").mkdir()
    (tmp_path / "unreported" / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="no report at .*hcmgan_lite report"):
        results.load(tmp_path / "unreported")


def test_flatten_and_summarise_over_seeds():
    reps = [_report(0, 0.5, 0.4, 10, baselines={"k-means": (0.55, 0.5), "ward": (0.45, 0.25)}),
            _report(1, 0.7, 0.2, 20), _report(2, 0.6, 0.3, 30)]
    rows = results.flatten(reps, "methods", label="x")
    assert [(r["method"], r["seed"]) for r in rows] == [("HC-MGAN", 0), ("k-means", 0), ("ward", 0), ("HC-MGAN", 1),
                                                         ("HC-MGAN", 2)]
    assert all(r["label"] == "x" for r in rows)
    by = {s["method"]: s for s in results.summarise(rows, by="method")}
    acc = by["HC-MGAN"]["acc"]
    assert acc["mean"] == pytest.approx(0.6) and acc["std"] == pytest.approx(0.1)   # sample std of .5 .6 .7
    assert (acc["min"], acc["max"], acc["n"]) == (0.5, 0.7, 3) and by["HC-MGAN"]["seeds"] == [0, 1, 2]
    assert by["HC-MGAN"]["seconds"]["mean"] == pytest.approx(20) and by["HC-MGAN"]["device"] == "x86_64"
    assert by["k-means"]["acc"]["n"] == 1 and by["ward"]["nmi"]["mean"] == 0.25 and by["ward"]["label"] == "x"
    tree, = results.summarise(results.flatten(reps, "tree"))
    assert tree["retries"]["sum"] == 3 and "smallest_leaf" not in tree    # reports without leaf sizes (older ones)
    reps[1]["leaf_sizes"], reps[2]["leaf_sizes"] = [40, 0, 60], [50, 50]
    assert results.summarise(results.flatten(reps, "tree"))[0]["smallest_leaf"]["values"] == [0, 50]
    with pytest.raises(ValueError, match="unknown view"):
        results.flatten(reps, "trees")


def test_summarise_refuses_rows_of_different_images():
    for other in (_report(1, .5, .4, 1, n_images=200), _report(1, .5, .4, 1, dataset="mnist")):
        with pytest.raises(ValueError, match="different data"):
            results.summarise(results.flatten([_report(0, .5, .4, 1), other], "tree"))
    assert len(results.summarise(results.flatten([_report(0, .5, .4, 1), _report(1, .5, .4, 1, dataset="mnist")],
                                                 "tree", label="same"), by="seed")) == 2   # one group each


def test_seed_section_table_and_line():
    reps = [_report(0, 0.5, 0.4, 10, baselines={"k-means": (0.55, 0.5), "ward": (0.45, 0.25)}),
            _report(1, 0.7, 0.2, 20), _report(2, 0.6, 0.3, 30)]
    reps[1]["leaf_sizes"], reps[2]["leaf_sizes"] = [40, 0, 60], [50, 50]
    section = tables.seed_section(reps)
    assert "| HC-MGAN | 3 | 0.600 ± 0.100 (0.500–0.700) | 0.300 ± 0.100 (0.200–0.400) |" in section
    assert "| k-means | 1 | 0.550 | 0.500 |" in section
    assert "seeds [0, 1, 2]; training 0.3 min per run on average (x86_64)" in section
    assert section.endswith("3 retrained GANs in all; the smallest leaf under the argmax holds 0 / 50 images "
                            "(one number per seed).")
    with pytest.raises(ValueError, match="different data"):
        tables.seed_section([_report(0, .5, .4, 1), _report(1, .5, .4, 1, n_images=200)])


def test_table_columns_formats_and_group_means():
    rows = [{"label": "A", "seed": 0, "acc": 0.5, "size": 3, "name": "p", "_view": "x"},
            {"label": "A", "seed": 1, "acc": 0.7, "size": 5, "name": "q", "_view": "x"},
            {"label": "B", "seed": 0, "acc": 0.25, "size": 4, "name": "r", "_view": "x"}]
    md = results.table(rows, {"run": "label", "seed": "seed", "ACC": "acc", "images": "size:,.1f",
                              "name": lambda r: r["name"].upper()}, means_by="label").splitlines()
    assert md[:2] == ["| run | seed | ACC | images | name |", "|---|---|---|---|---|"]
    assert md[2] == "| A | 0 | 0.500 | 3.0 | P |"
    assert md[4] == "| **A, mean** | 2 seeds | **0.600** | **4.0** | P, Q |"      # ints as ints, formats kept
    assert md[5] == "| B | 0 | 0.250 | 4.0 | R |" and len(md) == 6          # one row of B: no mean row
    summ = results.summarise(rows, by="label")
    assert results.table(summ, {"run": "label", "ACC": "acc"}).splitlines()[2] == "| A | 0.600 ± 0.141 |"
    assert results.table([]) == "(no rows)"


def test_compare_on_the_seeds_both_groups_hold(tmp_path):
    def rep(seed, acc, splits, leaves):
        r = _report(seed, acc, acc - 0.1, 600.0)
        r["splits"] = [{"node": n, "mass": m, "purity_final": p} for n, m, p in splits]
        r["leaf_sizes"] = leaves
        return r
    for folder, seeds in (("a", (0, 1, 2, 3)), ("b", (0, 1)), ("c", (1, 4))):
        for seed in seeds:
            acc = 0.5 + 0.1 * seed + {"a": 0, "b": 0.05, "c": -0.05}[folder]
            splits = [(0, 100, 0.9), (1, 60, 0.8 if folder == "a" else 0.7), (2, 40, 0.6)]
            _write(tmp_path / folder, f"fashion-mnist-s{seed}.json", rep(seed, acc, splits, [3, 7]))
    rows = [row for label, folder in (("A", "a"), ("B", "b"), ("C", "c"))
            for row in results.flatten(results.load(tmp_path / folder), "tree", label=label)]
    a0, b1 = rows[0], rows[5]
    assert a0["root_purity"] == 0.9 and abs(a0["below_purity"] - (60 * 0.8 + 40 * 0.6) / 100) < 1e-12
    assert abs(b1["below_purity"] - 0.66) < 1e-12 and b1["smallest_leaf"] == 3 and b1["minutes"] == 10
    fields = {"acc": "ACC", "nmi": "NMI", "below_purity": "the purity of the splits below the root"}
    said = results.compare(rows, "A", fields=fields)
    assert said[0] == ("B against A, seeds 0, 1: ACC 0.600 against 0.550 (higher in 2 of 2 seeds); NMI 0.500 against "
                       "0.450 (higher in 2 of 2 seeds); the purity of the splits below the root 0.660 against 0.720 "
                       "(higher in 0 of 2 seeds)")
    assert said[1].startswith("C against A, seed 1: ACC 0.550 against 0.600 (higher in 0 of 1 seed);")  # seed 4: not in A
    assert results.compare(rows, "B", others=["C"], fields={"acc": "ACC"}) == [
        "C against B, seed 1: ACC 0.550 against 0.650 (higher in 0 of 1 seed)"]
    assert results.compare([r for r in rows if r["seed"] != 1], "B", others=["C"]) == ["no seed holds both 'B' and 'C'"]
    with pytest.raises(ValueError, match="no rows with label='D'"):
        results.compare(rows, "D")
    table = results.table(rows[:6], means_by="label")
    assert "| A | 0 | 0.500 | 0.400 | 0.900 | 0.720 | 3 | 10.0 |" in table
    assert "| **B, mean** | 2 seeds | **0.600** | **0.500** | **0.900** | **0.660** | **3** | **10.0** |" in table


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
    stage = {"steps": 100, "acc": acc, "purity": purity, "smaller_side": 0.4,
             "collapse": {"final_spread_ratio": ratio, "final_g_spread": ratio / 2, "flagged": flagged}}
    stages = [stage] + ([dict(stage, acc=refined, purity=refined)] if refined is not None else [])
    return {"variant": variant, "seed": seed, "n_images": 10, "seconds": 60.0 + seed, "stages": stages,
            "settings": {"g_width": 32}, "device": "cpu"}


def test_ablation_table_and_comparison():
    res = [_split_result("quick profile", s, a, a, 0.5, False) for s, a in enumerate((0.6, 0.7, 0.8))]
    res += [_split_result("latent U[0,1]", s, 0.5, 0.5, 0.02, True) for s in range(2)]
    res += [_split_result("+ 1 refinement", 0, 0.6, 0.6, 0.5, False, refined=0.65)]
    flat = results.flatten(res, "split")
    rows = results.summarise(flat, by="variant")
    assert [r["variant"] for r in rows] == ["quick profile", "latent U[0,1]", "+ 1 refinement"]
    q = rows[0]
    assert q["acc_raw"]["mean"] == pytest.approx(0.7) and q["acc_raw"]["std"] == pytest.approx(0.1)
    assert rows[1]["flagged"]["sum"] == 2 and rows[2]["refinements"]["max"] == 1
    assert rows[2]["acc_final"]["mean"] == 0.65
    table = tables.ablation_markdown(rows, "acc").splitlines()
    assert table[2].startswith("| quick profile | 0.700 ± 0.100 |  | 40% | 0.50 ± 0.00 | 0 of 3 | 61 |")
    assert "| latent U[0,1] | 0.500 ± 0.000 |" in table[3] and "2 of 2" in table[3]
    assert "| + 1 refinement | 0.600 | 0.650 |" in table[4]
    said = results.compare(flat, "quick profile", by="variant", fields={"acc_raw": "ACC", "acc_final": "refined"})
    assert said[0] == "latent U[0,1] against quick profile, seeds 0, 1: ACC 0.500 against 0.650 (higher in 0 of 2 " \
        "seeds); refined 0.500 against 0.650 (higher in 0 of 2 seeds)"


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
    assert old == []                      # a run of Table 2's collapsing latent is in no results table
    assert table[-5:] == ["1. the paper's Table 3 schedule", "2. the paper's Table 3 schedule, refinements left out",
                          f"3. {sched}; command: `cmd A`",
                          "4. scikit-learn on the raw pixels of the same images, computed by `--baselines`; command: `cmd A`", f"5. {sched}; command: `cmd B`"]
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


def test_curve_summary_says_where_the_curve_passes_the_level():
    def res(w, steps, v):
        return {"settings": {"g_width": w}, "stages": [{"steps": steps, "acc": v}]}
    res_in = [res(32, 200, 0.5), res(32, 200, 0.7), res(32, 800, 0.75), res(64, 200, 0.4)]
    text = results.curve_summary(res_in, "acc", 0.702, "the split")
    assert text == ("**the split** (acc, mean over seeds): width 32: 0.600 at 200, 0.750 at 800 steps (1-2 seeds a point); "
                    "first above k-means (0.702) at 800 steps; width 64: 0.400 at 200 steps (1 seed a point); "
                    "below k-means (0.702) at every step count measured, up to 200.")


def test_curve_summary_in_minutes_of_one_thread():
    def res(w, steps, v):
        return {"settings": {"g_width": w}, "stages": [{"steps": steps, "acc": v}]}
    cost = {16: 0.06, 32: 0.15, 64: 0.45}
    # width 16 passes at 3,200 steps (3.2 min), width 32 at 800 (2.0 min), width 64 never (up to 400 steps, 3 min);
    # width 8 has no measured cost and is left out
    points = [res(16, 1600, 0.6), res(16, 3200, 0.8), res(32, 400, 0.6), res(32, 800, 0.71), res(32, 800, 0.73),
              res(64, 400, 0.6), res(8, 400, 0.9)]
    text = results.curve_summary(points, "acc", 0.702, "the split", cost=cost)
    assert text == ("**the split**, first mean above k-means (0.702), in minutes of one CPU thread per GAN: "
                    "width 16 at 3,200 steps, 3.2 min; width 32 at 800 steps, 2.0 min; "
                    "width 64 not up to 400 steps (3.0 min); soonest: width 32.")
    assert results.curve_summary([res(8, 400, 0.9)], "acc", 0.7, "x", cost=cost) == (
        "**x**: no width of the curve has a measured step cost.")


def test_committed_step_cost_covers_the_curve_widths():
    """The compute curve's committed points all have a measured step cost, and a wider step costs more."""
    res_in = Path(__file__).resolve().parents[1] / "book" / "results" / "compute"
    cost = {int(w): s for w, s in results.load(res_in / "step-seconds.json")[0]["seconds_per_step"].items()}
    widths = {r["g_width"] for name in ("running-example", "fmnist-root")
              for r in results.flatten(results.load(res_in / name), "split")}
    assert widths <= set(cost)
    assert [cost[w] for w in sorted(cost)] == sorted(cost.values())


def test_steps_per_gan_in_words():
    from hcmgan_lite import get_settings
    from hcmgan_lite.settings import steps_per_gan
    assert steps_per_gan({"epochs": 20, "min_steps": 6400, "max_steps": 6400}) == "6,400 steps per GAN"
    assert steps_per_gan({"epochs": 20, "min_steps": 300, "max_steps": 1600}) == "20 epochs per GAN (300-1,600 steps)"
    assert steps_per_gan(get_settings("paper", "mnist")) == "100 epochs per GAN"


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
    rows = tables.results_rows(ds, res_in)
    assert rows[0]["paper"] and rows[0]["method"] == "HC-MGAN (paper)" and tables.DATA_ARGS[ds] == args
    assert all(0 <= r["acc"]["mean"] <= 1 and 0 <= r["nmi"]["mean"] <= 1 for r in rows)
    for label, folder, extra, _ in tables.COMMITTED_SEEDS:
        reps = results.load(res_in / folder, f"{ds}-s*.json") if (res_in / folder).is_dir() else []
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


def test_verdicts_compare_each_run_with_the_baselines_of_the_same_images():
    one = lambda a, n: {"mean": a, "std": 0.0, "n": 1}   # noqa: E731
    rows = [{"data": "A", "method": "HC-MGAN (paper)", "seeds": None, "acc": one(.7, 1), "nmi": one(.7, 1), "paper": True},
            {"data": "A", "method": "HC-MGAN Lite, x (an extension)", "seeds": [0, 1], "acc": one(0.5, 1),
             "nmi": one(0.4, 1), "paper": False},
            {"data": "B", "method": "k-means on the pixels", "seeds": [0], "acc": one(0.9, 1), "nmi": one(0.9, 1),
             "paper": False},
            {"data": "A", "method": "k-means on the pixels", "seeds": [0], "acc": one(0.3, 1), "nmi": one(0.3, 1),
             "paper": False},
            {"data": "A", "method": "k-means on the pixels", "seeds": [0, 1, 2], "acc": one(0.45, 1),
             "nmi": one(0.5, 1), "paper": False},
            {"data": "A", "method": "ward on the pixels", "seeds": [0], "acc": one(0.55, 1), "nmi": one(0.3, 1),
             "paper": False},
            {"data": "B", "method": "IDEC (deep clustering baseline)", "seeds": [0], "acc": one(0.6, 1),
             "nmi": one(0.6, 1), "paper": False}]
    assert tables.verdicts(rows) == [
        "x (an extension): 2 seeds, ACC 0.500 / NMI 0.400 against k-means' 0.450 / 0.500 (mean of seeds 0, 1, 2) on "
        "the same images (above it in ACC, below in NMI) and Ward's 0.550 / 0.300 (below in ACC, above in NMI)",
        "IDEC: 1 seed, ACC 0.600 / NMI 0.600 against k-means' 0.900 / 0.900 on the same images (below it in ACC, "
        "below in NMI)"]


def test_refinement_markdown_and_summary():
    def sp(path, mass, raw, ref, keeps):
        return {"path": path, "mass": mass, "stages": [{"steps": 100, "purity": raw, "guard_keeps": True},
                                                       {"steps": 100, "purity": ref, "guard_keeps": keeps}]}
    res = {"refinements": 1, "splits": [sp("0", 400.0, 0.8, 0.7, False), sp("", 1000.0, 0.7, 0.9, True)]}
    sm = tables.refinement_summary(res["splits"])
    assert sm["n"] == 2 and sm["rose"] == 1 and sm["kept_by_guard"] == 1
    assert abs(sm["mean_change"] - 0.05) < 1e-12 and abs(sm["min_change"] + 0.1) < 1e-12
    text = tables.refinement_markdown(res)
    lines = text.splitlines()
    assert lines[2] == "| root | 1,000 | 100 | 0.700 | 0.900 | +0.200 | yes |"     # largest first
    assert lines[3] == "| 0 | 400 | 100 | 0.800 | 0.700 | -0.100 | no |"
    assert "Purity rose in 1 of 2 splits; the change was +0.050 on average (from -0.100 to +0.200)" in text


@pytest.mark.parametrize("run", tables.FEW_CLASS_SEEDS, ids=lambda r: r.folder)
def test_few_class_rows_say_how_their_reports_were_grown(run):
    """The few-class trees are committed, and each one's command picks the images, leaves and settings it had."""
    from hcmgan_lite import get_settings
    res_in = Path(__file__).resolve().parents[1] / "book" / "results"
    reps = results.load(res_in / run.folder, f"{run.dataset}-s*.json")
    assert len(reps) >= 3, "the few-class rows need three seeds"
    rows = tables.results_rows(run.name, res_in)
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


def test_results_rows_refuse_what_is_not_catalogued():
    with pytest.raises(ValueError, match="no committed results for 'cifar'.*fashion-mnist, mnist, four classes"):
        tables.results_rows("cifar")

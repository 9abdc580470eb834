# %% [markdown]
# # What more training buys
#
# The {doc}`03_raw_split` chapter trained one raw split of the threes and
# fives of MNIST live, at a size that builds on a CPU in a minute. This
# chapter gathers what was measured with more compute: each choice where the
# paper's text and the authors' code differ, one at a time ({doc}`paper_vs_code`);
# the same split at more and more steps per GAN and at three network widths;
# and the split at the paper's width on a GPU. Nothing here trains while the
# page is built: every number comes from committed results in `book/results/`,
# made with the commands named in each section.

# %%
from pathlib import Path
import matplotlib.pyplot as plt
from IPython.display import Markdown
import hcmgan_lite as hc
from hcmgan_lite import figures

SEED = 0
data = hc.load_mnist().subset(classes=["3", "5"])          # the running example: every 3 and 5
kmeans = hc.runs.baselines(data, 2, seed=SEED)["k-means"]   # the bar: k-means on the same pixels
print(data, f"- k-means with two clusters: ACC {kmeans['acc']:.3f}")

# %% [markdown]
# ## Each choice, one at a time
#
# The table below was made with the command line, not in this build:
# `bash scripts/ablation.sh` runs `hcmgan split ...` for every
# variant and seed (one thread per run, two runs at a time, on two CPU cores)
# and keeps each result as JSON in `book/results/ablation/`. Every run is the
# quick profile with one setting changed (mean ± standard deviation over the
# seeds named above each table), except that the Fashion-MNIST root split ran
# with a cap of 600 steps per GAN (`--set max_steps=600`; the threes and fives
# get 592 steps under the quick profile's cap of 1,600 as well).
# The rows "classifier rate x10" are not in the paper: an extension for short
# schedules that trains the classifier with ten times the paper's learning
# rate (`lr_c=2e-4` instead of 2e-5), so that it learns in a few hundred steps
# which generator drew an image. The row "one z for all generators" feeds both
# generators of a step the same latent codes, as the authors' code (and the
# `paper` profile: `shared_z=True`) does; the quick profile draws one set per
# generator.
# "Spread ÷ real" is the final ratio of the least varied generator's spread to
# the real images'. No run was retried:
# the collapse check was only *read* ("fires": it would have thrown the
# training away). "Smaller side" is the share of the mass on the split's
# smaller side (the data are 54% threes). The seconds are wall time with one
# thread per run; the first rows ran while other jobs also shared the two
# cores, so they are upper bounds, not a comparison of the variants' speed.

# %%
ABLATION = Path("results/ablation")
runs = {name: hc.results.load(ABLATION / name) for name in ("running-example", "fmnist-root")}
# one row per variant and seed, then mean ± std per variant
flat = {name: hc.results.flatten(r, "split") for name, r in runs.items()}
rows = {name: hc.results.summarise(f, by="variant") for name, f in flat.items()}
seeds = {name: sorted({s for r in rs for s in r["seeds"]}) for name, rs in rows.items()}
Markdown(f"**Threes vs fives** (1,895 images of MNIST-10k, seeds {seeds['running-example']}; ACC of the split, "
         f"k-means: {kmeans['acc']:.3f})\n\n" + hc.tables.ablation_markdown(rows["running-example"], "acc"))

# %%
root_steps = sorted({r["stages"][0]["steps"] for r in runs["fmnist-root"]})
Markdown(f"**The root split of Fashion-MNIST** (10,000 images, 1,000 per class, seeds {seeds['fmnist-root']}, "
         f"{' / '.join(map(str, root_steps))} steps per GAN; purity: the share of each class's mass on its "
         "majority side)\n\n"
         + hc.tables.ablation_markdown(rows["fmnist-root"], "purity"))

# %% [markdown]
# Each variant against the quick profile, seed by seed (raw splits; the
# refined variants by the ACC after their refinement):

# %%
lines = []
for what, name, m in (("Threes vs fives", "running-example", "acc"), ("Fashion-MNIST root", "fmnist-root", "purity")):
    raw_rows = [r for r in flat[name] if not r["refinements"]]     # raw splits only
    said = hc.results.compare(raw_rows, "quick profile", by="variant",
                              fields={f"{m}_raw": m.replace("acc", "ACC"), "spread_ratio": "spread ratio"})
    best = max((r for r in rows[name] if not r["refinements"]["max"]), key=lambda r: r[f"{m}_raw"]["mean"])
    lines += [f"* {what}, {s}." for s in said] + [
        f"* {what}: the highest mean {m.replace('acc', 'ACC')} came from *{best['variant']}*, whose collapse check "
        f"fired in {best['flagged']['sum']:.0f} of {best['n']} runs."]
refined = [r for r in flat["running-example"] if r["refinements"] or r["variant"] == "quick profile"]
lines += [f"* Refined threes vs fives, {s}." for s in hc.results.compare(refined, "quick profile", by="variant",
                                                                         fields={"acc_final": "ACC"})]
Markdown("\n".join(lines))

# %% [markdown]
# ## bf16 on the CPU
#
# The row "bf16 autocast" trains every step in bf16 (`amp=True`), which this
# CPU computes natively (AVX512-BF16); the losses, the weights, the
# re-estimation and the memberships stay fp32. No profile turns it on. The
# speed of one step in each precision, measured with
# `python benchmarks/bench.py --precision` on two cores (GFLOP per step counted
# by `torch.utils.flop_counter`), and what the ablation above says of its
# quality:

# %%
prec = hc.results.load(Path("../benchmarks/results/precision-cpu-2cores.json"))[0]
fp32 = {(r["kind"], r["width"]): r["ms_per_step"] for r in prec["rows"] if r["mode"] == "fp32"}
table = ["| step | width | precision | ms per step | speed-up | GFLOP/s |", "|---|---|---|---|---|---|"]
table += [f"| {'raw split' if r['kind'] == 'mgan' else 'refinement'} | {r['width']} | {r['mode']} | "
          f"{r['ms_per_step']:.0f} | {fp32[(r['kind'], r['width'])] / r['ms_per_step']:.2f}x | {r['gflop_s']:.0f} |"
          for r in prec["rows"]]
bf = {name: next((r for r in rows[name] if r["variant"].startswith("bf16")), None) for name in rows}
q = {name: next(r for r in rows[name] if r["variant"] == "quick profile") for name in rows}
said = []
for what, name, m in (("threes vs fives", "running-example", "acc"), ("Fashion-MNIST root", "fmnist-root", "purity")):
    if bf[name]:
        b, f = bf[name][f"{m}_raw"], q[name][f"{m}_raw"]
        near = abs(b["mean"] - f["mean"]) <= 2 * max(f["std"], 1e-9)
        said.append(f"{what}: {m.replace('acc', 'ACC')} {b['mean']:.3f} under bf16 against {f['mean']:.3f} in fp32 "
                    f"({bf[name]['n']} and {q[name]['n']} seeds; the fp32 seeds' standard deviation {f['std']:.3f}), "
                    + ("within" if near else "outside") + " two standard deviations of fp32")
Markdown(f"On {prec['device']} (torch {prec['torch']}, {prec['threads']} threads):\n\n" + "\n".join(table)
         + "\n\n" + ("Quality: " + "; ".join(said) + "." if said else ""))

# %% [markdown]
# `torch.compile` of the networks (`compile=True`, off in every profile) was
# measured the same way with `python benchmarks/precision.py --compile
# --quick-only` (one thread, compile time counted apart):

# %%
comp = hc.results.load(Path("../benchmarks/results/precision-cpu-2cores-compile.json"))[0]
eager = {(r["kind"], r["mode"]): r["ms_per_step"] for r in comp["rows"]}
said = [f"{'raw split' if r['kind'] == 'mgan' else 'refinement'}, {r['mode']}: {r['ms_per_step']:.0f} ms "
        f"against {eager[(r['kind'], r['mode'].split(' + ')[0])]:.0f} ms eager "
        f"({eager[(r['kind'], r['mode'].split(' + ')[0])] / r['ms_per_step']:.2f}x, after {r['compile_seconds']:.0f} s "
        "of compiling)" for r in comp["rows"] if r["compile_seconds"] is not None]
faster = [r for r in comp["rows"] if r["compile_seconds"] is not None
          and r["ms_per_step"] < eager[(r["kind"], r["mode"].split(" + ")[0])]]
Markdown(f"On {comp['device']}, {comp['threads']} thread{'s' * (comp['threads'] != 1)}: " + "; ".join(said) + ". "
         + ("Compiling is slower here than the eager step, so no profile uses it." if not faster else
            f"Compiling is faster in {len(faster)} of {len(said)} cases."))

# %% [markdown]
# ## What does more training buy?
#
# The quick profile trains each GAN for 300 to 1,600 steps; the paper's
# schedule is thousands. The curves below are the same two splits at more and
# more steps per GAN, at three widths: the quick profile's (generator width 32,
# critic 32/64/128), half that (16, critic 16/32/64) and twice that (64,
# critic 64/128/256), quick profile otherwise, one thread per run. They come
# from `bash scripts/compute_curve.sh`, whose results are kept in
# `book/results/compute/`; the dashed line is k-means with two clusters on the
# same pixels (computed here, its value written under the line). Each dot is one seed;
# a cross marks a seed whose collapse check fired.

# %%
COMPUTE = Path("results/compute")
curves = {name: hc.results.load(COMPUTE / name) for name in ("running-example", "fmnist-root")}
levels = {"running-example": kmeans["acc"],
          "fmnist-root": hc.runs.two_means("fashion-mnist", per_class=1000, seed=SEED)["purity"]}
panels = [("threes vs fives: ACC", curves["running-example"], "acc", levels["running-example"]),
          ("Fashion-MNIST root: purity", curves["fmnist-root"], "purity", levels["fmnist-root"])]
fig = figures.compute_curves(panels)
plt.show()
Markdown(hc.results.curve_summary(curves["running-example"], "acc", levels["running-example"], "threes vs fives")
         + "\n\n" + hc.results.curve_summary(curves["fmnist-root"], "purity", levels["fmnist-root"],
                                                 "the Fashion-MNIST root split"))

# %% [markdown]
# A step at a wider network costs more, so the steps axis does not say which
# width buys the most for a given CPU budget. The times recorded with the
# points above come from different days and machine loads; instead,
# `python benchmarks/step_cost.py` timed one raw-split step of each width in
# one run (one thread, widths interleaved, medians; kept in
# `book/results/compute/step-seconds.json`). The same points, each at its
# steps times its width's cost per step:

# %%
step_cost = hc.results.load(COMPUTE / "step-seconds.json")[0]   # from benchmarks/step_cost.py
cost, cost_machine = {int(w): s for w, s in step_cost["seconds_per_step"].items()}, step_cost["machine"]
fig = figures.compute_curves(panels, cost=cost)
plt.show()
per_step = ", ".join(f"{cost[w]:.3f} s at width {w}" for w in sorted(cost))
Markdown(f"One step costs {per_step} ({cost_machine}, one thread).\n\n"
         + hc.results.curve_summary(curves["running-example"], "acc", levels["running-example"], "threes vs fives",
                                    cost=cost) + "\n\n"
         + hc.results.curve_summary(curves["fmnist-root"], "purity", levels["fmnist-root"],
                                    "the Fashion-MNIST root split", cost=cost))

# %% [markdown]
# ## At the paper's width, on a GPU
#
# The CPU curves above stop at width 64 and 6,400 steps. On one NVIDIA H200,
# the same split with the paper's networks (generator 256-128-1, critic
# 128/256/512, batch 100, fp32) and 6,400 steps took about 90 s per seed
# (three seeds on the GPU at once). The table shows the `gpu` profile's
# reference run (`book/results/gpu/`) when it is committed, else those
# provisional H200 runs (`book/results/gpu-h200-provisional/`), made with:
#
# ```bash
# hcmgan split mnist --classes 3,5 --profile paper --device cuda \
#     --set min_steps=6400 --set max_steps=6400 --set refinements=0 --seed S --out running-example-sS.json
# ```

# %%
gpu = hc.results.load(["results/gpu", "results/gpu-h200-provisional"], "running-example-s*.json", first=True)
print(f"from book/{Path(gpu[0]['_file']).parent}/")   # the reference run, else the provisional
gpu_rows = hc.results.flatten(gpu, "split")
gpu_acc = [r["acc_raw"] for r in gpu_rows]
Markdown(hc.results.table(gpu_rows, {"seed": "seed", "steps": "steps:,.0f", "ACC": "acc_raw", "purity": "purity_raw",
                                     "smaller side": "smaller_side:.1%", "seconds": "seconds:.0f",
                                     "device": lambda r: f"{r['device']} (torch {r['torch']})"})
    + f"\n\nAt the paper's width the split is near perfect on every seed (ACC {min(gpu_acc):.3f} to {max(gpu_acc):.3f}), "
      f"against k-means' {kmeans['acc']:.3f} and the best CPU point of the "
      f"curve ({max(r['stages'][0]['acc'] for r in curves['running-example']):.3f}).")

# %% [markdown]
# ## What we saw

# %%
best_cpu = max(r["stages"][0]["acc"] for r in curves["running-example"])
Markdown(f"""
* On the CPU, more steps and wider networks are what this split needs: the best point of the curves reaches
  ACC {best_cpu:.3f} ({"above" if best_cpu > kmeans["acc"] else "below"} k-means' {kmeans["acc"]:.3f}).
* At the paper's width on one GPU, with {gpu[0]['stages'][0]['steps']:,} steps per GAN, the split reaches ACC
  {min(gpu_acc):.3f} to {max(gpu_acc):.3f} over {len(gpu)} seeds, about {sum(r['seconds'] for r in gpu) / len(gpu):.0f} s each.
""")

"""Print the README's results tables (the committed runs, as on the book's Results page, without a live run):
    python scripts/results_tables.py
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from hcmgan_lite import experiments  # noqa: E402

TITLES = {"fashion-mnist": "Fashion-MNIST", "mnist": "MNIST"}
for ds, args in (("fashion-mnist", "--per-class 1000"), ("mnist", "")):
    title = TITLES[ds]
    rows = experiments.paper_rows(ds) + experiments.committed_rows(ROOT / "book" / "results", ds, args)
    print(f"**{title}**\n\n{experiments.results_markdown(rows)}\n")

few = experiments.few_class_rows(ROOT / "book" / "results")
for label, folder, ds, args in experiments.FEW_CLASS_SEEDS:
    words = args.split()
    classes = words[words.index("--classes") + 1].replace(",", ", ")
    rows = [r for r in few if f"book/results/{folder} {ds} " in r["command"]]
    if rows:
        print(f"**{TITLES[ds]}, {label.split(', ')[-1]}: {classes}**\n\n{experiments.results_markdown(rows)}\n")

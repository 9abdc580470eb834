"""Print the README's results tables (the committed runs, as on the book's Results page, without a live run):
    python scripts/results_tables.py
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from hcmgan_lite import tables  # noqa: E402

TITLES = {"fashion-mnist": "Fashion-MNIST", "mnist": "MNIST"}
for ds, args in (("fashion-mnist", "--per-class 1000"), ("mnist", "")):
    rows = tables.paper_rows(ds) + tables.committed_rows(ROOT / "book" / "results", ds, args)
    print(f"**{TITLES[ds]}**\n\n{tables.results_markdown(rows)}\n")

for run in tables.FEW_CLASS_SEEDS:
    rows = tables.few_class_rows(ROOT / "book" / "results", run)
    if rows:
        print(f"**{TITLES[run.dataset]}, {run.name}: {', '.join(run.classes)}**\n\n{tables.results_markdown(rows)}\n")

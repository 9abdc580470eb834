"""Print the README's results tables (the committed runs, as on the book's Results page, without a live run):
    python scripts/results_tables.py
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from hcmgan_lite import tables  # noqa: E402

TITLES = {"fashion-mnist": "Fashion-MNIST", "mnist": "MNIST"}
for ds in ("fashion-mnist", "mnist"):
    print(f"**{TITLES[ds]}**\n\n{tables.results_markdown(tables.results_rows(ds, ROOT / 'book' / 'results'))}\n")

for run in tables.FEW_CLASS_SEEDS:
    rows = tables.results_rows(run.name, ROOT / "book" / "results")
    if rows:
        print(f"**{TITLES[run.dataset]}, {run.name}: {', '.join(run.classes)}**\n\n{tables.results_markdown(rows)}\n")

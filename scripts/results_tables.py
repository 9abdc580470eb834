"""Print the README's results tables (the committed runs, as on the book's Results page, without a live run):
    python scripts/results_tables.py
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from hcmgan_lite import experiments  # noqa: E402

for ds, args, title in (("fashion-mnist", "--per-class 1000", "Fashion-MNIST"), ("mnist", "", "MNIST")):
    rows = experiments.paper_rows(ds) + experiments.committed_rows(ROOT / "book" / "results", ds, args)
    print(f"**{title}**\n\n{experiments.results_markdown(rows)}\n")

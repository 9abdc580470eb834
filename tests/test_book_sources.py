"""The chapters' notebooks are generated from book/src/*.py, and their code cells stay short."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from test_book_browser import DOCS, source_of

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = [source_of(d) for d in DOCS if source_of(d) is not None and source_of(d).suffix == ".ipynb"]
MAX_CELL_LINES = 20


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_generated_from_its_source(nb, tmp_path):
    src = REPO / "book" / "src" / (nb.stem + ".py")
    assert src.is_file(), f"{nb.name} has no source book/src/{src.name}"
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import nb as builder
    finally:
        sys.path.pop(0)
    expected = [(c.cell_type, c.source) for c in builder.cells_from_percent(src.read_text())]
    got = [(c["cell_type"], "".join(c["source"])) for c in json.loads(nb.read_text())["cells"]]
    assert got == expected, f"{nb.name} differs from book/src/{src.name}: run `python scripts/nb.py`"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_cells_are_short(nb):
    long = [(i, c) for i, c in enumerate(json.loads(nb.read_text())["cells"])
            if c["cell_type"] == "code" and len("".join(c["source"]).splitlines()) > MAX_CELL_LINES]
    assert not long, f"{nb.name}: code cells longer than {MAX_CELL_LINES} lines: " + ", ".join(
        f"cell {i} ({len(''.join(c['source']).splitlines())} lines)" for i, c in long)

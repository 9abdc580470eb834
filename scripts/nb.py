"""Write a chapter notebook from a plain-text source.

The source of ``book/NAME.ipynb`` is ``book/src/NAME.py``: cells separated by
lines ``# %% [markdown]`` (text, each line prefixed with ``# ``) and ``# %%``
(code), the "percent" format that editors such as VS Code and Jupytext read.
Run ``python scripts/nb.py`` to regenerate every notebook without outputs.
"""
import ast
import hashlib
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def cells_from_percent(text: str):
    cells, kind, buf, tags = [], None, [], []

    def flush():
        if kind is None:
            return
        body = "\n".join(buf).strip("\n")
        if kind == "md":
            body = "\n".join(l[2:] if l.startswith("# ") else l.lstrip("#") for l in body.splitlines())
            cells.append(nbformat.v4.new_markdown_cell(body))
        elif body.strip():
            cell = nbformat.v4.new_code_cell(body)
            if tags:
                cell.metadata["tags"] = tags
            cells.append(cell)

    for line in text.splitlines():
        if line.startswith("# %%"):
            flush()
            kind, buf = ("md" if "[markdown]" in line else "code"), []
            tags = ast.literal_eval(line.split("tags=", 1)[1].strip()) if "tags=" in line else []
        else:
            buf.append(line)
    flush()
    return cells


def build(src: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = cells_from_percent(src.read_text())
    for i, cell in enumerate(nb.cells):   # stable ids: regenerating an unchanged chapter changes nothing
        cell.id = hashlib.sha1(f"{src.stem}/{i}/{cell.source}".encode()).hexdigest()[:8]
    out = ROOT / "book" / (src.stem + ".ipynb")
    nbformat.write(nb, out)
    return out


if __name__ == "__main__":
    srcs = [Path(a) for a in sys.argv[1:]] or sorted((ROOT / "book" / "src").glob("*.py"))
    for s in srcs:
        print("wrote", build(s).relative_to(ROOT))

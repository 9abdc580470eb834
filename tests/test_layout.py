"""The library's layout: one idea per file, imports that run one way, a public API in one place, and the
same trees as before the files were reorganised."""
import ast
import re
import sys
from pathlib import Path

import pytest
import torch

import hcmgan_lite as hc

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "hcmgan_lite"
MODULES = sorted(p.stem for p in PKG.glob("*.py") if p.stem != "__init__")


def _imports(module: str) -> set:
    """The package's modules that ``module`` imports, anywhere in the file (inside functions too)."""
    out = set()
    for node in ast.walk(ast.parse((PKG / f"{module}.py").read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.add(node.module.split(".")[0])
            else:
                out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hcmgan_lite."):
            out.add(node.module.split(".")[1])
    return out & set(MODULES)


def test_no_import_loop():
    graph = {m: _imports(m) for m in MODULES}
    state: dict = {}

    def visit(m, path):
        if state.get(m) == "done":
            return
        assert state.get(m) != "open", "import loop: " + " -> ".join(path + [m])
        state[m] = "open"
        for n in sorted(graph[m]):
            visit(n, path + [m])
        state[m] = "done"
    for m in MODULES:
        visit(m, [])


@pytest.mark.parametrize("module", MODULES)
def test_every_module_says_what_it_holds_and_what_it_imports(module):
    doc = ast.get_docstring(ast.parse((PKG / f"{module}.py").read_text())) or ""
    assert len(doc.split("\n")[0]) > 20, f"{module}: no opening sentence"
    said = re.search(r"Imports(?: nothing|:)(.*?)(?:\n\n|$)", doc, re.S)
    assert said, f"{module}: its docstring does not say what it imports"
    named = set(re.findall(r"[a-z_]+", said.group(1)))
    assert _imports(module) <= named, f"{module} imports {sorted(_imports(module) - named)} without saying so"
    assert len((PKG / f"{module}.py").read_text().splitlines()) <= 530, f"{module}.py is over about 500 lines"


def test_public_api_in_one_place_and_the_readme_agrees():
    for name in hc.__all__:
        assert getattr(hc, name) is not None
    readme = (REPO / "README.md").read_text()
    using = readme[readme.index("## Using the library"):readme.index("## Command line")]
    named = set(re.findall(r"\bhc\.([A-Za-z]\w*)", using))
    assert named and named <= set(hc.__all__), f"README names {sorted(named - set(hc.__all__))} outside __all__"


@pytest.mark.needs_data("fashion-mnist")
def test_trees_are_the_ones_grown_before_the_files_were_reorganised():
    """tests/data/reference-tree.pt was grown (tests/data/make_reference_tree.py, one thread) before the
    library's files were split up; today's code grows the same tree (bit for bit on the machine that made it;
    within float noise on another CPU, whose kernels may round differently)."""
    sys.path.insert(0, str(REPO / "tests" / "data"))
    try:
        import make_reference_tree
    finally:
        sys.path.pop(0)
    before = hc.Tree.load(REPO / "tests" / "data" / "reference-tree.pt")
    threads = torch.get_num_threads()
    try:
        now = make_reference_tree.grow()
    finally:
        torch.set_num_threads(threads)
    assert now.splits == before.splits and len(now.nodes) == len(before.nodes)
    worst = max(float((a.membership - b.membership).abs().max()) for a, b in zip(now.nodes, before.nodes))
    assert worst < 1e-3, f"memberships differ by up to {worst:.3g}"
    assert [len(n.split_logs) for n in now.nodes] == [len(n.split_logs) for n in before.nodes]
    print(f"largest membership difference: {worst:.3g}")


OUTSIDE_THE_CORE = ("results", "tables")     # the results layer; every other module is the library's core


def _chapter_names_outside_the_core() -> set:
    """``(module, name)`` for every name of the results layer that a chapter calls or reads:
    ``results.load``, ``hc.tables.results_rows``, ``from hcmgan_lite.results import load``."""
    found = set()
    for src in sorted((REPO / "book" / "src").glob("*.py")):
        for node in ast.walk(ast.parse(src.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, (ast.Name, ast.Attribute)):
                owner = node.value.id if isinstance(node.value, ast.Name) else node.value.attr
                if owner in OUTSIDE_THE_CORE:
                    found.add((owner, node.attr))
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[-1] in OUTSIDE_THE_CORE:
                found.update((node.module.split(".")[-1], a.name) for a in node.names)
    return found


def test_the_chapters_call_about_a_dozen_names_outside_the_core():
    names = _chapter_names_outside_the_core()
    assert names, "the chapters read no results at all: the check itself is broken"
    assert len(names) <= 12, f"the chapters call {len(names)} names of the results layer: {sorted(names)}"
    for module, name in names:                    # each is public: in its module's __all__
        assert name in getattr(hc, module).__all__, f"{module}.{name} is called by a chapter but not in __all__"

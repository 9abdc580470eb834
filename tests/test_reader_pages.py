"""What a reader sees speaks of the method and its results, never of how the code got there: no page of
the built book and no line of the README carries development history (CHANGELOG.md keeps it)."""
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HTML = REPO / "_build" / "html"

# Phrases that tell the project's history instead of the method (each seen on a reader's page once).
HISTORY = ("latent fix", "node seeds still followed", "as before", "older than path seeds", "grown again",
           "as a record", "has not been grown yet", "earlier cap", "no longer exists", "before the profile took",
           "ci took", "continuous integration")


def _text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S | re.I)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split()).lower()


def test_the_readme_is_short_and_carries_no_history():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 150, f"README.md has {len(readme.splitlines())} lines"
    found = [p for p in HISTORY if p in readme.lower()]
    assert not found, f"README.md carries history: {found}"
    assert not re.search(r"\b[0-9a-f]{7,40}\b", readme.replace("sha256", "")), "README.md names a commit"
    for command in ("bash scripts/book.sh", "bash scripts/test.sh", "bash scripts/lab.sh", "hcmgan data fetch"):
        assert command in readme


def test_no_built_page_carries_history():
    pages = sorted(HTML.glob("book/*.html"))
    if not pages:
        pytest.skip("the book is not built (bash scripts/book.sh)")
    found = {p.name: [h for h in HISTORY if h in _text(p.read_text(errors="replace"))] for p in pages}
    found = {k: v for k, v in found.items() if v}
    assert not found, f"pages that carry history: {found}"
    assert len(pages) >= 12

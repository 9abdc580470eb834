"""Open every page of the built book in headless Chromium and check it renders.

For each page listed in _toc.yml: the page loads, the browser console has no
SEVERE entry, nothing is fetched from outside the local server, every image
in the content has loaded, every figure the executed notebook produced is on
the page, math has been typeset by the local MathJax, embedded widgets have
been drawn exactly once, and a full-page screenshot is written to
_build/screenshots/<page>.png.

The ``book_browser`` fixture comes from conftest.py. Widget tests of other
chapters can reuse the helpers here, e.g.::

    from test_book_browser import select_dropdown_and_check_change

    def test_explorer_dropdown(book_browser):
        select_dropdown_and_check_change(book_browser.driver, book_browser.url("book/09_explorer.html"))
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.browser

TOC = REPO_ROOT / "_toc.yml"
EXECUTED = REPO_ROOT / "_build" / "jupyter_execute"
WAIT_S = 90

# Output types that the html output shows *instead of* an image (myst-nb's
# priority order puts these before image/png).
_PREFERRED_OVER_IMAGES = (
    "application/vnd.jupyter.widget-view+json",
    "application/javascript",
    "text/html",
)
_IMAGE_TYPES = ("image/svg+xml", "image/png", "image/jpeg", "image/gif")


# --------------------------------------------------------------------- the toc
def toc_documents(toc_path: Path = TOC) -> list[str]:
    """Documents listed in a jb-book _toc.yml, in reading order, without suffix."""
    toc = yaml.safe_load(toc_path.read_text(encoding="utf8"))
    docs = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                docs.append(entry["file"])
            elif "glob" in entry:
                matches = sorted(
                    p.with_suffix("").relative_to(REPO_ROOT).as_posix()
                    for p in REPO_ROOT.glob(entry["glob"] + ".*")
                    if p.suffix in (".md", ".ipynb")
                )
                docs.extend(matches)
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("parts"))
    walk(toc.get("chapters"))
    walk(toc.get("sections"))
    return [d.rsplit(".", 1)[0] if d.endswith((".md", ".ipynb")) else d for d in docs]


def source_of(doc: str) -> Path | None:
    for suffix in (".ipynb", ".md"):
        path = REPO_ROOT / (doc + suffix)
        if path.is_file():
            return path
    return None


def expected_figures(doc: str) -> int:
    """Number of image outputs the executed notebook shows on its page."""
    source = source_of(doc)
    if source is None or source.suffix != ".ipynb":
        return 0
    executed = EXECUTED / (doc + ".ipynb")
    nb = json.loads((executed if executed.is_file() else source).read_text(encoding="utf8"))
    count = 0
    for cell in nb.get("cells", []):
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell.get("cell_type") != "code" or tags & {"remove-output", "remove-cell"}:
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if any(t in data for t in _IMAGE_TYPES) and not any(t in data for t in _PREFERRED_OVER_IMAGES):
                count += 1
    return count


DOCS = toc_documents()


# ----------------------------------------------------------------- page checks
def wait_for(driver, script: str, what: str, timeout: float = WAIT_S):
    """Poll a JavaScript expression until it is truthy; fail with ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        if driver.execute_script(f"return !!({script})"):
            return
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}", pytrace=False)
        time.sleep(0.25)


# Embedded widget views, and those the widget manager has drawn (next to each view).
_N_WIDGET_VIEWS = (
    "document.querySelectorAll('script[type=\"application/vnd.jupyter.widget-view+json\"]').length"
)
_N_RENDERED_WIDGETS = (
    "Array.from(document.querySelectorAll('script[type=\"application/vnd.jupyter.widget-view+json\"]'))"
    ".filter(s => s.previousElementSibling && s.previousElementSibling.matches('.widget-subarea')"
    " && s.previousElementSibling.children.length > 0).length"
)


def open_page(driver, url: str) -> None:
    """Load ``url`` and wait until its math and widgets are rendered."""
    driver.get_log("browser")  # drop entries from earlier pages
    driver.get(url)
    wait_for(driver, "document.readyState === 'complete'", f"{url} to load")
    # Math: Sphinx marks every formula with class "math"; MathJax turns each
    # into an <mjx-container>.
    if driver.execute_script("return document.querySelectorAll('.math').length"):
        wait_for(driver, "window.MathJax && MathJax.startup && MathJax.startup.document", "MathJax to start")
        outcome = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "MathJax.startup.promise.then(() => done(true), (e) => done(String(e)));"
        )
        assert outcome is True, f"MathJax failed on {url}: {outcome}"
        wait_for(driver, "document.querySelectorAll('mjx-container').length > 0", "math to be typeset")
    if driver.execute_script(_N_WIDGET_VIEWS):
        wait_for(driver, f"({_N_RENDERED_WIDGETS}) >= ({_N_WIDGET_VIEWS})", "widgets to render")
    time.sleep(0.5)  # let late script errors reach the console


def severe_console_entries(driver) -> list[str]:
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry.get("level") == "SEVERE" and "favicon.ico" not in entry.get("message", "")
    ]


def save_full_page_screenshot(driver, path: Path, width: int = 1280, max_height: int = 16000) -> None:
    """PNG of the whole page: the viewport is stretched to the document's height."""
    measure = "return Math.ceil(document.documentElement.scrollHeight)"
    driver.execute_script("window.scrollTo(0, 0)")
    height = driver.execute_script(measure)
    for _ in range(3):  # the layout may change with the viewport; re-measure
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": min(height, max_height), "deviceScaleFactor": 1, "mobile": False},
        )
        new_height = driver.execute_script(measure)
        if new_height == height:
            break
        height = new_height
    try:
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))


def select_dropdown_and_check_change(driver, url: str | None = None, dropdown_index: int = 0,
                                     timeout: float = 30) -> str:
    """Pick another option of a rendered Dropdown widget and check the page changed.

    Opens ``url`` (unless None: the current page is used), takes the
    ``dropdown_index``-th ``<select>`` drawn by the widget manager, selects an
    option other than the current one, and waits until the visible text or the
    visible images of the page content differ from before. Returns the label
    of the option chosen. Works without a kernel: the widgets' links (e.g. a
    Dropdown jslinked to a Stack) run in the browser.
    """
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    if url is not None:
        open_page(driver, url)
    selects = driver.find_elements(By.CSS_SELECTOR, ".widget-dropdown select")
    assert len(selects) > dropdown_index, f"no Dropdown widget #{dropdown_index} on {driver.current_url}"
    select = Select(selects[dropdown_index])
    options = select.options
    assert len(options) >= 2, "the Dropdown has fewer than two options"
    current = select.first_selected_option.get_attribute("value")
    choice = next(o for o in options if o.get_attribute("value") != current)
    label = choice.text

    view = (
        "(() => { const main = document.querySelector('main') || document.body;"
        " const imgs = Array.from(main.querySelectorAll('img')).filter(i => i.offsetParent !== null)"
        ".map(i => i.src); return main.innerText + '\\n' + imgs.join('\\n'); })()"
    )
    before = driver.execute_script("return " + view)
    select.select_by_visible_text(label)
    deadline = time.monotonic() + timeout
    while driver.execute_script("return " + view) == before:
        assert time.monotonic() < deadline, f"selecting {label!r} did not change the page"
        time.sleep(0.2)
    return label


# A figure drawn at 100 dpi with 7-pt labels: shown below 55% of its size its labels fall under about
# 5 px, and a figure under 100 px high is a strip no one can read.
MIN_SCALE, MIN_HEIGHT_PX = 0.55, 100
_RENDERED_FIGURES = (
    "return Array.from(document.querySelectorAll('main .cell_output img'))"
    ".filter(i => i.offsetParent !== null && i.naturalWidth > 0)"
    ".map(i => { const r = i.getBoundingClientRect();"
    " return [(i.getAttribute('src') || '').slice(0, 40), i.naturalWidth, i.naturalHeight, r.width, r.height]; })"
)


def figure_is_legible(natural_w, natural_h, shown_w, shown_h) -> bool:
    """Shown at >= MIN_SCALE of its natural size, >= MIN_HEIGHT_PX high, aspect ratio kept (within 3%)."""
    if shown_w <= 0 or shown_h <= 0:
        return False
    scale = shown_w / natural_w
    distortion = abs((shown_w / shown_h) / (natural_w / natural_h) - 1)
    return scale >= MIN_SCALE and shown_h >= MIN_HEIGHT_PX and distortion <= 0.03


def test_figure_is_legible_rule():
    assert figure_is_legible(700, 500, 676, 483)        # a figure drawn for the page
    assert not figure_is_legible(2520, 1120, 676, 300)  # a wide tree squeezed to the page (scale 0.27)
    assert not figure_is_legible(600, 60, 600, 60)      # a thin strip
    assert not figure_is_legible(600, 400, 600, 200)    # squashed


# ----------------------------------------------------------------------- tests
def test_toc_lists_existing_documents():
    missing = [doc for doc in DOCS if source_of(doc) is None]
    assert not missing, f"_toc.yml lists documents that do not exist: {missing}"


def test_index_redirects_to_root_page(book_browser):
    driver = book_browser.driver
    driver.get(book_browser.url("index.html"))
    root_page = DOCS[0] + ".html"
    wait_for(driver, f"location.pathname.endsWith('/{root_page}')", "index.html to lead to the root page")


@pytest.mark.parametrize("doc", DOCS)
def test_page_renders(book_browser, doc):
    driver = book_browser.driver
    page = doc + ".html"
    assert (book_browser.html_dir / page).is_file(), f"{page} was not built"
    open_page(driver, book_browser.url(page))

    title = driver.execute_script("const h = document.querySelector('main h1'); return h && h.innerText")
    assert title, f"{page}: no <h1> in the main content"

    errors = severe_console_entries(driver)
    assert not errors, f"{page}: browser console errors:\n" + "\n".join(errors)

    foreign = driver.execute_script(
        "return performance.getEntriesByType('resource').map(r => r.name)"
        ".filter(n => !n.startsWith(location.origin) && !/^(data|blob):/.test(n))"
    )
    assert not foreign, f"{page}: resources requested from outside the book: {foreign}"

    broken = driver.execute_script(
        "return Array.from(document.querySelectorAll('main img'))"
        ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src'))"
    )
    assert not broken, f"{page}: images that did not load: {broken}"

    figures = expected_figures(doc)
    shown = driver.execute_script("return document.querySelectorAll('main .cell_output img').length")
    assert shown >= figures, f"{page}: the notebook made {figures} figures, the page shows {shown}"

    illegible = [f"{src}: natural {nw}x{nh}, shown {w:.0f}x{h:.0f}" for src, nw, nh, w, h
                 in driver.execute_script(_RENDERED_FIGURES) if not figure_is_legible(nw, nh, w, h)]
    assert not illegible, (f"{page}: figures shrunk past legibility at {driver.execute_script('return innerWidth')} px "
                           f"(below {MIN_SCALE:.0%} of their size, under {MIN_HEIGHT_PX} px high, or distorted):\n"
                           + "\n".join(illegible))

    hidden = driver.execute_script(
        "return Array.from(document.querySelectorAll('main pre'))"
        ".filter(p => p.offsetParent !== null && p.scrollWidth > p.clientWidth + 1).length")
    assert not hidden, f"{page}: {hidden} code or output blocks scroll sideways (book.css should wrap their lines)"

    # a Markdown table printed by a cell must arrive as a table, not as a paragraph of pipes
    raw_tables = driver.execute_script(
        "return Array.from(document.querySelectorAll('main .cell_output p'))"
        ".filter(p => /^\\s*\\|.*\\|\\s*$/m.test(p.innerText)).length"
    )
    assert not raw_tables, f"{page}: {raw_tables} Markdown table(s) shown as raw text instead of a table"

    n_math = driver.execute_script("return document.querySelectorAll('main .math').length")
    if n_math:
        typeset = driver.execute_script("return document.querySelectorAll('main mjx-container').length")
        assert typeset >= n_math, f"{page}: {n_math} formulas, only {typeset} typeset by MathJax"
        tex_errors = driver.execute_script("return document.querySelectorAll('main mjx-merror').length")
        assert not tex_errors, f"{page}: {tex_errors} formulas with TeX errors"

    views = driver.execute_script("return " + _N_WIDGET_VIEWS)
    if views:
        drawn = driver.execute_script("return document.querySelectorAll('main .widget-subarea').length")
        assert drawn == views, f"{page}: {views} widgets embedded but {drawn} drawn"

    name = doc.removeprefix("book/").replace("/", "__")
    save_full_page_screenshot(driver, book_browser.screenshots_dir / (name + ".png"))

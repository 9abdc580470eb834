"""Shared pytest configuration: markers, repository paths, the data folder, and ``book_browser``.

``@pytest.mark.needs_data("fashion-mnist", ...)`` marks a test that reads real images from the data
folder (``hcmgan_lite.find_data_root()``: ``$HCMGAN_DATA``, else the checkout's ``data/``). Without
them it is skipped with the reason and the command that gets them, unless ``HCMGAN_REQUIRE_DATA=1``
(as CI sets), in which case it fails instead. ``DATA_ROOT`` is that folder.

``book_browser`` serves the built book (``_build/html``) on 127.0.0.1 and
drives a headless Debian Chromium over it. Tests that use it are skipped when
the book has not been built or Chromium/chromedriver are missing, unless the
environment variable ``HCMGAN_REQUIRE_BOOK=1`` is set (as CI does), in which
case they fail instead.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
BOOK_HTML = REPO_ROOT / "_build" / "html"
SCREENSHOTS = REPO_ROOT / "_build" / "screenshots"

# Let the tests import the library from the working tree even where it is not installed.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from hcmgan_lite.data import find_data_root  # noqa: E402
from hcmgan_lite.fetch import has_data  # noqa: E402

DATA_ROOT = find_data_root()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: drives headless Chromium over the built book (_build/html)"
    )
    config.addinivalue_line(
        "markers", "needs_data(*datasets): reads real images (default fashion-mnist) from the data folder"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    for mark in item.iter_markers("needs_data"):
        missing = [d for d in (mark.args or ("fashion-mnist",)) if not has_data(d, DATA_ROOT)]
        if missing:
            reason = (f"needs {', '.join(missing)} in the data folder {DATA_ROOT} "
                      f"(get it with: hcmgan data fetch {' '.join(missing)}; see README, Data)")
            if os.environ.get("HCMGAN_REQUIRE_DATA", "") not in ("", "0"):
                pytest.fail(f"{reason} (HCMGAN_REQUIRE_DATA=1)", pytrace=False)
            pytest.skip(reason)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def book_html_dir() -> Path:
    return BOOK_HTML


def _require_book() -> bool:
    return os.environ.get("HCMGAN_REQUIRE_BOOK", "") not in ("", "0")


def _unavailable(reason: str):
    """Skip, or fail when the book is required (HCMGAN_REQUIRE_BOOK=1)."""
    if _require_book():
        pytest.fail(f"{reason} (HCMGAN_REQUIRE_BOOK=1)", pytrace=False)
    pytest.skip(reason)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature from the base class
        pass


@dataclass
class BookBrowser:
    """A Chromium driver plus the address the built book is served at."""

    driver: object  # selenium.webdriver.Chrome
    base_url: str  # e.g. "http://127.0.0.1:45678/"
    html_dir: Path
    screenshots_dir: Path

    def url(self, page: str) -> str:
        """Address of ``page``, a path relative to _build/html (e.g. "book/intro.html")."""
        return self.base_url + page.lstrip("/")


@pytest.fixture(scope="session")
def book_browser():
    """Serve _build/html on a free local port and open it in headless Chromium."""
    if not (BOOK_HTML / "index.html").is_file():
        _unavailable(f"the book is not built ({BOOK_HTML}/index.html is missing; run bash scripts/book.sh)")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if not (chromium and chromedriver):
        _unavailable("chromium and chromium-driver are needed (apt-get install chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed")

    handler = functools.partial(_QuietHandler, directory=str(BOOK_HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    profile = tempfile.TemporaryDirectory(prefix="hcmgan-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1024",
        f"--user-data-dir={profile.name}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.set_page_load_timeout(120)
    driver.set_script_timeout(120)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield BookBrowser(
            driver=driver,
            base_url=f"http://127.0.0.1:{server.server_address[1]}/",
            html_dir=BOOK_HTML,
            screenshots_dir=SCREENSHOTS,
        )
    finally:
        driver.quit()
        server.shutdown()
        server.server_close()
        profile.cleanup()


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for a module's tests: faster on a busy machine, and what subprocesses and workers use."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

"""The explorer chapter of the built book, in headless Chromium, with no kernel.

Picking another node in the explorer's Dropdown must switch the view below it
(the Dropdown is jslinked to a Stack of pre-rendered views), and moving the
cluster-count slider must switch the cut's summary. Screenshots of the
explorer before and after the pick go to _build/screenshots/explorer_before.png
and explorer_after.png. Skipped when the book (or this chapter) is not built,
unless HCMGAN_REQUIRE_BOOK=1.
"""
from __future__ import annotations

import os
import re
import time

import pytest

from test_book_browser import open_page, select_dropdown_and_check_change

pytestmark = pytest.mark.browser
PAGE = "book/09_explorer.html"

# Text of the explorer's visible node view and cut view (the Stack draws only its selected child).
_EXPLORER = ("(() => { const s = document.querySelector('main .widget-dropdown select');"
             " return s && s.closest('.widget-subarea'); })()")
_TEXT = f"return {_EXPLORER}.innerText"
_IMAGES = (f"return Array.from({_EXPLORER}.querySelectorAll('img'))"
           ".filter(i => i.offsetParent !== null && i.complete && i.naturalWidth > 0).map(i => i.src)")


def _shot(driver, book_browser, name):
    """Screenshot of the whole explorer: the viewport is stretched to its height first."""
    from selenium.webdriver.common.by import By
    area = driver.find_element(By.CSS_SELECTOR, "main .widget-subarea:has(.widget-dropdown)")
    height = min(int(driver.execute_script("return arguments[0].getBoundingClientRect().height", area)) + 40, 8000)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1280, "height": max(height, 600), "deviceScaleFactor": 1, "mobile": False})
    try:
        driver.execute_script("arguments[0].scrollIntoView()", area)
        time.sleep(0.3)
        area.screenshot(str(book_browser.screenshots_dir / name))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def _shown_node(text):
    found = re.findall(r"^node (\d+) · depth", text, flags=re.M)
    assert len(found) == 1, f"expected the view of exactly one node, found {found}"
    return int(found[0])


def test_explorer_switches_views_without_a_kernel(book_browser):
    if not (book_browser.html_dir / PAGE).is_file():
        if os.environ.get("HCMGAN_REQUIRE_BOOK", "") not in ("", "0"):
            pytest.fail(f"{PAGE} was not built (HCMGAN_REQUIRE_BOOK=1)", pytrace=False)
        pytest.skip(f"{PAGE} was not built")
    driver = book_browser.driver
    open_page(driver, book_browser.url(PAGE))
    text, images = driver.execute_script(_TEXT), driver.execute_script(_IMAGES)
    assert _shown_node(text) == 0 and images, "the explorer should open on the root, with its figures"
    _shot(driver, book_browser, "explorer_before.png")

    label = select_dropdown_and_check_change(driver, None, dropdown_index=0)
    picked = int(re.search(r"node\s(\d+)", label.replace("\u00a0", " ")).group(1))
    deadline = time.monotonic() + 30
    while _shown_node(driver.execute_script(_TEXT)) != picked:
        assert time.monotonic() < deadline, f"picked node {picked} but its view did not appear"
        time.sleep(0.2)
    after = driver.execute_script(_IMAGES)
    assert after and after != images, "the visible images did not change with the node"
    _shot(driver, book_browser, "explorer_after.png")

    # the cluster-count slider: one step to the left shows the cut with one cluster less
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    n_before = int(re.search(r"^(\d+) clusters?:", driver.execute_script(_TEXT), flags=re.M).group(1))
    handle = driver.find_element(By.CSS_SELECTOR, "main .widget-hslider .noUi-handle")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", handle)
    handle.click()
    handle.send_keys(Keys.ARROW_LEFT)
    deadline = time.monotonic() + 30
    while not re.search(rf"^{n_before - 1} clusters?:", driver.execute_script(_TEXT), flags=re.M):
        assert time.monotonic() < deadline, "moving the slider did not switch the cut's summary"
        time.sleep(0.2)

from test_book_browser import select_dropdown_and_check_change

def test_dropdown(book_browser):
    d = book_browser.driver
    label = select_dropdown_and_check_change(d, book_browser.url("book/zz_widget_check.html"))
    text = d.execute_script("return document.querySelector('main').innerText")
    print("chose", label, "| view number 1" in text, "view number 0" in text)
    assert "view number 1" in text and "view number 0" not in text
    d.save_screenshot(str(book_browser.screenshots_dir / "zz_after_select.png"))

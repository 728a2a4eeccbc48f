"""Right to left: Arabic on a phone-size screen in a real browser (Chromium), the chat and a city form,
mirrored by the CSS logical properties (one stylesheet), axe-core clean."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe

from app.languages import KNOWN_LOCALES
from tests.browser import collect_console_errors
from tests.test_accessibility import AXE_OPTIONS, AXE_RUN

pytestmark = [
    pytest.mark.browser,
    # The test runs as soon as Arabic's content is complete (app/languages.py COMPLETE, issue 14).
    pytest.mark.skipif("ar" not in KNOWN_LOCALES, reason="Arabic (ar) is not complete yet (issue 14)"),
]
PHONE = {"width": 390, "height": 844}
ARABIC = re.compile(r"[\u0600-\u06ff]")

axe = Axe()


def _phone(browser):
    context = browser.new_context(locale="ar", viewport=PHONE, is_mobile=True, has_touch=True)
    context.add_init_script(script=axe.axe_script)
    return context


def _fits_the_screen(page) -> None:
    """Nothing sticks out sideways: a mirrored layout that forgot a physical margin would."""
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def _violations(page) -> list[dict]:
    return page.evaluate(AXE_RUN, AXE_OPTIONS)


def test_the_arabic_chat_on_a_phone_runs_right_to_left(site, browser):
    context = _phone(browser)
    page = context.new_page()
    errors = collect_console_errors(page)
    page.goto(site + "/ar/chat")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("html").get_attribute("lang") == "ar"
    # The page's own text starts at the right edge.
    heading = page.get_by_role("heading", level=1).bounding_box()
    assert heading is not None and heading["x"] + heading["width"] > PHONE["width"] * 0.6
    before = page.locator(".msg-bot").count()
    page.locator("#chat-message").fill("أبحث عن عمل في كراكوف، هل توجد وظائف؟")
    page.locator("#chat-form button[type=submit]").click()
    answer = page.locator(".msg-bot").nth(before)  # the first answer after the message
    answer.wait_for()
    assert answer.get_attribute("lang") == "ar" and answer.get_attribute("dir") == "rtl"
    assert ARABIC.search(answer.inner_text()), answer.inner_text()  # answered in Arabic
    mine = page.locator(".msg-user").last
    assert mine.get_attribute("dir") == "rtl"
    assert page.evaluate("getComputedStyle(document.querySelector('.msg-bot')).direction") == "rtl"
    _fits_the_screen(page)
    assert _violations(page) == []
    assert errors == []
    context.close()


def test_an_arabic_form_on_a_phone_mirrors_and_keeps_the_polish_wording_left_to_right(site, browser):
    context = _phone(browser)
    page = context.new_page()
    page.goto(site + "/ar/forms/biblioteka-karta")
    assert page.locator("html").get_attribute("dir") == "rtl"
    title = page.get_by_role("heading", level=1)
    assert ARABIC.search(title.inner_text())
    official = page.locator("h1 .official")
    assert official.get_attribute("lang") == "pl" and official.get_attribute("dir") == "ltr"
    # A label and its field line up on the right.
    field = page.locator("input[type=text], input:not([type]), input[type=email]").first
    box = field.bounding_box()
    assert box is not None and box["x"] + box["width"] > PHONE["width"] * 0.8
    _fits_the_screen(page)
    assert _violations(page) == []
    # Sent empty: the errors come back in Arabic, right to left.
    page.locator("button[name=_action][value=submit]").click()
    page.wait_for_load_state()
    alert = page.get_by_role("alert").first
    assert ARABIC.search(alert.inner_text()), alert.inner_text()
    assert page.locator("html").get_attribute("dir") == "rtl"
    _fits_the_screen(page)
    assert _violations(page) == []
    context.close()

"""A newcomer books an evening visit at a city kiosk on a phone, in Ukrainian, in Chromium: the
service, the evenings and a desk that speaks Ukrainian, a time, a name and e-mail (a mistake first),
the visit's page with the reference, what to bring and the calendar file; then moves it and
cancels it. axe-core finds no serious violation on any step; the page never scrolls sideways."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe

from app.appointments.content import EVENING
from tests.browser import collect_console_errors

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}, "resultTypes": ["violations"]}
axe = Axe()


def serious(page) -> list[str]:
    found = page.evaluate(
        "(o) => axe.run(document, o).then(r => r.violations.filter(v => ['serious','critical'].includes(v.impact)).map(v => v.id + ' ' + v.nodes[0].target))",
        AXE_OPTIONS,
    )
    no_sideways = page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    return found + ([] if no_sideways else ["the page scrolls sideways"])


def test_an_evening_visit_at_a_kiosk_booked_on_a_phone_in_ukrainian(site, browser):
    context = browser.new_context(locale="uk-UA", **PHONE)
    context.add_init_script(script=axe.axe_script)
    page = context.new_page()
    errors = collect_console_errors(page, expected_statuses=(422,))
    problems: list[str] = []

    page.goto(f"{site}/uk/")
    page.locator("main a[href$='/uk/visits']").first.click()
    page.wait_for_url(re.compile(r".*/uk/visits$"))
    problems += serious(page)
    page.locator("#s-library-card").check()
    page.locator("input[name=evening]").check()
    page.select_option("#f-language", "uk")
    page.locator("form.visit-search button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/uk/visits\?service=library-card.*evening=1.*"))
    problems += serious(page)

    # The kiosk in the Bonarka shopping centre; its first evening time.
    kiosk = page.locator("li.card").filter(has_text="Bonarka")
    first = kiosk.locator("a.slot").first
    label = first.inner_text()
    hour, minute = map(int, re.search(r"(\d{1,2}):(\d{2})", label).groups())
    assert (hour, minute) >= (EVENING.hour, EVENING.minute), label
    first.click()
    page.wait_for_url(re.compile(r".*/uk/visits/book\?.*place=kiosk-bonarka.*"))

    # A mistake first: the answers stay, the message is in Ukrainian and tied to its field.
    page.fill("#f-name", "Олена Коваленко")
    page.fill("#f-email", "olena@")
    page.locator("#book form button[type=submit]").click()
    page.locator("#f-email[aria-invalid=true]").wait_for()
    assert page.locator("#f-name").input_value() == "Олена Коваленко"
    problems += serious(page)
    page.fill("#f-email", "olena@example.org")
    page.select_option("#f-interpreter_language", "uk")
    page.locator("#book form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/uk/visits/v/[A-Za-z0-9_-]+\?notice=booked$"))
    problems += serious(page)
    reference = page.locator(".reference").inner_text()
    assert re.fullmatch(r"KRK-W-[0-9A-Z]{4}-[0-9A-Z]{4}", reference)
    assert f"{hour:02d}:{minute:02d}" in page.locator("#visit").inner_text()
    assert "Bonarka" in page.locator("#visit").inner_text()
    with page.expect_download() as download:
        page.locator("a[href$='/calendar.ics']").click()
    assert download.value.suggested_filename == f"{reference}.ics"

    # Move it to the last time of the week, then cancel it.
    page.locator("a[href$='/move']").click()
    page.wait_for_url(re.compile(r".*/move$"))
    problems += serious(page)
    page.locator("button.slot").last.click()
    page.wait_for_url(re.compile(r".*\?notice=moved$"))
    page.locator("form[action$='/cancel'] button").click()
    page.wait_for_url(re.compile(r".*\?notice=cancelled$"))
    assert page.locator("a[href$='/move']").count() == 0
    assert problems == [], "\n".join(problems)
    assert errors == [], errors
    context.close()

"""axe-core on every public and staff page, in three languages, on a desktop and a phone: no
violation of impact serious or critical (WCAG 2.1 A and AA rules).

axe-core comes with axe-playwright-python (its licence, MPL-2.0, ships in the wheel); it runs inside
Debian's Chromium through Playwright. Each page is also checked in the state people meet it in: the
chat after an answer with quick replies, a city form after a send with errors.
"""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.browser import SiteSpec

pytestmark = pytest.mark.browser
PASSWORD = "accessibility-test-password"
LANGUAGES = ("pl", "uk", "en")
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
#: The rules of WCAG 2.1 levels A and AA; impact serious or critical fails the test.
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}, "resultTypes": ["violations"]}
FAILING_IMPACTS = ("serious", "critical")
PUBLIC_PAGES = ("/", "/partners", "/forms/", "/forms/biblioteka-karta", "/follow", "/staff/login", "/no-such-page")
STAFF_PAGES = ("/staff/", "/staff/cases/", "/staff/cases/new", "/staff/account")

axe = Axe()


@pytest.fixture(scope="module")
def site_spec() -> SiteSpec:
    """The demo content (partners, cases in every state) and a caseworker who signs in."""
    return SiteSpec(caseworker=("kasia@example.org", PASSWORD), demo=True)


def problems(page, where: str) -> list[str]:
    """Return the serious and critical axe violations of the page as it is now, one line each."""
    results = axe.run(page, options=AXE_OPTIONS).response
    return [
        f"{where}: {v['id']} ({v['impact']}) at {[n['target'] for n in v['nodes']][:3]}: {v['help']}"
        for v in results["violations"]
        if v["impact"] in FAILING_IMPACTS
    ]


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_has_no_serious_accessibility_violation(site, browser, language, viewport):
    context = browser.new_context(viewport=VIEWPORTS[viewport], locale=language)
    page = context.new_page()
    found: list[str] = []

    def check(path: str, state: str = "") -> None:
        page.goto(f"{site}/{language}{path}")
        found.extend(problems(page, f"{path}{state} [{language}, {viewport}]"))

    for path in PUBLIC_PAGES:
        check(path)
    # The chat after an answer with quick replies.
    page.goto(f"{site}/{language}/chat")
    page.get_by_role("textbox").first.fill("hello")
    page.keyboard.press("Enter")
    page.locator(".msg-bot").last.wait_for()
    found.extend(problems(page, f"/chat after an answer [{language}, {viewport}]"))
    # A city form sent with nothing filled in: the error summary and the fields' errors.
    page.goto(f"{site}/{language}/forms/biblioteka-karta")
    page.locator("form button[type=submit][value=submit], form button[name=_action][value=submit]").first.click()
    page.wait_for_load_state()
    found.extend(problems(page, f"/forms/biblioteka-karta with errors [{language}, {viewport}]"))
    # The staff side, signed in.
    page.goto(f"{site}/{language}/staff/login")
    page.locator("input[name=email]").fill("kasia@example.org")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("input[name=password]").press("Enter")
    page.wait_for_url(re.compile(r".*/staff/$"))
    for path in STAFF_PAGES:
        check(path)
    page.goto(f"{site}/{language}/staff/cases/")
    references = sorted(set(re.findall(r"KRK-\d{4}-\d{6}", page.content())))
    assert references, "the demo cases are listed"
    for reference in (references[0], references[3]):  # a new case, and one referred to a partner
        check(f"/staff/cases/{reference}")
    context.close()
    assert found == [], "\n".join(found)

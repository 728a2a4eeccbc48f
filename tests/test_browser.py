"""What people see in a real browser (Chromium): languages, sign-in with and without JavaScript."""

from __future__ import annotations

import pytest

from tests.a11y import low_contrast_text, weak_focus
from tests.browser import SiteSpec, collect_console_errors

pytestmark = pytest.mark.browser
PASSWORD = "browser-test-password"


@pytest.fixture(scope="module")
def site_spec() -> SiteSpec:
    """The site has one caseworker."""
    return SiteSpec(caseworker=("kasia@example.org", PASSWORD))


def test_language_switcher_and_no_csp_violations(site, browser):
    page = browser.new_page(locale="uk-UA")
    errors = collect_console_errors(page)
    page.goto(site + "/")
    assert page.url == site + "/uk/"  # the browser's language was chosen
    assert page.locator("html").get_attribute("lang") == "uk"
    page.get_by_role("link", name="Polski").click()
    page.wait_for_url(site + "/pl/")
    assert page.locator("html").get_attribute("lang") == "pl"
    # The choice is remembered for pages without a language prefix.
    page.goto(site + "/staff/login")
    assert page.locator("html").get_attribute("lang") == "pl"
    assert page.evaluate("typeof window.htmx") == "object"  # htmx loaded under the strict CSP
    assert errors == []
    page.close()


def test_sign_in_with_javascript_shows_errors_in_place(site, browser):
    page = browser.new_page()
    errors = collect_console_errors(page, expected_statuses=(400,))  # the wrong password
    page.goto(site + "/en/staff/login")
    page.evaluate("window.__samePage = true")
    page.get_by_label("E-mail address").fill("kasia@example.org")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="not correct").wait_for()
    assert page.evaluate("window.__samePage") is True  # htmx swapped the form, no reload
    assert page.get_by_label("E-mail address").input_value() == "kasia@example.org"
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site + "/en/staff/")
    assert page.get_by_role("heading", name="Dashboard").is_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(site + "/en/staff/login")
    assert errors == []
    page.close()


def test_sign_in_without_javascript(site, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(site + "/ru/staff/")
    assert "/ru/staff/login" in page.url
    page.locator("#f-email").fill("kasia@example.org")
    page.locator("#f-password").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    page.wait_for_url(site + "/ru/staff/")
    assert "Kasia" in page.content()
    context.close()


def test_mobile_layout_has_no_horizontal_scroll(site, browser):
    context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    for code in ("pl", "uk", "ru", "en", "be"):
        page.goto(f"{site}/{code}/")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), code
    page.screenshot(path=str(site_screenshot_path()))
    context.close()


def site_screenshot_path():
    from pathlib import Path

    folder = Path(__file__).resolve().parent.parent / "var"
    folder.mkdir(exist_ok=True)
    return folder / "landing-mobile.png"


def test_public_pages_meet_contrast_and_show_the_keyboard_focus(site, browser):
    """Every text meets WCAG AA contrast and every focus stop stands out at least 3:1 from what is
    around it (the old amber ring was 1.64:1 on white), in Ukrainian and English."""
    page = browser.new_page()
    for path in ("/uk/", "/en/partners"):
        page.goto(site + path)
        assert low_contrast_text(page) == [], path
        assert weak_focus(page) == [], path
    page.close()


def test_the_partner_directory_on_a_phone_is_short_and_its_filters_fit(site, browser):
    """On a phone the filters come first and each organisation takes a few lines (the whole list was
    about 12,000 px); no filter's shown choice is cut off, on a phone or a tablet."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(site + "/uk/partners")
    # Each organisation takes well under a screen (about 1,600 px each before): the list stays short.
    per_organisation = page.evaluate(
        """() => {
             const found = document.querySelectorAll('article.partner');
             const top = found[0].getBoundingClientRect().top;
             return (found[found.length - 1].getBoundingClientRect().bottom - top) / found.length;
           }"""
    )
    assert per_organisation < 700, per_organisation
    filters = page.locator("#partner-filters").bounding_box()
    assert filters["y"] < page.locator("article.partner").first.bounding_box()["y"]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert cut_off_choices(page) == []
    page.locator("article.partner summary").first.click()  # the details one tap away
    assert page.locator("article.partner .location").first.is_visible()
    context.close()
    page = browser.new_page(viewport={"width": 800, "height": 900})  # a tablet: the filters side by side
    for code in ("uk", "be", "ru"):
        page.goto(f"{site}/{code}/partners")
        assert cut_off_choices(page) == [], code
    page.close()


def cut_off_choices(page) -> list[str]:
    """Return the filters whose chosen option is wider than the select shows."""
    return page.evaluate(
        """() => [...document.querySelectorAll('form.filters select')].flatMap((select) => {
             const cs = getComputedStyle(select);
             const canvas = document.createElement('canvas').getContext('2d');
             canvas.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
             const text = select.options[select.selectedIndex].text;
             const padding = parseFloat(cs.paddingInlineStart) + parseFloat(cs.paddingInlineEnd);
             const room = select.clientWidth - padding - 20;  // the arrow
             return canvas.measureText(text).width > room ? [`${select.id}: "${text}"`] : [];
           })"""
    )


def test_every_help_card_on_the_landing_page_leads_somewhere_on_a_phone(site, browser):
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, locale="uk-UA")
    page = context.new_page()
    page.goto(site + "/uk/")
    cards = page.locator("#services-heading + .cards > li.card")
    assert cards.count() == 4
    for card in cards.all():
        link = card.locator("a").first
        box = link.bounding_box()
        assert box is not None and box["height"] >= 44, card.inner_text()  # tappable
    context.close()

"""What people see in a real browser (Chromium): languages, sign-in with and without JavaScript."""

from __future__ import annotations

import pytest

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

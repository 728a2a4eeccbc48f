"""Two-factor sign-in in a real browser (Chromium), end to end: a role that requires it sets it up
after the password (the secret read from the page, the code computed with pyotp as a phone would),
sees its recovery codes once, signs out, and signs in again with password and code; without
JavaScript, a recovery code signs in too."""

from __future__ import annotations

import time

import pyotp
import pytest

from tests.browser import SiteSpec, collect_console_errors

pytestmark = pytest.mark.browser
EMAIL = "kasia@example.org"
PASSWORD = "browser-test-password"  # noqa: S105 - the test site's only account


@pytest.fixture(scope="module")
def site_spec() -> SiteSpec:
    """The site has one caseworker, and caseworkers must use a second factor there."""
    return SiteSpec(caseworker=(EMAIL, PASSWORD), settings={"two_factor_roles": ("caseworker",)})


def next_step_code(totp: pyotp.TOTP) -> str:
    """Return the code of the time step after the current one: it is accepted now and in the next
    30 seconds, and it is later than any code used before it (each step signs in once)."""
    return totp.at(time.time(), counter_offset=1)


def sign_in_with_password(page, site: str) -> None:
    page.goto(site + "/en/staff/login")
    page.get_by_label("E-mail address").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_set_up_at_sign_in_then_sign_in_with_password_and_code(site, browser):
    page = browser.new_page()
    errors = collect_console_errors(page, expected_statuses=(400,))
    sign_in_with_password(page, site)
    page.wait_for_url(site + "/en/staff/login/enrol")
    assert page.get_by_role("heading", name="Set up two-factor sign-in").is_visible()
    assert page.get_by_role("img", name="QR code with the setup key for your authenticator app").is_visible()
    totp = pyotp.TOTP(page.locator("#two-factor-secret").inner_text().replace(" ", ""))
    # The staff pages stay closed until the second factor is set up; on a phone the page fits.
    phone = browser.new_context(
        storage_state=page.context.storage_state(),
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
    )
    closed = phone.new_page()
    closed.goto(site + "/en/staff/")
    assert "/en/staff/login" in closed.url
    closed.goto(site + "/en/staff/login/enrol")
    assert closed.get_by_role(
        "img", name="QR code with the setup key for your authenticator app"
    ).is_visible()
    assert closed.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone.close()

    page.evaluate("window.__samePage = true")
    page.get_by_label("Code from your authenticator app").fill("000000")
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    page.get_by_role("alert").filter(has_text="Please correct").wait_for()
    assert page.evaluate("window.__samePage") is True  # htmx swapped the form in place
    page.get_by_label("Code from your authenticator app").fill(totp.now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    page.get_by_role("heading", name="Your recovery codes").wait_for()
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and len(set(codes)) == 10
    page.get_by_role("link", name="I have saved the codes, continue").click()
    page.wait_for_url(site + "/en/staff/")
    assert page.get_by_role("heading", name="Dashboard").is_visible()

    page.get_by_role("link", name="Your account and two-factor sign-in").click()
    page.wait_for_url(site + "/en/staff/account")
    assert page.locator("#recovery-codes-left").inner_text() == "Recovery codes left: 10 of 10."
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(site + "/en/staff/login")

    sign_in_with_password(page, site)
    page.wait_for_url(site + "/en/staff/login/code")
    code_field = page.get_by_label("Code from your authenticator app")
    assert code_field.get_attribute("autocomplete") == "one-time-code"
    assert code_field.get_attribute("inputmode") == "numeric"
    code_field.fill(next_step_code(totp))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(site + "/en/staff/")
    assert page.get_by_role("heading", name="Dashboard").is_visible()
    assert errors == []
    page.close()

    # Without JavaScript: password, then a recovery code instead of the phone.
    context = browser.new_context(java_script_enabled=False)
    plain = context.new_page()
    sign_in_with_password(plain, site)
    plain.wait_for_url(site + "/en/staff/login/code")
    plain.get_by_role("link", name="Lost your phone? Use a recovery code").click()
    plain.get_by_label("Recovery code").fill(codes[0])
    plain.get_by_role("button", name="Continue").click()
    plain.wait_for_url(site + "/en/staff/")
    plain.goto(site + "/en/staff/account")
    assert plain.locator("#recovery-codes-left").inner_text() == "Recovery codes left: 9 of 10."
    context.close()

"""The web chat in Chromium: with htmx (no reload, quick replies) and without JavaScript."""

from __future__ import annotations

import pytest

from tests.browser import SiteSpec

pytestmark = pytest.mark.browser


PASSWORD = "browser-chat-password"


@pytest.fixture(scope="module")
def site_spec() -> SiteSpec:
    """The site has a caseworker of the city office, who answers handed-over chats."""
    # Translations are awaited here: the first one also imports argostranslate.
    return SiteSpec(caseworker=("kasia@gup.example.org", PASSWORD), settings={"translation_wait_seconds": 60})


def test_chat_with_javascript_answers_in_place_and_quick_replies_work(site, browser):
    page = browser.new_page(locale="en-GB")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(site + "/en/chat")
    page.evaluate("window.__samePage = true")
    page.get_by_label("Your message").fill("hello")
    page.get_by_role("button", name="Send").click()
    page.locator(".msg-bot").filter(has_text="Witaj").first.wait_for()
    assert page.evaluate("window.__samePage") is True  # no reload: htmx added the answer
    assert page.get_by_label("Your message").input_value() == ""  # the form was reset
    page.locator(".quick-replies .chip").first.click()  # "Register at the labour office"
    page.locator(".msg-bot").filter(has_text="praca.gov.pl").first.wait_for()
    assert errors == []
    page.close()


def test_chat_without_javascript(site, browser):
    context = browser.new_context(java_script_enabled=False, locale="uk-UA")
    page = context.new_page()
    page.goto(site + "/uk/chat")
    page.locator("#chat-message").fill("де найближча бібліотека?")
    page.locator("#chat-form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".msg-user").filter(has_text="бібліотека").count() == 1
    assert page.locator(".msg-user + .msg-bot").count() == 1  # the answer follows the question
    context.close()


def test_chat_opens_the_city_form_of_the_topic_on_a_phone(site, browser):
    """Asked about a library card, the assistant links the city's form; on a phone it opens in Belarusian."""
    context = browser.new_context(locale="be-BY", viewport={"width": 360, "height": 740}, is_mobile=True)
    page = context.new_page()
    page.goto(site + "/be/chat")
    page.locator("#chat-message").fill("/library_card")
    page.locator("#chat-form button[type=submit]").click()
    link = page.locator(".quick-replies a.chip-link")
    link.wait_for()
    box = link.bounding_box()
    assert box is not None and box["height"] >= 44 and box["x"] + box["width"] <= 360  # tappable, on screen
    link.click()
    page.wait_for_url("**/be/forms/biblioteka-karta")
    assert page.locator("html").get_attribute("lang") == "be"
    assert page.locator("form").filter(has_text="Imię").count() >= 1  # the Polish wording beside the labels
    context.close()


def test_newcomer_and_caseworker_chat_through_machine_translation(site, browser, both_ways):
    """Ukrainian newcomer, Polish caseworker, no common language: each reads their own, and the original."""
    newcomer = browser.new_context(locale="uk-UA").new_page()
    newcomer.goto(site + "/uk/chat")
    newcomer.get_by_label("Ваше повідомлення").fill("/human_handoff")
    newcomer.locator("#chat-form button[type=submit]").click()
    newcomer.locator("#poller p").wait_for()  # waiting for a person
    newcomer.locator("#chat-message").fill("кіт їсть хліб")
    newcomer.locator("#chat-form button[type=submit]").click()
    newcomer.locator(".msg-user").filter(has_text="кіт їсть хліб").wait_for()

    caseworker = browser.new_context(locale="pl-PL").new_page()
    caseworker.goto(site + "/pl/staff/login")
    caseworker.locator("#f-email").fill("kasia@gup.example.org")
    caseworker.locator("#f-password").fill(PASSWORD)
    caseworker.locator("button[type=submit]").click()
    caseworker.wait_for_url("**/staff/")
    caseworker.goto(site + "/pl/staff/cases/")
    caseworker.locator("table.cases a").first.click()
    chat = caseworker.locator("#chat")
    chat.locator(".msg-user").filter(has_text="kot je chleb").wait_for()  # Polish for the caseworker
    assert "кіт їсть хліб" in chat.locator(".msg-user details").first.text_content()  # the original is kept
    caseworker.locator("#chat-reply").fill("dzień dobry")
    caseworker.locator("#chat button[type=submit]").click()

    # The newcomer's page polls: the reply arrives in Ukrainian, marked, with the Polish original.
    reply = newcomer.locator(".msg-staff").filter(has_text="день добрий")
    reply.wait_for(timeout=15_000)
    assert "dzień dobry" in reply.locator("details").text_content()
    newcomer.context.close()
    caseworker.context.close()

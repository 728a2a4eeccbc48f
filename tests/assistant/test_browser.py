"""The web chat in Chromium: with htmx (no reload, quick replies) and without JavaScript."""

from __future__ import annotations

import pytest

from tests.browser import SiteSpec, collect_console_errors

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
    assert "день добрий" in newcomer.locator("#chat-live").text_content()  # announced as it comes
    newcomer.context.close()
    caseworker.context.close()


# --- with a keyboard, a screen reader and on a phone (issue 12, items 4 and 5) ---------------------

#: Records how the page asks to scroll (Playwright's init scripts are not subject to the page's CSP).
RECORD_SCROLLS = """
window.__scrolls = [];
const scrollIntoView = Element.prototype.scrollIntoView;
Element.prototype.scrollIntoView = function (options) {
  window.__scrolls.push(options && options.behavior);
  return scrollIntoView.call(this, options);
};
"""


def test_chat_by_keyboard_enter_sends_shift_enter_breaks_the_line_and_focus_stays(site, browser):
    from playwright.sync_api import expect

    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 800})
    context.add_init_script(RECORD_SCROLLS)
    page = context.new_page()
    errors = collect_console_errors(page, expected_statuses=(422,))  # the refused empty message
    page.goto(site + "/en/chat")
    box = page.locator("#chat-message")
    box.focus()
    page.keyboard.type("hello")
    page.keyboard.press("Enter")
    # (The first message of a run may wait for the server to load the NLU model.)
    expect(page.locator(".msg-user + .msg-bot")).to_have_count(1, timeout=30_000)
    expect(page.locator(".msg-user")).to_have_count(1)
    expect(box).to_be_focused()  # the new, empty box, ready for the next message
    expect(box).to_have_value("")
    # The answer is announced, not the newcomer's own words and not the history.
    expect(page.locator("#chat-live")).to_contain_text("Witaj")
    expect(page.locator("#chat-live")).not_to_contain_text("hello")
    assert page.locator("#messages[aria-live]").count() == 0
    assert "chat-message-keys" in (box.get_attribute("aria-describedby") or "")
    expect(page.locator("#chat-message-keys")).to_be_visible()

    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    expect(box).to_have_value("first line\nsecond line")
    assert page.locator(".msg-user").count() == 1  # Shift+Enter sent nothing
    page.keyboard.press("Control+Enter")
    expect(page.locator(".msg-user")).to_have_count(2)
    expect(box).to_be_focused()
    assert page.locator(".msg-user .msg-text").last.inner_text() == "first line\nsecond line"
    page.keyboard.press("Enter")  # an empty box sends nothing
    assert page.locator(".msg-user").count() == 2
    assert page.evaluate("window.__scrolls")[:2] == ["smooth", "smooth"]
    # Sent empty with the button: the server refuses it, and only the form shows why.
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#chat-message-error")).to_be_visible()
    expect(box).to_be_focused()
    expect(box).to_have_attribute("aria-invalid", "true")
    assert "chat-message-error" in (box.get_attribute("aria-describedby") or "")
    assert page.locator(".chat").count() == 1 and page.locator("#messages h1").count() == 0
    assert errors == []
    context.close()


def test_chat_on_a_phone_scrolls_to_the_new_answer_and_shows_it_as_text(site, browser):
    from playwright.sync_api import expect

    context = browser.new_context(
        locale="en-GB",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        reduced_motion="reduce",
    )
    context.add_init_script(RECORD_SCROLLS)
    page = context.new_page()
    errors = collect_console_errors(page)
    page.goto(site + "/en/chat")
    # A phone's keyboard has no Shift+Enter: there Enter starts a new line, and Send sends.
    page.locator("#chat-message").press_sequentially("one")
    page.locator("#chat-message").press("Enter")
    expect(page.locator("#chat-message")).to_have_value("one\n")
    expect(page.locator("#chat-message-keys")).to_be_hidden()
    sent = 0
    for message in ("hello", "where can I learn Polish for free?", "where is the labour office?"):
        page.locator("#chat-message").fill(message)
        page.locator("#chat-form button[type=submit]").tap()
        sent += 1
        expect(page.locator(".msg-user")).to_have_count(sent, timeout=30_000)  # the first may load the NLU
        answer = page.locator(".msg-user").last.locator("xpath=following-sibling::li[1]")
        expect(answer).to_be_in_viewport()  # the page came down to it, on a 390 px screen
        # A tap closed the on-screen keyboard: focus waits on Send, not in the box that reopens it.
        expect(page.locator("#chat-form button[type=submit]")).to_be_focused()
    assert set(page.evaluate("window.__scrolls")) == {"auto"}  # reduced motion: no animation

    # The answer is structured text: no template whitespace, a list, a link to the city's site.
    bubble = page.locator(".msg-bot").last
    assert bubble.evaluate("li => getComputedStyle(li).whiteSpace") == "normal"
    assert not bubble.inner_text()[:1].isspace()
    assert bubble.locator("ul li").count() == 0 or bubble.locator("ul li").first.is_visible()
    link = bubble.locator("a[href='https://gupkrakow.praca.gov.pl']")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    box = link.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 390  # a long address wraps on the phone
    assert errors == []
    context.close()

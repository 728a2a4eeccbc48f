"""The chat page's markup for keyboards, screen readers and phones (issue 12, item 4); the behaviour
in a browser is in tests/assistant/test_browser.py."""

from __future__ import annotations

import re

from tests.conftest import csrf_from


def _live_region(html: str) -> str:
    match = re.search(r'<div id="chat-live"([^>]*)>(.*?)</div>', html, re.S)
    assert match, "no live region"
    return match.group(1) + "|" + match.group(2)


def test_the_page_has_one_polite_live_region_and_the_history_is_not_live(client, world):
    page = client.get("/en/chat")
    client.post("/en/chat", data={"csrf_token": csrf_from(page.text), "message": "hello"})
    html = client.get("/en/chat").text
    assert (
        'id="messages" class="messages">' in html and "aria-live" not in html.split('id="messages"')[1][:40]
    )
    attributes, content = _live_region(html).split("|", 1)
    assert 'role="status"' in attributes
    assert content.strip() == ""  # the history is never announced again
    assert '<script src="/static/js/chat.js' in html and 'href="/static/css/chat.css' in html


def test_an_htmx_answer_fills_the_live_region_with_the_answer_only(client, world):
    page = client.get("/en/chat")
    fragment = client.post(
        "/en/chat",
        data={"message": "where can I learn Polish for free?"},
        headers={"HX-Request": "true", "X-CSRF-Token": csrf_from(page.text)},
    ).text
    attributes, content = _live_region(fragment).split("|", 1)
    assert 'hx-swap-oob="innerHTML"' in attributes  # the region stays, its content changes
    assert "Multicultural Centre" in content and 'lang="en"' in content
    assert "learn Polish for free" not in content  # not the newcomer's own message


def test_a_refused_htmx_send_changes_only_the_form(client, world):
    page = client.get("/en/chat")
    response = client.post(
        "/en/chat",
        data={"message": "   "},
        headers={"HX-Request": "true", "X-CSRF-Token": csrf_from(page.text)},
    )
    assert response.status_code == 422
    assert "<section" not in response.text and 'id="messages"' not in response.text
    assert 'id="chat-form"' in response.text and 'hx-swap-oob="true"' in response.text
    assert 'aria-invalid="true"' in response.text and "Write a message first." in response.text


def test_without_javascript_the_page_opens_at_the_newcomers_last_message(client, world):
    page = client.get("/en/chat")
    token = csrf_from(page.text)
    client.post("/en/chat", data={"csrf_token": token, "message": "hello"})
    sent = client.post("/en/chat", data={"csrf_token": token, "message": "thank you"}, follow_redirects=False)
    assert sent.headers["location"].endswith("/en/chat#latest")
    html = client.get("/en/chat").text
    assert html.count('id="latest"') == 1
    latest = re.search(r'<li class="msg msg-user" id="latest"[^>]*>(.*?)</li>', html, re.S)
    assert latest and "thank you" in latest.group(1)

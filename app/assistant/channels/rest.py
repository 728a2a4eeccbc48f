"""Rasa's REST channel (https://rasa.com/docs/rasa/connectors/your-own-website#rest-channels): the
answer is the HTTP response, a list of {recipient_id, text, buttons}."""

from __future__ import annotations

from typing import Any

from app.assistant.channels.shapes import Outbound


def message(sender: str, message: Outbound) -> dict[str, Any]:
    """Return one message as Rasa's REST channel sends it: quick replies as {title, payload} buttons,
    a link to a city form as a `web_url` button (the shape Rasa's chat widgets open as a link)."""
    out: dict[str, Any] = {"recipient_id": sender, "text": message.text}
    buttons = [
        {"title": b.title, "type": "web_url", "url": b.url} if b.url is not None else {"title": b.title, "payload": b.payload}
        for b in message.buttons
    ]
    if buttons:
        out["buttons"] = buttons
    return out

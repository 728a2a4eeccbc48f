"""Telegram's Bot API as a fake server, and Updates as Telegram posts them.

Shapes from the Bot API documentation (https://core.telegram.org/bots/api):
- every method answers {"ok": true, "result": ...}; an error {"ok": false, "error_code": 403,
  "description": "Forbidden: bot was blocked by the user"} ("Making requests");
- sendMessage(chat_id, text, reply_markup) returns the sent Message; text is 1-4096 characters;
  InlineKeyboardButton has text and one of callback_data (1-64 bytes) or url;
- answerCallbackQuery(callback_query_id) and setWebhook(url, secret_token, allowed_updates) return True;
- an Update has update_id and one of message (Message: message_id, from User with language_code,
  chat Chat with id and type "private", date, text / photo / caption) or callback_query
  (CallbackQuery: id, from, message, chat_instance, data); the webhook request carries the secret
  in X-Telegram-Bot-Api-Secret-Token ("setWebhook").
"""

from __future__ import annotations

import itertools
from typing import Any

from tests.assistant.fake_provider import FakeProvider

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
SECRET = "witaj-test-secret_01"


class FakeTelegram(FakeProvider):
    """The Bot API's methods Witaj calls, checked as Telegram checks them."""

    def __init__(self) -> None:
        super().__init__()
        self.message_ids = itertools.count(1000)

    def answer(self, path: str, body: Any) -> tuple[int, Any]:
        prefix = f"/bot{TOKEN}/"
        if not path.startswith(prefix):
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        method = path[len(prefix):]
        if method == "sendMessage":
            text = body.get("text", "")
            if not 1 <= len(text) <= 4096:
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"}
            for row in (body.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    data = button.get("callback_data")
                    if data is not None and not 1 <= len(data.encode()) <= 64:
                        return 400, {"ok": False, "error_code": 400, "description": "Bad Request: BUTTON_DATA_INVALID"}
            return 200, {
                "ok": True,
                "result": {"message_id": next(self.message_ids), "date": 1764777600, "chat": {"id": body["chat_id"], "type": "private"}, "text": text},
            }
        if method in ("answerCallbackQuery", "setWebhook"):
            return 200, {"ok": True, "result": True}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Return the sendMessage bodies Telegram took (to chat_id, if given), oldest first."""
        taken = []
        for item in self.requests_to("/sendMessage"):
            if chat_id is None or item.body.get("chat_id") == chat_id:
                taken.append(item.body)
        return taken


_updates = itertools.count(500_000)


def text_update(chat_id: int, text: str, *, language_code: str | None = "uk", update_id: int | None = None) -> dict[str, Any]:
    """Return an Update with a text message in a private chat."""
    user: dict[str, Any] = {"id": chat_id, "is_bot": False, "first_name": "Olena"}
    if language_code:
        user["language_code"] = language_code
    return {
        "update_id": update_id if update_id is not None else next(_updates),
        "message": {
            "message_id": next(_updates),
            "from": user,
            "chat": {"id": chat_id, "first_name": "Olena", "type": "private"},
            "date": 1764777600,
            "text": text,
        },
    }


def photo_update(chat_id: int, caption: str | None = None) -> dict[str, Any]:
    """Return an Update with a photo (PhotoSize sizes), and a caption if given."""
    update = text_update(chat_id, "x")
    message = update["message"]
    del message["text"]
    message["photo"] = [{"file_id": "AgAD", "file_unique_id": "AQAD", "width": 90, "height": 60, "file_size": 1200}]
    if caption:
        message["caption"] = caption
    return update


def button_update(chat_id: int, data: str) -> dict[str, Any]:
    """Return an Update with a callback_query: the newcomer pressed an inline button."""
    return {
        "update_id": next(_updates),
        "callback_query": {
            "id": str(next(_updates)),
            "from": {"id": chat_id, "is_bot": False, "first_name": "Olena", "language_code": "uk"},
            "message": {"message_id": 1000, "date": 1764777600, "chat": {"id": chat_id, "type": "private"}, "text": "…"},
            "chat_instance": "-4872639",
            "data": data,
        },
    }

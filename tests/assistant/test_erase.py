"""A newcomer ends and erases their conversation by writing "stop" or "delete" in their language
(issue 15, item 6): asked first, then the conversation, its messages and whatever waits to be sent
to them are deleted, on the web chat and on a messenger; "no" keeps everything."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.assistant import service as chat_service
from app.assistant.models import ChannelDelivery, Conversation, ConversationMessage
from app.assistant.routes import CHAT_COOKIE
from app.assistant.runtime import Tracker
from app.config import get_settings
from app.i18n import translations
from tests.assistant.fake_provider import serving
from tests.assistant.fake_telegram import SECRET, TOKEN, FakeTelegram, button_update, text_update
from tests.conftest import csrf_from


def count(db, model, **where) -> int:
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return db.scalar(query)


def say_on_the_web(client, language: str, text: str, token: str):
    return client.post(f"/{language}/chat", data={"csrf_token": token, "message": text}, follow_redirects=False)


@pytest.mark.parametrize(
    "language, ask, yes, notice",
    [
        ("uk", "видаліть, будь ласка, усю мою переписку", "так", "Your conversation and everything you wrote in it have been deleted."),
        ("es", "borra todo lo que he escrito, por favor", "sí", "Your conversation and everything you wrote in it have been deleted."),
    ],
)
def test_on_the_web_chat_yes_deletes_the_conversation_and_the_page_says_so(client, db, world, language, ask, yes, notice):
    token = csrf_from(client.get(f"/{language}/chat").text)
    say_on_the_web(client, language, "де вчити польську?" if language == "uk" else "¿dónde aprendo polaco?", token)
    sender = client.cookies.get(CHAT_COOKIE)
    conversation = db.scalar(select(Conversation).where(Conversation.channel == "web", Conversation.sender_id == sender))
    assert conversation is not None
    say_on_the_web(client, language, ask, token)
    page = client.get(f"/{language}/chat").text
    question = translations(language).ugettext(
        "Do you want to end this conversation and delete everything you wrote here? This cannot be undone. "
        "A case you have opened stays with the office."
    )
    assert question in page
    answered = say_on_the_web(client, language, yes, token)
    assert answered.status_code == 303 and answered.headers["location"].endswith("erased=1")
    assert count(db, Conversation, id=conversation.id) == 0
    assert count(db, ConversationMessage, conversation_id=conversation.id) == 0
    assert client.cookies.get(CHAT_COOKIE) is None  # the browser forgets it too
    fresh = client.get(answered.headers["location"]).text
    assert f'role="status">{translations(language).ugettext(notice)}</div>' in fresh  # read out when shown
    assert ask not in fresh


def test_no_keeps_everything_and_a_link_with_erased_says_nothing_while_a_chat_is_there(client, db, world):
    token = csrf_from(client.get("/en/chat").text)
    say_on_the_web(client, "en", "stop", token)
    say_on_the_web(client, "en", "no", token)
    sender = client.cookies.get(CHAT_COOKIE)
    conversation = db.scalar(select(Conversation).where(Conversation.channel == "web", Conversation.sender_id == sender))
    assert count(db, ConversationMessage, conversation_id=conversation.id) == 4
    page = client.get("/en/chat").text
    assert "All right, nothing was deleted. How can I help?" in page
    assert "have been deleted" not in client.get("/en/chat?erased=1").text


def test_htmx_is_sent_to_the_fresh_page(client, db, world):
    token = csrf_from(client.get("/en/chat").text)
    headers = {"HX-Request": "true", "X-CSRF-Token": token}
    client.post("/en/chat", data={"message": "please delete this conversation"}, headers=headers)
    response = client.post("/en/chat", data={"message": "/affirm"}, headers=headers)
    assert response.status_code == 204 and response.headers["HX-Redirect"].endswith("/en/chat?erased=1")
    assert count(db, Conversation, channel="web") == 0


@pytest.fixture
def telegram():
    with serving(FakeTelegram()) as server:
        yield server


@pytest.fixture
def settings(telegram):
    return get_settings().model_copy(
        update={"telegram_bot_token": TOKEN, "telegram_webhook_secret": SECRET, "telegram_api_url": telegram.url}
    )


def test_on_telegram_the_conversation_its_address_and_deliveries_go_and_the_goodbye_is_sent(client, db, settings, telegram):
    def say(update):
        assert client.post("/webhooks/telegram", json=update, headers={"x-telegram-bot-api-secret-token": SECRET}).status_code == 200

    say(text_update(731, "Привіт! Де записатися в бібліотеку?"))
    sender = chat_service.pseudonym(settings, "telegram", "731")
    conversation = db.scalar(select(Conversation).where(Conversation.sender_id == sender))
    assert conversation.address_encrypted and count(db, ChannelDelivery, conversation_id=conversation.id) >= 1
    say(text_update(731, "/stop"))  # the bot's menu command
    [question] = telegram.sent(731)[-1:]
    payloads = [b["callback_data"] for row in question["reply_markup"]["inline_keyboard"] for b in row]
    assert payloads == ["/affirm", "/deny"]
    say(button_update(731, "/affirm"))
    assert count(db, Conversation, id=conversation.id) == 0
    assert count(db, ConversationMessage, conversation_id=conversation.id) == 0
    assert count(db, ChannelDelivery, conversation_id=conversation.id) == 0
    # What is left of the goodbye's delivery carries neither the address nor the text.
    assert db.scalar(select(func.count()).select_from(ChannelDelivery).where(ChannelDelivery.address_encrypted.is_not(None))) == 0
    goodbye = translations("uk").ugettext("Done: this conversation is deleted. Write again any time to start a new one.")
    assert telegram.sent(731)[-1]["text"] == goodbye
    # Writing again starts afresh.
    say(text_update(731, "привіт"))
    again = db.scalar(select(Conversation).where(Conversation.sender_id == sender))
    assert again is not None and count(db, ConversationMessage, conversation_id=again.id, author="user") == 1


def test_no_in_polish_keeps_the_conversation_its_messages_and_the_cookie(client, db, world):
    token = csrf_from(client.get("/pl/chat").text)
    say_on_the_web(client, "pl", "usuń moje dane", token)
    sender = client.cookies.get(CHAT_COOKIE)
    conversation = db.scalar(select(Conversation).where(Conversation.channel == "web", Conversation.sender_id == sender))
    kept = say_on_the_web(client, "pl", "nie", token)
    assert "erased" not in kept.headers["location"]
    assert client.cookies.get(CHAT_COOKIE) == sender
    assert count(db, Conversation, id=conversation.id) == 1
    assert count(db, ConversationMessage, conversation_id=conversation.id) == 4
    page = client.get("/pl/chat").text
    assert translations("pl").ugettext("All right, nothing was deleted. How can I help?") in page
    assert "usuń moje dane" in page
    assert translations("pl").ugettext("Your conversation and everything you wrote in it have been deleted.") not in page


def test_the_erase_flag_is_the_turns_own_and_never_saved():
    tracker = Tracker(language="uk", erase_requested=True)
    assert "erase_requested" not in tracker.to_state()
    assert Tracker.from_state({**tracker.to_state(), "erase_requested": True}, "uk").erase_requested is False


def test_on_telegram_typed_words_ask_and_a_typed_yes_deletes_it_all(client, db, settings, telegram):
    def say(update):
        assert client.post("/webhooks/telegram", json=update, headers={"x-telegram-bot-api-secret-token": SECRET}).status_code == 200

    def uk(text: str) -> str:
        return translations("uk").ugettext(text)

    say(text_update(732, "Де можна вчити польську мову?"))
    sender = chat_service.pseudonym(settings, "telegram", "732")
    conversation = db.scalar(select(Conversation).where(Conversation.channel == "telegram", Conversation.sender_id == sender))
    assert conversation.address_encrypted
    say(text_update(732, "видали мою розмову"))
    question = telegram.sent(732)[-1]
    assert question["text"] == uk(
        "Do you want to end this conversation and delete everything you wrote here? This cannot be undone. "
        "A case you have opened stays with the office."
    )
    buttons = [b for row in question["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["callback_data"] for b in buttons] == ["/affirm", "/deny"]
    assert [b["text"] for b in buttons] == [uk("Yes, delete it"), uk("No, keep it")]
    assert count(db, Conversation, id=conversation.id) == 1  # asking deletes nothing
    say(text_update(732, "так"))
    db.expire_all()
    assert count(db, Conversation, channel="telegram", sender_id=sender) == 0
    assert count(db, ConversationMessage, conversation_id=conversation.id) == 0
    assert count(db, ChannelDelivery, conversation_id=conversation.id) == 0
    # The goodbye went out; no row keeps the chat's encrypted address or a message's words.
    assert telegram.sent(732)[-1]["text"] == uk("Done: this conversation is deleted. Write again any time to start a new one.")
    assert db.scalar(select(func.count()).select_from(ChannelDelivery).where(ChannelDelivery.address_encrypted.is_not(None))) == 0
    assert all(not body for body in db.scalars(select(ChannelDelivery.body)))

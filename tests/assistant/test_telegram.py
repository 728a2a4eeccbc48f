"""Whole conversations through the Telegram adapter, against a fake Bot API server on 127.0.0.1
that answers as Telegram's documentation shows, with the real dialogues, NLU model and database.

Shapes and signature: the Bot API reference (https://core.telegram.org/bots/api: "Update",
"Message", "CallbackQuery", "sendMessage", "InlineKeyboardButton", "answerCallbackQuery",
"setWebhook" and its secret_token, sent back in X-Telegram-Bot-Api-Secret-Token; "Making requests"
for {"ok": false, "error_code", "description"}), cited field by field in
tests/assistant/fake_telegram.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.assistant import service as chat_service
from app.assistant.channels import outbox, telegram
from app.assistant.channels.shapes import Button, Outbound
from app.assistant.models import ChannelDelivery, Conversation, ConversationMessage
from app.cases.models import CaseFile
from app.config import get_settings
from app.db import utcnow
from app.i18n import translations
from tests.assistant.fake_provider import serving
from tests.assistant.fake_telegram import (
    SECRET,
    TOKEN,
    FakeTelegram,
    button_update,
    photo_update,
    text_update,
)
from tests.conftest import csrf_from


@pytest.fixture
def fake():
    with serving(FakeTelegram()) as server:
        yield server


@pytest.fixture
def settings(fake):
    return get_settings().model_copy(
        update={"telegram_bot_token": TOKEN, "telegram_webhook_secret": SECRET, "telegram_api_url": fake.url}
    )


def post(client, update: dict, secret: str | None = SECRET):
    headers = {telegram.SECRET_HEADER: secret} if secret is not None else {}
    return client.post("/webhooks/telegram", json=update, headers=headers)


def say(client, update: dict):
    response = post(client, update)
    assert response.status_code == 200, response.text
    return response


def conversation_of(db, chat_id: int, settings) -> Conversation:
    return db.scalar(
        select(Conversation).where(
            Conversation.channel == "telegram", Conversation.sender_id == chat_service.pseudonym(settings, "telegram", str(chat_id))
        )
    )


def ua(text: str) -> str:
    return translations("uk").ugettext(text)


def test_a_request_without_the_secret_token_is_refused_and_does_nothing(client, db, fake):
    for secret in (None, "wrong", SECRET + "x"):
        assert post(client, text_update(701, "привіт"), secret=secret).status_code == 401
    assert db.scalar(select(func.count()).select_from(Conversation).where(Conversation.channel == "telegram")) == 0
    assert fake.seen == []


def test_the_channel_is_off_without_its_settings(client, app):
    app.state.settings = get_settings()  # no token, no secret
    assert client.post("/webhooks/telegram", json=text_update(702, "hi"), headers={telegram.SECRET_HEADER: SECRET}).status_code == 404


def test_a_qr_posters_deep_link_opens_the_chat_in_its_language_with_buttons(client, db, settings, fake):
    say(client, text_update(703, "/start uk", language_code="en"))
    conversation = conversation_of(db, 703, settings)
    assert conversation.language == "uk"
    sent = fake.sent(703)
    assert sent and all(body["chat_id"] == 703 for body in sent)
    keyboards = [body["reply_markup"]["inline_keyboard"] for body in sent if "reply_markup" in body]
    assert keyboards, "quick replies come as an inline keyboard"
    data = [button["callback_data"] for rows in keyboards for row in rows for button in row if "callback_data" in button]
    assert data and all(len(d.encode()) <= 64 for d in data)
    # The chat id is stored only encrypted: the conversation is found by a keyed hash.
    assert "703" not in conversation.sender_id and conversation.address_encrypted and "703" not in conversation.address_encrypted
    assert outbox.decrypt_address(settings, conversation.address_encrypted) == "703"


def test_a_pressed_button_is_answered_and_runs_its_payload(client, db, settings, fake):
    say(client, text_update(704, "Привіт, потрібна допомога з роботою"))
    first = fake.sent(704)
    data = next(
        button["callback_data"] for body in first for row in body.get("reply_markup", {}).get("inline_keyboard", []) for button in row
        if "callback_data" in button
    )
    say(client, button_update(704, data))
    assert len(fake.requests_to("/answerCallbackQuery")) == 1
    assert len(fake.sent(704)) > len(first)
    stored = db.scalars(
        select(ConversationMessage).where(
            ConversationMessage.conversation_id == conversation_of(db, 704, settings).id, ConversationMessage.author == "user"
        )
    ).all()
    assert len(stored) == 2


def test_a_repeated_update_runs_no_second_turn(client, db, settings, fake):
    update = text_update(705, "де отримати читацький квиток у бібліотеці?")
    say(client, update)
    sent = len(fake.sent(705))
    say(client, update)  # Telegram retries when our 200 came too late
    assert len(fake.sent(705)) == sent
    count = db.scalar(
        select(func.count()).select_from(ConversationMessage).where(
            ConversationMessage.conversation_id == conversation_of(db, 705, settings).id, ConversationMessage.author == "user"
        )
    )
    assert count == 1


def test_a_photo_gets_the_notice_that_only_words_are_read(client, db, settings, fake):
    update = photo_update(706)
    say(client, update)
    say(client, update)  # Telegram repeats the update: no second notice
    [body] = fake.sent(706)
    assert body["text"] == ua(
        "I can read only written messages for now: photos, voice messages and files do "
        "not reach me. Please write your question in words."
    )
    assert conversation_of(db, 706, settings) is None  # nothing of the photo is kept


def test_long_answers_are_split_at_telegrams_limit_with_the_keyboard_last(settings):
    text = ("Słowo " * 700 + "\n\n") * 3
    message = Outbound(text=text, buttons=(Button("Tak", payload="/affirm"), Button("Formularz", url="https://witaj.example/pl/forms/x")))
    calls = telegram.calls(settings, "42", message, language="pl")
    assert len(calls) >= 4 and all(len(call.json["text"]) <= telegram.TEXT_LIMIT for call in calls)
    assert "".join(call.json["text"] for call in calls).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")
    assert [("reply_markup" in call.json) for call in calls] == [False] * (len(calls) - 1) + [True]
    assert calls[-1].json["reply_markup"]["inline_keyboard"] == [
        [{"text": "Tak", "callback_data": "/affirm"}], [{"text": "Formularz", "url": "https://witaj.example/pl/forms/x"}]
    ]
    # A payload longer than 64 bytes goes as its title, which the assistant reads as typed.
    long = Outbound(text="?", buttons=(Button("Porada prawna", payload='/fill_form{"case_topic": "' + "x" * 60 + '"}'),))
    assert telegram.calls(settings, "42", long, language="pl")[0].json["reply_markup"]["inline_keyboard"] == [
        [{"text": "Porada prawna", "callback_data": "Porada prawna"}]
    ]


def test_a_failed_delivery_is_retried_later_and_nothing_is_sent_twice(client, db, settings, fake):
    say(client, text_update(707, "Привіт"))
    answer = [body["text"] for body in fake.sent(707)]
    assert len(answer) >= 2  # a greeting and the menu: one delivery, sent in order
    # The same answer again: Telegram takes its first message, then fails (a 502 from its side).
    fake.fail_next(502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}, after=1)
    say(client, text_update(707, "Привіт"))
    delivery = db.scalars(select(ChannelDelivery).where(ChannelDelivery.channel == "telegram").order_by(ChannelDelivery.id.desc())).first()
    db.refresh(delivery)
    assert delivery.attempts == 1 and delivery.parts_sent == 1 and delivery.delivered_at is None
    assert delivery.last_error.startswith("HTTP 502") and delivery.body and delivery.address_encrypted
    later = utcnow() + timedelta(minutes=10)
    assert deliver_later(db, settings, later)["sent"] == 1
    db.refresh(delivery)
    assert delivery.delivered_at is not None and delivery.body == {} and delivery.address_encrypted is None
    assert deliver_later(db, settings, later + timedelta(hours=1)) == {"sent": 0, "retry": 0, "failed": 0}
    taken = [item.body["text"] for item in fake.requests_to("/sendMessage")][len(answer):]
    # Each message of the second answer reached Telegram once, the refused one twice (refused, then taken).
    assert taken == [answer[0], answer[1], *answer[1:]]


def deliver_later(db, settings, when):
    from app.assistant.channels import flows as channel_flows

    return channel_flows.deliver(db=db, settings=settings, now=when)


def test_a_handed_over_chat_gets_the_caseworkers_reply_on_telegram(client, db, settings, fake, world, login):
    say(client, text_update(708, "I want to talk to a person", language_code="en"))
    conversation = conversation_of(db, 708, settings)
    case = db.get(CaseFile, conversation.case_id)
    assert case is not None
    login(world.caseworker.email, "long enough password", locale="en")
    page = client.get(f"/en/staff/cases/{case.reference}")
    assert "Telegram" in page.text
    before = len(fake.sent(708))
    client.post(f"/en/staff/cases/{case.reference}/chat", data={"csrf_token": csrf_from(page.text), "reply": "Hello, Kasia here."})
    texts = [body["text"] for body in fake.sent(708)[before:]]
    assert texts == [translations("en").ugettext("A person from our team has joined the chat."), "Hello, Kasia here."]
    page = client.get(f"/en/staff/cases/{case.reference}")
    assert "Delivered" in page.text


def test_a_blocked_bot_is_shown_to_the_caseworker_and_retried(client, db, settings, fake, world, login):
    say(client, text_update(709, "I want to talk to a person", language_code="en"))
    case = db.get(CaseFile, conversation_of(db, 709, settings).case_id)
    login(world.caseworker.email, "long enough password", locale="en")
    page = client.get(f"/en/staff/cases/{case.reference}")
    fake.fail_next(403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"})
    client.post(f"/en/staff/cases/{case.reference}/chat", data={"csrf_token": csrf_from(page.text), "reply": "Are you there?"})
    page = client.get(f"/en/staff/cases/{case.reference}")
    assert "bot was blocked by the user" in page.text and "Not delivered yet" in page.text
    deliver_later(db, settings, utcnow() + timedelta(minutes=10))
    page = client.get(f"/en/staff/cases/{case.reference}")
    assert "Delivered" in page.text


def test_set_webhook_points_telegram_at_witaj_with_the_secret(settings, fake, monkeypatch):
    from click.testing import CliRunner

    from app.cli import main as cli

    monkeypatch.setenv("WITAJ_TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("WITAJ_TELEGRAM_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("WITAJ_TELEGRAM_API_URL", fake.url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["channels", "telegram", "set-webhook", "--url", "https://witaj.example/webhooks/telegram"])
        status = CliRunner().invoke(cli, ["channels", "status"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    [request] = fake.requests_to("/setWebhook")
    assert request.body["url"] == "https://witaj.example/webhooks/telegram" and request.body["secret_token"] == SECRET
    assert "telegram" in status.output and "on" in status.output


def test_the_jobs_runner_sends_what_the_provider_refused_once_and_only_once(fresh_engine, settings, fake):
    """A real database whose commits are real: the turn queues, Telegram answers 502, and the jobs
    runner (app/jobs.py, as `witaj jobs run` or the app's loop) sends it after the back-off."""
    from app import jobs
    from app.assistant.channels import flows as channel_flows
    from app.assistant.channels.shapes import Inbound
    from app.db import session_factory

    fake.fail_next(502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})
    with session_factory(fresh_engine, write=True)() as db:
        conversed = channel_flows.converse(
            db=db, settings=settings, address="710",
            inbound=Inbound(channel="telegram", sender="710", text="Привіт", message_id="9001"),
        )
        assert conversed.deliveries
        assert channel_flows.deliver(db=db, settings=settings, ids=conversed.deliveries)["retry"] >= 1
    refused = len(fake.sent(710))
    # Not yet due: nothing is sent again before the back-off.
    assert jobs.run_once(engine=fresh_engine, settings=settings)["messages_sent"] == 0
    counts = jobs.run_once(engine=fresh_engine, settings=settings, now=utcnow() + timedelta(minutes=5))
    assert counts["messages_sent"] == 1 and refused == len(conversed.deliveries)  # the refused one, now taken
    assert jobs.run_once(engine=fresh_engine, settings=settings, now=utcnow() + timedelta(hours=1))["messages_sent"] == 0
    texts = [body["text"] for body in fake.sent(710)]
    assert len(texts) == len(set(texts)) + 1  # only the refused one was sent twice


def test_a_refused_reply_is_shown_to_the_caseworker_and_only_a_known_reason(client, db, settings, fake, world, login, app):
    say(client, text_update(711, "I want to talk to a person", language_code="en"))
    case = db.get(CaseFile, conversation_of(db, 711, settings).case_id)
    login(world.caseworker.email, "long enough password", locale="en")
    page = client.get(f"/en/staff/cases/{case.reference}")
    app.state.settings = get_settings()  # the channel switched off since the chat began
    page = client.post(
        f"/en/staff/cases/{case.reference}/chat", data={"csrf_token": csrf_from(page.text), "reply": "Still there?"}
    )
    assert "The Telegram channel is switched off, so the client would not get this reply." in page.text
    assert "Still there?" not in page.text  # nothing was stored or sent
    assert fake.sent(711)[-1]["text"] != "Still there?"
    # A reason in the address is shown only when it is one of ours.
    page = client.get(f"/en/staff/cases/{case.reference}", params={"chat_error": "Call +48 000 000 000 now"})
    assert "Call +48 000 000 000 now" not in page.text


def test_a_message_longer_than_a_turn_takes_is_answered_with_the_limit_in_the_users_language(client, db, settings, fake):
    say(client, text_update(712, "Привіт"))
    before = len(fake.sent(712))
    say(client, text_update(712, "слово " * 500))
    [notice] = fake.sent(712)[before:]
    assert notice["text"] == ua("Enter at most %(max)s characters.") % {"max": chat_service.MAX_MESSAGE}


def test_a_delivery_sent_while_turns_run_is_marked_by_the_next_turn_or_by_its_own_write(fresh_engine, settings, fake, monkeypatch):
    """Sent while another messenger turn runs in this process, a delivery waits to be marked
    delivered by that turn's write (one write a turn, not two); with no turn to take it, the sending
    thread writes it itself. Either way it is marked once and never sent again."""
    import threading

    from app.assistant.channels import flows as channel_flows
    from app.assistant.channels.shapes import Inbound
    from app.db import session_factory

    sessions = session_factory(fresh_engine, write=True)
    recorder = channel_flows._recorder
    monkeypatch.setattr(recorder, "WAIT", 60.0)  # the turn below comes well within it

    def queue(chat: int) -> list:
        with sessions() as db:
            conversed = channel_flows.converse(
                db=db, settings=settings, address=str(chat),
                inbound=Inbound(channel="telegram", sender=str(chat), text="Привіт", message_id=f"{chat}-1"),
            )
        return conversed.sendings

    def send(sendings) -> dict:
        with sessions() as db:
            return channel_flows.send_now(db=db, settings=settings, sendings=sendings)

    def state(ids):
        with sessions() as db:
            return [(row.delivered_at is not None, row.attempts) for row in db.scalars(select(ChannelDelivery).where(ChannelDelivery.id.in_(ids)))]

    first = queue(720)
    ids = [s.delivery_id for s in first]
    recorder.turn_started()  # a turn of another chat is running: the sender leaves the write to it
    counts: dict = {}
    thread = threading.Thread(target=lambda: counts.update(send(first)))
    thread.start()
    try:
        with recorder.changed:
            assert recorder.changed.wait_for(lambda: set(ids) <= set(recorder.taken), timeout=30)
        assert state(ids) == [(False, 0)]  # taken by Telegram, not yet written
        queue(721)  # the next turn marks it delivered in its own transaction
    finally:
        recorder.turn_ended()
    thread.join(30)
    assert counts == {"sent": 0, "retry": 0, "failed": 0}  # the thread wrote nothing itself
    assert state(ids) == [(True, 1)] and recorder.pending() == []
    # No turn running: the sender writes at once.
    second = queue(722)
    assert send(second)["sent"] == 1
    assert state([s.delivery_id for s in second]) == [(True, 1)]
    # A turn runs but never takes it (it had passed its write): after WAIT the sender writes it.
    third = queue(723)
    monkeypatch.setattr(recorder, "WAIT", 0.01)
    recorder.turn_started()
    try:
        assert send(third)["sent"] == 1
    finally:
        recorder.turn_ended()
    assert state([s.delivery_id for s in third]) == [(True, 1)] and recorder.pending() == []
    texts = [body["text"] for body in fake.sent(720)]
    assert texts and len(texts) == len(set(texts))  # each message of the answer once


def test_an_answer_is_rated_with_telegrams_buttons_and_the_next_words_are_the_comment(client, db, settings, fake):
    from app.assistant import review
    from app.assistant.models import AnswerFeedback
    from app.crypto import decrypt_json
    from app.i18n import use_locale

    say(client, text_update(720, "Мені потрібен дозвіл на роботу"))
    rows = [row for body in fake.sent(720) for row in body.get("reply_markup", {}).get("inline_keyboard", [])]
    asked = fake.sent(720)[-1]
    assert asked["text"] == ua("Did this answer help?")  # a question of its own, after the answer
    unhelpful = next(b["callback_data"] for row in rows for b in row if b.get("text") == ua("Not helpful"))
    say(client, button_update(720, unhelpful))
    feedback = db.scalar(select(AnswerFeedback))
    assert feedback.channel == "telegram" and feedback.helpful is False and feedback.language == "uk"
    assert feedback.intent == "work_permit"
    with use_locale("uk"):
        thanks = review.rating_thanks(False, asked_more=True)
    assert any(body["text"] == thanks for body in fake.sent(720))  # asked what they looked for
    say(client, text_update(720, "про сезонну роботу"))
    db.expire_all()
    assert decrypt_json(db.scalar(select(AnswerFeedback)).comment_encrypted)["comment"] == "про сезонну роботу"

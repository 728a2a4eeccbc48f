"""The channel layer (app/assistant/channels/): one inbound and one outbound shape for every
channel, with the real dialogues, NLU model and database. The REST channel is its first adapter
(tests/assistant/test_channels.py drives it through HTTP)."""

from __future__ import annotations

import pytest

from app.assistant import service
from app.assistant.channels import flows as channel_flows
from app.assistant.channels.shapes import Button, Inbound, Outbound, from_bot, from_person
from app.assistant.runtime import BotMessage
from app.i18n import translations


def converse(**arguments):
    """Return the conversation and the answers of one message through the layer."""
    conversed = channel_flows.converse(**arguments)
    return conversed.conversation, conversed.out


def link(language: str, form_id: str) -> str:
    return f"https://witaj.example/{language}/forms/{form_id}"


def test_a_bots_buttons_become_quick_replies_and_links():
    message = BotMessage(
        text="Here is the form.",
        buttons=[{"title": "Yes", "payload": "/affirm"}, {"title": "Open the form", "form": "gup-rejestracja"}],
    )
    shaped = from_bot(message, lambda form_id: link("en", form_id))
    assert shaped.text == "Here is the form." and shaped.author == "bot"
    assert shaped.quick_replies == (Button(title="Yes", payload="/affirm"),)
    assert shaped.links == (Button(title="Open the form", url="https://witaj.example/en/forms/gup-rejestracja"),)
    # A channel without links (no address to give) gets the quick replies only.
    assert from_bot(message).buttons == (Button(title="Yes", payload="/affirm"),)


def test_a_machine_translation_is_marked_in_the_newcomers_language():
    view = {"text": "Добрий день, це Кася.", "original": "Dzień dobry, tu Kasia.", "machine": True, "untranslated": False}
    shown = from_person(view, author="staff", language="uk")
    catalog = translations("uk")
    assert shown.author == "staff"
    assert shown.text.startswith("Добрий день, це Кася.")
    assert catalog.ugettext("Machine translated") in shown.text and "Dzień dobry, tu Kasia." in shown.text
    plain = {"text": "Hello", "original": None, "machine": False, "untranslated": False}
    assert from_person(plain, author="staff", language="en") == Outbound(text="Hello", author="staff")


def test_a_conversation_starts_in_the_channels_language_and_answers_with_quick_replies(db, settings, world):
    # A reference carries no language: the channel's hint (a poster's deep link, a messenger's
    # interface language) chooses the conversation's.
    conversation, out = converse(
        db=db, settings=settings, inbound=Inbound(channel="rest", sender="layer-1", text="/greet", language_hint="uk"),
        link=link,
    )
    assert conversation.language == "uk" and conversation.channel == "rest"
    greeting = translations("uk").ugettext(service_response(settings, "utter_greet")).splitlines()[0]
    assert greeting in out[0].text
    assert any(message.quick_replies for message in out)
    # The words written decide after that.
    conversation, out = converse(
        db=db, settings=settings,
        inbound=Inbound(channel="rest", sender="layer-1", text="I would like to register as unemployed", language_hint="uk"),
        link=link,
    )
    assert conversation.language == "en"
    assert any(b.url == link("en", "gup-rejestracja") for message in out for b in message.links)


def test_the_teams_messages_come_first_and_once(db, settings, world):
    inbound = Inbound(channel="rest", sender="layer-2", text="I want to talk to a person", language_hint="en")
    conversation, _out = converse(db=db, settings=settings, inbound=inbound)
    assert conversation.case_id is not None
    service.staff_reply(db=db, settings=settings, conversation=conversation, user_id=world.caseworker.id, text="Kasia here.", language="en")
    db.commit()
    _conversation, out = converse(db=db, settings=settings, inbound=Inbound(channel="rest", sender="layer-2", text="hello?"))
    from_team = [message for message in out if message.author in ("staff", "system")]
    assert [message.text for message in from_team if message.author == "staff"] == ["Kasia here."]
    assert out[: len(from_team)] == from_team  # before anything else
    _conversation, out = converse(db=db, settings=settings, inbound=Inbound(channel="rest", sender="layer-2", text="thanks"))
    assert not any(message.text == "Kasia here." for message in out)  # delivered once


def service_response(settings, name: str) -> str:
    from app.assistant import flows

    return flows.dialogue_engine(settings).data.domain.responses[name][0].text


def test_a_delivery_the_provider_repeats_runs_no_second_turn(db, settings, world):
    from sqlalchemy import func, select

    from app.assistant.models import ConversationMessage

    inbound = Inbound(channel="rest", sender="layer-3", text="I lost my job", language_hint="en", message_id="update-41")
    conversation, first = converse(db=db, settings=settings, inbound=inbound)
    assert first
    again, second = converse(db=db, settings=settings, inbound=inbound)
    assert again.id == conversation.id and second == []
    count = func.count(ConversationMessage.id)
    mine = ConversationMessage.conversation_id == conversation.id
    assert db.scalar(select(count).where(mine, ConversationMessage.author == "user")) == 1
    # Another message (another id, or the same words sent again by the newcomer) is a new turn.
    _conversation, third = converse(db=db, settings=settings, inbound=Inbound(**{**inbound.__dict__, "message_id": "update-42"}))
    assert third
    assert db.scalar(select(count).where(mine, ConversationMessage.author == "user")) == 2


def test_a_photo_or_voice_message_is_answered_that_only_words_are_read_and_nothing_is_kept(db, settings, world):
    from sqlalchemy import func, select

    from app.assistant.models import ConversationMessage

    english = (
        "I can read only written messages for now: photos, voice messages and files do not reach me. "
        "Please write your question in words."
    )
    conversation, out = converse(
        db=db, settings=settings, inbound=Inbound(channel="rest", sender="layer-4", text="", language_hint="vi", attachments=1)
    )
    assert conversation is None  # nothing started, nothing kept
    assert [message.text for message in out] == [translations("vi").ugettext(english)]
    assert out[0].text != english
    # With a caption, the caption is answered after the notice.
    conversation, out = converse(
        db=db, settings=settings,
        inbound=Inbound(channel="rest", sender="layer-4", text="tôi muốn học tiếng Ba Lan", language_hint="vi", attachments=1),
    )
    assert out[0].text == translations("vi").ugettext(english) and len(out) > 1
    stored = db.scalars(select(ConversationMessage.text).where(ConversationMessage.conversation_id == conversation.id, ConversationMessage.author == "user")).all()
    assert stored == ["tôi muốn học tiếng Ba Lan"]
    assert db.scalar(select(func.count(ConversationMessage.id)).where(ConversationMessage.text == "")) == 0


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("merhaba", "tr"),  # a first "hello" in a messenger starts the conversation in its language
        ("gamarjoba", "ka"),
        ("xin chào", "vi"),
        ("marhaba", "ar"),
        ("pryvit", "uk"),
        ("hola, busco trabajo", "es"),
        ("qwpoeiru zxmcvnb", "pl"),  # keys struck at random: the city's first language
        ("KRK-2026-000123", "pl"),  # no language in it
    ],
)
def test_a_first_message_chooses_the_conversations_language(db, settings, world, text, language):
    sender = f"first-{abs(hash(text))}"
    conversation, out = converse(db=db, settings=settings, inbound=Inbound(channel="rest", sender=sender, text=text))
    assert conversation.language == language
    assert out


def test_a_first_message_through_rests_http_is_answered_in_its_language(client, settings, world):
    greeting = service_response(settings, "utter_greet").splitlines()[0]
    answer = client.post("/webhooks/rest/webhook", json={"sender": "first-http", "message": "merhaba"}).json()
    assert translations("tr").ugettext(greeting) in answer[0]["text"]


def test_a_conversation_started_again_chooses_its_language_again(db, settings, world):
    """The process remembers the language of a sender; a conversation that is gone since (erased)
    starts again in the language of the new first message, not in the one remembered."""
    from app.assistant.models import Conversation

    conversation, _out = converse(db=db, settings=settings, inbound=Inbound(channel="rest", sender="again", text="dzień dobry"))
    assert conversation.language == "pl"
    db.delete(db.get(Conversation, conversation.id))
    db.commit()
    conversation, _out = converse(db=db, settings=settings, inbound=Inbound(channel="rest", sender="again", text="merhaba"))
    assert conversation.language == "tr"

"""A newcomer and a caseworker who share no language chat after handover, through machine
translation with the real argostranslate and tiny models the suite builds (no network)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.assistant.models import Conversation, ConversationMessage
from app.cases.models import CaseFile
from app.languages import KNOWN_LOCALES, RTL_LOCALES
from tests.conftest import csrf_from
from tests.translation.fixtures import NEWER_WORDS


@pytest.fixture
def patient_app(app, settings):
    """The app with translations awaited (the first one also imports argostranslate)."""
    app.state.settings = settings.model_copy(update={"translation_wait_seconds": 60})
    return app


def rest(client, sender, message):
    response = client.post("/webhooks/rest/webhook", json={"sender": sender, "message": message})
    assert response.status_code == 200
    return response.json()


def test_newcomer_and_caseworker_without_a_common_language(both_ways, patient_app, client, db, world, login):
    sender = "uk-newcomer"
    rest(client, sender, '/change_language{"language": "uk"}')
    rest(client, sender, "/human_handoff")
    rest(client, sender, "кіт їсть хліб")
    conversation = db.scalar(select(Conversation).where(Conversation.sender_id == sender))
    message = db.scalars(select(ConversationMessage).where(ConversationMessage.text == "кіт їсть хліб")).one()
    stored = message.data["translations"]["pl"]
    assert stored["text"] == "kot je chleb" and stored["engine"] == "argos" and "+" in stored["model_version"]  # pivot

    case = db.get(CaseFile, conversation.case_id)
    login(world.caseworker.email, "long enough password", locale="pl")
    page = client.get(f"/pl/staff/cases/{case.reference}")
    assert "kot je chleb" in page.text and "кіт їсть хліб" in page.text  # translation, and the original
    client.post(f"/pl/staff/cases/{case.reference}/chat", data={"csrf_token": csrf_from(page.text), "reply": "dzień dobry"})

    answer = rest(client, sender, "дякую")
    texts = "\n".join(m["text"] for m in answer)
    assert "день добрий" in texts and "dzień dobry" in texts  # the newcomer reads Ukrainian, and can see the original
    reply = db.scalars(select(ConversationMessage).where(ConversationMessage.author == "staff")).one()
    assert reply.text == "dzień dobry" and reply.data["translations"]["uk"]["text"] == "день добрий"


@pytest.mark.parametrize("language", [code for code in ("ar", "hi") if code in KNOWN_LOCALES])
def test_a_newer_languages_newcomer_and_a_polish_caseworker_through_english(
    language, newer_models, patient_app, client, db, world, login
):
    """Arabic or Hindi -> English -> Polish and back, with the real argostranslate: the case page shows
    the translation and the original, each message right to left or left to right as its language goes."""
    words = NEWER_WORDS[language]
    sentence = " ".join(words[w] for w in ("cat", "eats", "bread"))
    sender = f"{language}-newcomer"
    rest(client, sender, '/change_language{"language": "%s"}' % language)
    rest(client, sender, "/human_handoff")
    rest(client, sender, sentence)
    message = db.scalars(select(ConversationMessage).where(ConversationMessage.text == sentence)).one()
    stored = message.data["translations"]["pl"]
    assert stored["text"] == "kot je chleb" and "+" in stored["model_version"]  # through English
    conversation = db.scalar(select(Conversation).where(Conversation.sender_id == sender))
    case = db.get(CaseFile, conversation.case_id)
    login(world.caseworker.email, "long enough password", locale="pl")
    page = client.get(f"/pl/staff/cases/{case.reference}")
    direction = "rtl" if language in RTL_LOCALES else "ltr"
    assert page.text.count(f'lang="{language}" dir="{direction}"') >= 2  # the message and its original
    assert '<html lang="pl" dir="ltr">' in page.text and "kot je chleb" in page.text
    client.post(f"/pl/staff/cases/{case.reference}/chat", data={"csrf_token": csrf_from(page.text), "reply": "dzień dobry"})
    answer = rest(client, sender, words["thanks"])
    expected = f"{words['day']} {words['good']}"
    assert expected in "\n".join(m["text"] for m in answer)
    reply = db.scalars(select(ConversationMessage).where(ConversationMessage.author == "staff")).one()
    assert reply.data["translations"][language]["text"] == expected


def test_without_a_model_the_original_is_delivered_at_once(patient_app, client, db, world, login):
    """No be<->pl model: nothing is lost, the original goes through and is marked untranslated."""
    sender = "be-newcomer"
    rest(client, sender, '/change_language{"language": "be"}')
    rest(client, sender, "/human_handoff")
    rest(client, sender, "добры дзень")
    message = db.scalars(select(ConversationMessage).where(ConversationMessage.text == "добры дзень")).one()
    assert "translations" not in message.data
    conversation = db.scalar(select(Conversation).where(Conversation.sender_id == sender))
    case = db.get(CaseFile, conversation.case_id)
    login(world.caseworker.email, "long enough password", locale="pl")
    page = client.get(f"/pl/staff/cases/{case.reference}")
    assert "добры дзень" in page.text and "msg-note" in page.text

"""A chat turn is one transaction: what it opens in other domains (a case, the transcript note) is
committed with its messages, or not at all."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.assistant import flows
from app.assistant.models import Conversation, ConversationMessage
from app.auth import service as auth_service
from app.auth.enums import OrgKind
from app.cases import service as case_service
from app.cases.models import CaseFile, CaseNote
from app.db import session_factory
from app.errors import InvalidInput


@pytest.fixture
def write(fresh_engine, settings):
    """Return a factory of write sessions on a database with real commits and the city office."""
    factory = session_factory(fresh_engine, write=True)
    with factory() as db:
        auth_service.ensure_organisation(
            db=db, slug=settings.office_slug, name=settings.office_name, kind=OrgKind.office
        )
        db.commit()
    return factory


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


def turn(db, settings, sender: str, text: str, then=None):
    return flows.take_turn(
        db=db, settings=settings, channel="rest", sender_id=sender, language="en", text=text, then=then
    )


def test_a_turn_that_fails_after_opening_a_case_leaves_neither_the_case_nor_the_messages(write, settings):
    with write() as db:
        turn(db, settings, "fails", "hello")
        messages_before = count(db, ConversationMessage)

    def fail_after_the_turn(conversation, done):
        # The hand-over has opened a case and written the transcript; then something breaks.
        assert conversation.case_id is not None and done.answer
        raise RuntimeError("the channel could not answer")

    with write() as db, pytest.raises(RuntimeError):
        turn(db, settings, "fails", "/human_handoff", then=fail_after_the_turn)
    with write() as db:
        assert count(db, CaseFile) == 0 and count(db, CaseNote) == 0
        assert count(db, ConversationMessage) == messages_before  # not the message, nor the bot's answer
        conversation = db.scalar(select(Conversation).where(Conversation.sender_id == "fails"))
        assert conversation.case_id is None and conversation.mode == "bot"


def test_a_handover_commits_the_case_the_transcript_and_the_messages_together(write, settings):
    with write() as db:
        turn(db, settings, "handover", "hello")
        before = count(db, ConversationMessage)
        conversation, done, _ = turn(db, settings, "handover", "/human_handoff")
    with write() as db:
        case = db.get(CaseFile, db.get(Conversation, conversation.id).case_id)
        assert case is not None and case.source == "chat"
        assert "hello" in db.scalar(select(CaseNote.body).where(CaseNote.case_id == case.id))
        assert done.answer and count(db, ConversationMessage) == before + 1 + len(done.answer)


def test_a_case_the_chat_cannot_open_takes_nothing_else_of_the_turn_with_it(write, settings, monkeypatch):
    """The case form ends with action_create_case; when the case tracker refuses the case, the
    newcomer is told so and the turn's messages are kept (the refusal rolls back only the case)."""
    real_create = case_service.create

    def create_then_refuse(**kwargs):
        real_create(**kwargs)  # writes a client, a case and its event...
        raise InvalidInput({"subject": "refused"})  # ...then refuses

    sender = "refused"
    with write() as db:
        for message in (
            '/fill_form{"case_topic": "job_search"}',
            "I am looking for work as a cook in Kraków",
            '/inform{"contact_preference": "chat"}',
            "no",
        ):
            turn(db, settings, sender, message)
    monkeypatch.setattr(case_service, "create", create_then_refuse)
    with write() as db:
        _conversation, done, _ = turn(db, settings, sender, "/affirm")
    refused = (
        flows.dialogue_engine(settings)
        .render("utter_case_not_created_error", flows.Tracker(language="en"))
        .text
    )
    assert [m.text for m in done.answer] == [refused]
    with write() as db:
        assert count(db, CaseFile) == 0
        last = db.scalars(select(ConversationMessage).order_by(ConversationMessage.id.desc()).limit(2)).all()
        assert (
            [m.author for m in last] == ["bot", "user"]
            and last[1].text == "/affirm"
            and last[0].text == refused
        )

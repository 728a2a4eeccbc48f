"""`witaj dialogues test`: runs the conversation tests of dialogues/tests (Rasa's test stories)
through the real engine, every action included, against a database of its own in memory, so a city
can check its dialogues anywhere without touching its data."""

from __future__ import annotations

from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from app.assistant.data import DialogueData, Story
from app.assistant.flows import dialogue_engine
from app.assistant.models import Conversation
from app.assistant.runtime import DialogueEngine, Tracker
from app.auth import service as auth_service
from app.auth.enums import OrgKind
from app.config import Settings, get_settings
from app.db import Base, build_engine, session_factory, utcnow


def run_tests(
    data: DialogueData, settings: Settings | None = None, engine: DialogueEngine | None = None
) -> list[tuple[str, bool, str]]:
    """Return (story name, passed, what differed) for every test story."""
    settings = settings or get_settings()
    bot = engine or dialogue_engine(settings)
    results = []
    # One connection for the in-memory database: every session sees the same tables.
    db_engine = build_engine("sqlite://", poolclass=StaticPool)
    try:
        # The tables of conversations, cases and organisations (imported above, with what they refer to).
        Base.metadata.create_all(db_engine)
        with session_factory(db_engine)() as db:
            auth_service.ensure_organisation(
                db=db, slug=settings.office_slug, name=settings.office_name, kind=OrgKind.office
            )
            db.commit()
            for number, story in enumerate(data.tests):
                results.append(_run_story(bot, data, story, settings, db, number))
    finally:
        db_engine.dispose()
    return results


def _run_story(
    bot: DialogueEngine, data: DialogueData, story: Story, settings: Settings, db: Session, number: int
) -> tuple[str, bool, str]:
    conversation = Conversation(
        channel="test", sender_id=f"test-{number}", language=settings.default_locale, state={}
    )
    db.add(conversation)
    db.flush()
    tracker = Tracker(language=settings.default_locale)
    asked: list[str] = []
    steps = list(story.steps)
    index = 0
    while index < len(steps):
        step = steps[index]
        index += 1
        if step.kind != "user":
            continue
        expected_actions = []
        while index < len(steps) and steps[index].kind != "user":
            if steps[index].kind == "action":
                expected_actions.append(steps[index].name)
            index += 1
        parsed = bot.parse(step.user_text or "", tracker)
        if step.entities:
            # Annotated test lines: take the entities as written (like Rasa's e2e tests).
            written = [{"entity": e, "value": data.synonyms.get(str(v).lower(), v)} for e, v in step.entities]
            parsed.entities = written + parsed.entities
        if parsed.language in settings.locales:
            tracker.language = parsed.language
        before = len(tracker.history)
        said = bot.handle(
            tracker=tracker, parsed=parsed, settings=settings, db=db, conversation=conversation, now=utcnow()
        )
        # The intent as the assistant read it in the conversation (a follow-up such as "and on
        # Saturday?" is read as the topic before it).
        if step.name and parsed.intent != step.name:
            return (
                story.name,
                False,
                f"{step.user_text!r}: intent {parsed.intent} ({parsed.confidence:.2f}), expected {step.name}",
            )
        asked.extend(m.response for m in said if m.response)
        repeated = asked_a_third_time(asked)
        if repeated:
            return story.name, False, f"{step.user_text!r}: {repeated} asked a third time in a row"
        done = [h.split(":", 1)[1] for h in tracker.history[before:] if h.startswith("action:")]
        if done != expected_actions:
            return story.name, False, f"{step.user_text!r}: actions {done}, expected {expected_actions}"
    return story.name, True, ""


def asked_a_third_time(responses: list[str]) -> str | None:
    """Return the question (an utter_ask_... response) said three times in a row in responses (what
    the bot said, in order; other questions in between break the run, other answers do not), or None."""
    run, count = None, 0
    for name in responses:
        if not name.startswith("utter_ask_"):
            continue
        run, count = (name, count + 1) if name == run else (name, 1)
        if count >= 3:
            return name
    return None

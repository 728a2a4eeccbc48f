"""The assistant learning from its conversations: newcomers' ratings of answers, their consent, and the
content editors' review queue (what it could not answer, answered unsure, or answered unhelpfully).

Only conversations whose newcomer agreed feed the queue; the question is asked once per conversation,
the first time there is something to review. The queue holds masked text only (masking.py), never
the message itself. Ratings, queue items and idle conversations are deleted after
WITAJ_CONVERSATION_RETENTION_DAYS by the jobs runner (`purge`).

Functions flush; the turn (flows.py) or the route commits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app.assistant import masking
from app.assistant import service as chat_service
from app.assistant.data import DialogueData
from app.assistant.models import (
    AnswerFeedback,
    ChannelDelivery,
    Conversation,
    ConversationMessage,
    ReviewItem,
)
from app.assistant.nlu import FALLBACK_INTENT, words
from app.assistant.runtime import BotMessage, Tracker
from app.config import Settings
from app.crypto import decrypt_json, encrypt_json
from app.db import utcnow
from app.errors import InvalidInput
from app.i18n import _

UNANSWERED, UNSURE, UNHELPFUL = "unanswered", "unsure", "unhelpful"
REASONS = (UNANSWERED, UNSURE, UNHELPFUL)
OPEN, LABELLED, NEW_TOPIC, DISMISSED = "open", "labelled", "new_topic", "dismissed"
STATUSES = (OPEN, LABELLED, NEW_TOPIC, DISMISSED)
#: Intents whose answer is small talk or control, not a topic: not rated, and never "unsure".
NOT_A_TOPIC = frozenset(
    {"greet", "goodbye", "thank", "affirm", "deny", "stop", "inform", "change_language", "delete_conversation",
     "human_handoff", FALLBACK_INTENT}
)
#: Someone who may be in danger (the crisis phrases lead here too) gets the emergency numbers: never a
#: question whether that helped, and nothing of it goes to the queue (health is special-category data).
SENSITIVE = frozenset({"psychological_help"})
#: The newcomer said the assistant could not help: as good as unanswered.
UNANSWERED_INTENTS = frozenset({FALLBACK_INTENT, "out_of_scope"})
MAX_COMMENT = 1000
#: A queue page groups at most this many open items (the newest).
QUEUE_LIMIT = 500
#: Two messages whose letter trigrams overlap this much (Jaccard) are one group.
SIMILAR = 0.45

_CONTROL = re.compile(r"^/(feedback|review_consent)(\{.*\})?\s*$", re.DOTALL)


# --- what the newcomer's buttons send ---------------------------------------------------------------


@dataclass(frozen=True)
class Control:
    """A rating or a consent answer sent as a quick-reply payload (Rasa's `/intent{json}` shape)."""

    kind: str  # feedback or review_consent
    helpful: bool | None = None
    agree: bool | None = None
    comment: str | None = None
    message_id: int | None = None


def control(text: str) -> Control | None:
    """Return the rating or consent answer text carries, or None when it is not one (or malformed)."""
    found = _CONTROL.match(text.strip())
    if found is None:
        return None
    try:
        values = json.loads(found.group(2) or "{}")
    except ValueError:
        return None
    if not isinstance(values, dict):
        return None
    if found.group(1) == "review_consent":
        agree = values.get("agree")
        if agree not in ("yes", "no", True, False):
            return None
        return Control(kind="review_consent", agree=agree in ("yes", True))
    rating = values.get("rating")
    if rating not in ("helpful", "unhelpful"):
        return None
    comment = values.get("comment")
    message = values.get("message")
    return Control(
        kind="feedback",
        helpful=rating == "helpful",
        comment=comment.strip()[:MAX_COMMENT] or None if isinstance(comment, str) else None,
        message_id=message if isinstance(message, int) and 0 < message < 2**31 else None,
    )


#: On a messenger or Rasa's REST channel, whether an answer helped is asked after the first topic's
#: answer and then after every third: a question after every answer would tire people (the web chat
#: offers its small rating box under every answer instead).
ASK_EVERY = 3


def ask_rating(tracker: Tracker) -> bool:
    """Return whether to ask after this topic's answer whether it helped, and count it."""
    if tracker.since_rating_asked is None or tracker.since_rating_asked + 1 >= ASK_EVERY:
        tracker.since_rating_asked = 0
        return True
    tracker.since_rating_asked += 1
    return False


def feedback_question() -> BotMessage:
    """Return the question whether an answer helped, with the two answers as quick replies (messengers
    and Rasa's REST channel)."""
    return BotMessage(
        text=_("Did this answer help?"),
        buttons=[
            {"title": _("Helpful"), "payload": '/feedback{"rating": "helpful"}'},
            {"title": _("Not helpful"), "payload": '/feedback{"rating": "unhelpful"}'},
        ],
    )


def consent_question(settings: Settings) -> BotMessage:
    """Return the question whether the team may read what the assistant could not answer."""
    return BotMessage(
        text=_(
            "May our team read the questions I could not answer well, to teach me to answer them? Names, "
            "phone numbers and other personal details are hidden, and everything is deleted after %(days)s days.",
            days=settings.conversation_retention_days,
        ),
        buttons=[
            {"title": _("Yes, you may"), "payload": '/review_consent{"agree": "yes"}'},
            {"title": _("No, thank you"), "payload": '/review_consent{"agree": "no"}'},
        ],
    )


def consent_thanks(agree: bool) -> str:
    """Return the answer to the newcomer's yes or no."""
    if agree:
        return _("Thank you. Our team will read them with your personal details hidden.")
    return _("All right: nobody from our team will read them.")


def rating_thanks(helpful: bool, *, asked_more: bool) -> str:
    """Return the answer to a rating (after "not helpful", asking what they looked for, unless they said)."""
    if helpful:
        return _("Thank you! I am glad it helped.")
    if asked_more:
        return _(
            "Thank you for telling us. What were you looking for? Write it in a few words, or ask your "
            "question in other words."
        )
    return _("Thank you for telling us.")


def has_words(text: str) -> bool:
    """Return whether text has words besides its numbers, addresses and masked parts."""
    return bool(_shape(masking.mask(text).text))


# --- what a turn gives the queue --------------------------------------------------------------------


def content_version(data: DialogueData) -> str:
    """Return the dialogues' version an answer came from: the start of their fingerprint."""
    return data.fingerprint[:12]


_vocabularies: dict[str, frozenset[str]] = {}


def vocabulary(data: DialogueData) -> frozenset[str]:
    """Return the words masking keeps although capitalised (the dialogues' own words, place names),
    made once per version of the dialogues."""
    found = _vocabularies.get(data.fingerprint)
    if found is None:
        if len(_vocabularies) > 4:
            _vocabularies.clear()
        found = _vocabularies[data.fingerprint] = masking.vocabulary(data)
    return found


def mask(text: str, data: DialogueData) -> str:
    """Return text with personal data hidden (names, numbers, e-mail addresses, PESEL, case references)."""
    return masking.mask(text, known_words=vocabulary(data)).text


def reason_for(*, intent: str, confidence: float, threshold: float) -> str | None:
    """Return why a newcomer's message (read outside a form) goes to the queue, or None."""
    if intent in SENSITIVE:
        return None
    if intent in UNANSWERED_INTENTS:
        return UNANSWERED
    if intent not in NOT_A_TOPIC and confidence < threshold:
        return UNSURE
    return None


#: Intents whose answer is a step of a task (a booking, a form, a case's status), not information.
TASKS = frozenset({"appointment", "appointment_move", "appointment_cancel", "fill_form", "case_status"})
#: Quick replies that answer a question the assistant asked: an answer ending with one is not rated.
_ANSWERING = ("/affirm", "/deny", "/inform", "/stop")


def rateable(intent: str, answer: Sequence[BotMessage]) -> bool:
    """Return whether an answer to a message of intent may be rated: information on a topic, not small
    talk, a step of a task, or a question waiting for the newcomer's answer."""
    if intent in NOT_A_TOPIC or intent in UNANSWERED_INTENTS or intent in TASKS or intent in SENSITIVE or not answer:
        return False
    return not any(str(b.get("payload", "")).startswith(_ANSWERING) for b in answer[-1].buttons)


def note(
    *, db: Session, tracker: Tracker, message: ConversationMessage, reason: str, data: DialogueData,
    comment: str | None = None,
) -> bool:
    """Put the newcomer's message in the queue if they agreed, keep it waiting for their answer if they
    were not asked yet; return whether to ask them now (once per conversation). Flushes."""
    if tracker.review_consent == "yes":
        add_item(db=db, message=message, reason=reason, data=data, comment=comment)
        return False
    if tracker.review_consent == "no":
        return False
    if message.id not in tracker.review_pending:
        tracker.review_pending = [*tracker.review_pending, message.id][-20:]
    # Why it waits is kept on the message itself: nothing of it is copied before the newcomer agrees.
    message.data = {**(message.data or {}), "review": reason}
    ask = not tracker.consent_asked
    tracker.consent_asked = True
    return ask


def add_item(
    *, db: Session, message: ConversationMessage, reason: str, data: DialogueData, comment: str | None = None
) -> ReviewItem:
    """Return the queue's item of a newcomer's message, made now (masked) if it has none. Flushes."""
    item = db.scalar(select(ReviewItem).where(ReviewItem.message_id == message.id))
    fields = message.data or {}
    if item is None:
        item = ReviewItem(
            conversation_id=message.conversation_id, message_id=message.id, language=message.language or "",
            text_masked=mask(message.text, data), reason=reason, intent=fields.get("intent"),
            confidence=fields.get("confidence"), content_version=content_version(data),
        )
        db.add(item)
    elif reason == UNHELPFUL and item.status == OPEN:
        item.reason = UNHELPFUL  # answered, and the answer did not help: the stronger signal
    if comment:
        item.comment_masked = mask(comment, data)
    db.flush()
    return item


def answer_consent(*, db: Session, tracker: Tracker, conversation: Conversation, agree: bool, data: DialogueData) -> int:
    """Record the newcomer's answer; on yes, the messages that waited enter the queue. Return how many."""
    tracker.review_consent = "yes" if agree else "no"
    tracker.consent_asked = True
    waiting, tracker.review_pending = tracker.review_pending, []
    if not agree:
        # Changed their mind: what is still open of this conversation leaves the queue.
        db.execute(delete(ReviewItem).where(ReviewItem.conversation_id == conversation.id, ReviewItem.status == OPEN))
        return 0
    if not waiting:
        return 0
    found = db.scalars(
        select(ConversationMessage).where(
            ConversationMessage.conversation_id == conversation.id, ConversationMessage.id.in_(waiting),
            ConversationMessage.author == "user",
        )
    ).all()
    for message in found:
        comment = _comment_of(db, message)
        add_item(db=db, message=message, reason=(message.data or {}).get("review", UNSURE), data=data, comment=comment)
    return len(found)


def _comment_of(db: Session, question: ConversationMessage) -> str | None:
    """Return the comment on the answer to question (rated, between it and the newcomer's next
    message), decrypted; None without one."""
    query = select(AnswerFeedback).where(
        AnswerFeedback.conversation_id == question.conversation_id, AnswerFeedback.message_id > question.id
    )
    following = db.scalar(
        select(func.min(ConversationMessage.id)).where(
            ConversationMessage.conversation_id == question.conversation_id, ConversationMessage.author == "user",
            ConversationMessage.id > question.id,
        )
    )
    if following is not None:
        query = query.where(AnswerFeedback.message_id < following)
    feedback = db.scalar(query.order_by(AnswerFeedback.message_id).limit(1))
    if feedback is None or feedback.comment_encrypted is None:
        return None
    return decrypt_json(feedback.comment_encrypted).get("comment")


# --- ratings ----------------------------------------------------------------------------------------


@dataclass
class Rated:
    """What a rating did: the answer rated, the feedback row, and whether to ask the newcomer's consent now."""

    answer: ConversationMessage
    feedback: AnswerFeedback
    ask_consent: bool = False


def rateable_answer(*, db: Session, conversation: Conversation, message_id: int | None = None) -> ConversationMessage | None:
    """Return the answer a rating is for: message_id if it is a rateable answer of this conversation,
    else (no id) its last rateable answer; None when there is none."""
    query = select(ConversationMessage).where(
        ConversationMessage.conversation_id == conversation.id, ConversationMessage.author == "bot"
    )
    if message_id is not None:
        found = db.scalar(query.where(ConversationMessage.id == message_id))
        return found if found is not None and (found.data or {}).get("rate") else None
    # The newest answer that may be rated, among the last few (a rating comes right after its answer).
    recent = db.scalars(query.order_by(ConversationMessage.id.desc()).limit(12))
    return next((m for m in recent if (m.data or {}).get("rate")), None)


def rate(
    *, db: Session, settings: Settings, conversation: Conversation, tracker: Tracker, answer: ConversationMessage,
    helpful: bool, comment: str | None, data: DialogueData, now: datetime | None = None,
) -> Rated:
    """Store the newcomer's rating of answer (again: it changes); an unhelpful one puts the question it
    answered in the queue (with their consent). Flushes."""
    now = now or utcnow()
    given = (answer.data or {}).get("rate") or {}
    feedback = db.scalar(select(AnswerFeedback).where(AnswerFeedback.message_id == answer.id))
    if feedback is None:
        feedback = AnswerFeedback(
            conversation_id=conversation.id, message_id=answer.id, channel=conversation.channel,
            intent=given.get("intent"), confidence=given.get("confidence"), language=answer.language or conversation.language,
            content_version=given.get("version") or "", created_at=now, helpful=helpful,
        )
        db.add(feedback)
    feedback.helpful = helpful
    feedback.updated_at = now
    if comment:
        feedback.comment_encrypted = encrypt_json({"comment": comment[:MAX_COMMENT]}, settings)
    db.flush()
    ask = False
    if not helpful:
        question = _question_of(db, answer)
        if question is not None:
            ask = note(db=db, tracker=tracker, message=question, reason=UNHELPFUL, data=data, comment=comment)
    return Rated(answer=answer, feedback=feedback, ask_consent=ask)


def add_comment(
    *, db: Session, settings: Settings, tracker: Tracker, answer_id: int, text: str, data: DialogueData
) -> bool:
    """Attach the newcomer's words to their rating of answer_id (and, masked, to its queue item); return
    whether there was such a rating. Flushes."""
    feedback = db.scalar(select(AnswerFeedback).where(AnswerFeedback.message_id == answer_id))
    if feedback is None:
        return False
    comment = text.strip()[:MAX_COMMENT]
    if not comment:
        return False
    feedback.comment_encrypted = encrypt_json({"comment": comment}, settings)
    answer = db.get(ConversationMessage, answer_id)
    question = _question_of(db, answer) if answer is not None else None
    if question is not None:
        item = db.scalar(select(ReviewItem).where(ReviewItem.message_id == question.id))
        if item is not None:
            item.comment_masked = mask(comment, data)
    db.flush()
    return True


def _question_of(db: Session, answer: ConversationMessage) -> ConversationMessage | None:
    """Return the newcomer's message an answer answered (their last one before it)."""
    return db.scalar(
        select(ConversationMessage).where(
            ConversationMessage.conversation_id == answer.conversation_id, ConversationMessage.author == "user",
            ConversationMessage.id < answer.id,
        ).order_by(ConversationMessage.id.desc()).limit(1)
    )


def ratings(*, db: Session, message_ids: Iterable[int]) -> dict[int, bool]:
    """Return message id -> helpful for the rated ones among message_ids (what the chat page shows)."""
    ids = list(message_ids)
    if not ids:
        return {}
    rows = db.execute(select(AnswerFeedback.message_id, AnswerFeedback.helpful).where(AnswerFeedback.message_id.in_(ids)))
    return {message_id: helpful for message_id, helpful in rows}


def check_comment(text: str) -> str:
    """Return the comment trimmed; raise InvalidInput when it is too long."""
    text = (text or "").strip()
    if len(text) > MAX_COMMENT:
        raise InvalidInput({"comment": _("Enter at most %(max)s characters.", max=MAX_COMMENT)})
    return text


# --- the queue ----------------------------------------------------------------------------------------


@dataclass
class Group:
    """Open items of one language written alike, newest first; the first stands for the group."""

    language: str
    items: list[ReviewItem] = field(default_factory=list)

    @property
    def first(self) -> ReviewItem:
        """Return the item that stands for the group (the newest)."""
        return self.items[0]

    @property
    def ids(self) -> list[int]:
        """Return the ids of the group's items."""
        return [item.id for item in self.items]


def _shape(text: str) -> frozenset[str]:
    """Return the letter trigrams of text's words (placeholders left out): what "written alike" compares."""
    folded = " ".join(w for w in words(re.sub(r"\[[^\]]{1,12}\]", " ", text)))
    padded = f" {folded} "
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


def _alike(a: frozenset[str], b: frozenset[str]) -> bool:
    if not a or not b:
        return a == b
    return len(a & b) / len(a | b) >= SIMILAR


def open_counts(*, db: Session) -> dict[str, int]:
    """Return language -> number of open items."""
    rows = db.execute(
        select(ReviewItem.language, func.count()).where(ReviewItem.status == OPEN).group_by(ReviewItem.language)
    )
    return {language: count for language, count in sorted(rows)}


def open_groups(*, db: Session, language: str | None = None, limit: int = QUEUE_LIMIT) -> list[Group]:
    """Return the newest open items (at most limit) in groups: by language, then by similar wording;
    the largest groups first."""
    query = select(ReviewItem).where(ReviewItem.status == OPEN)
    if language:
        query = query.where(ReviewItem.language == language)
    items = db.scalars(query.order_by(ReviewItem.id.desc()).limit(limit)).all()
    groups: list[tuple[Group, frozenset[str]]] = []
    for item in items:
        shape = _shape(item.text_masked)
        home = next((g for g, s in groups if g.language == item.language and _alike(shape, s)), None)
        if home is None:
            groups.append((Group(language=item.language, items=[item]), shape))
        else:
            home.items.append(item)
    return sorted((g for g, _s in groups), key=lambda g: (-len(g.items), -g.first.id))


def items_for(*, db: Session, ids: Sequence[int]) -> list[ReviewItem]:
    """Return the open items among ids, newest first (one language: the first one's)."""
    found = db.scalars(
        select(ReviewItem).where(ReviewItem.id.in_(list(ids)[:QUEUE_LIMIT]), ReviewItem.status == OPEN).order_by(ReviewItem.id.desc())
    ).all()
    return [item for item in found if item.language == found[0].language] if found else []


def resolve(
    *, db: Session, items: Sequence[ReviewItem], status: str, actor_id: int | None, intent: str | None = None,
    now: datetime | None = None,
) -> int:
    """Record the editor's decision on items (labelled with intent, new topic, dismissed); return how
    many were still open. Flushes."""
    if status not in (LABELLED, NEW_TOPIC, DISMISSED):
        raise ValueError(status)
    now = now or utcnow()
    done = 0
    for item in items:
        if item.status != OPEN:
            continue
        item.status, item.resolved_intent, item.resolved_by_id, item.resolved_at = status, intent, actor_id, now
        done += 1
    db.flush()
    return done


def new_topics(*, db: Session, limit: int = 500) -> list[ReviewItem]:
    """Return the items marked as new topics, newest first (what the content team collects)."""
    return list(
        db.scalars(select(ReviewItem).where(ReviewItem.status == NEW_TOPIC).order_by(ReviewItem.resolved_at.desc(), ReviewItem.id.desc()).limit(limit))
    )


def feedback_counts(*, db: Session, since: datetime | None = None) -> dict[str, dict[str, int]]:
    """Return language -> {"helpful": n, "unhelpful": n} of the ratings (since a time, if given)."""
    query = select(AnswerFeedback.language, AnswerFeedback.helpful, func.count()).group_by(
        AnswerFeedback.language, AnswerFeedback.helpful
    )
    if since is not None:
        query = query.where(AnswerFeedback.created_at >= since)
    counts: dict[str, dict[str, int]] = {}
    for language, helpful, count in db.execute(query):
        counts.setdefault(language, {"helpful": 0, "unhelpful": 0})["helpful" if helpful else "unhelpful"] += count
    return dict(sorted(counts.items()))


# --- retention ----------------------------------------------------------------------------------------


def purge(*, db: Session, settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """Delete what is older than WITAJ_CONVERSATION_RETENTION_DAYS: ratings, queue items, and the chats
    idle that long (with their messages) unless a person still handles them. Return counts. Flushes."""
    cutoff = (now or utcnow()) - timedelta(days=settings.conversation_retention_days)
    ratings_gone = db.execute(delete(AnswerFeedback).where(AnswerFeedback.created_at < cutoff)).rowcount
    items_gone = db.execute(delete(ReviewItem).where(ReviewItem.created_at < cutoff)).rowcount
    idle = select(Conversation.id).where(Conversation.updated_at < cutoff, Conversation.mode.not_in((chat_service.QUEUED, chat_service.HUMAN)))
    ids = list(db.scalars(idle))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        # What waits to be sent stays (a goodbye still goes out); it only forgets the conversation.
        db.execute(update(ChannelDelivery).where(ChannelDelivery.conversation_id.in_(chunk)).values(conversation_id=None, message_id=None))
        chat_service.delete_contents(db=db, conversation_ids=chunk)
        db.execute(delete(Conversation).where(Conversation.id.in_(chunk)))
    db.flush()
    return {"ratings_deleted": ratings_gone or 0, "review_items_deleted": items_gone or 0, "conversations_deleted": len(ids)}

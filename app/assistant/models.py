"""Tables: conversation (state of one chat, kept so a restart resumes it), conversation_message,
channel_delivery, answer_feedback and review_item (the content editors' queue)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.cases.models import CaseFile
from app.db import Base, utcnow


class Conversation(Base):
    """One chat with a newcomer: the bot's tracker state, and who answers (bot, queue, person)."""

    __tablename__ = "conversation"
    __table_args__ = (
        Index("ix_conversation_channel_sender", "channel", "sender_id", unique=True),
        Index("ix_conversation_mode", "mode", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))  # web, rest, telegram, whatsapp, viber
    #: the web cookie token, the REST sender, or a messenger user's keyed hash (service.pseudonym)
    sender_id: Mapped[str] = mapped_column(String(120))
    language: Mapped[str] = mapped_column(String(10))
    mode: Mapped[str] = mapped_column(String(10), default="bot")  # bot, queued, human, closed
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id", ondelete="SET NULL"), default=None, index=True)
    #: Where a messenger delivers answers (Telegram's chat id, a WhatsApp number, a Viber user id),
    #: encrypted like contact details; sender_id is then a keyed hash of it. None for web and REST.
    address_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    case: Mapped[CaseFile | None] = relationship()
    staff_user: Mapped[User | None] = relationship()


class ConversationMessage(Base):
    """One message: from the newcomer, the bot, a staff member or the system. Never edited."""

    __tablename__ = "conversation_message"
    __table_args__ = (
        Index("ix_conversation_message_conversation", "conversation_id", "id"),
        # A provider's id of the newcomer's message: a delivery the provider repeats is one turn.
        Index("ix_conversation_message_external", "conversation_id", "external_id", unique=True),
        # The statistics count the messages of the last days (app/reports/facts.py).
        Index("ix_conversation_message_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(10))  # user, bot, staff, system
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), default=None)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(10), default=None)
    buttons: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # Intent, confidence, entities of user messages; never the secret of a new case.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Bot messages that carry a secret are shown once and stored without it.
    private: Mapped[bool] = mapped_column(default=False)
    #: The channel's id of a newcomer's message (Telegram's update, WhatsApp's wamid), else None.
    external_id: Mapped[str | None] = mapped_column(String(120), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author_user: Mapped[User | None] = relationship(lazy="selectin")  # shown with the message


class ChannelDelivery(Base):
    """One message to send to a newcomer through a messenger's API: written in the transaction that
    produced it (a turn, a caseworker's reply), sent after it, retried with back-off until the
    provider takes it or MAX_ATTEMPTS fail. What it carries (the address, the text) is cleared once it
    is delivered or given up; the row stays as the message's delivery status."""

    __tablename__ = "channel_delivery"
    __table_args__ = (Index("ix_channel_delivery_due", "delivered_at", "failed_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # SET NULL: the goodbye after an erased conversation still goes out.
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversation.id", ondelete="SET NULL"), default=None, index=True
    )
    #: The stored message it delivers (a caseworker's reply: its status is shown on the case page).
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversation_message.id", ondelete="SET NULL"), default=None, index=True
    )
    channel: Mapped[str] = mapped_column(String(20))
    address_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    #: shapes.outbound_json of the message; {} once done.
    body: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    language: Mapped[str] = mapped_column(String(10))
    #: session: an ordinary message; template: WhatsApp's approved template (after its 24-hour window).
    kind: Mapped[str] = mapped_column(String(10), default="session")
    #: Requests of this message the provider already took (a long text goes in parts): a retry
    #: sends only the rest.
    parts_sent: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    failed_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: For notices that answer a message running no turn (a photo alone, a message too long): a keyed
    #: hash of the provider's message id, unique, so a webhook delivery the provider repeats queues
    #: no second notice (a turn's answers are kept from repeating by the stored message's id).
    source_key: Mapped[str | None] = mapped_column(String(80), default=None, unique=True)


class AnswerFeedback(Base):
    """A newcomer's rating of one of the assistant's answers (helpful or not), with what the answer
    was given for: the intent and confidence of the question, the language and the dialogues' version.
    One per answer: rating it again changes it. Deleted with the conversation, or after
    WITAJ_CONVERSATION_RETENTION_DAYS."""

    __tablename__ = "answer_feedback"
    __table_args__ = (Index("ix_answer_feedback_created", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"), index=True)
    #: The bot's message rated (the last of its answer).
    message_id: Mapped[int] = mapped_column(ForeignKey("conversation_message.id", ondelete="CASCADE"), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    helpful: Mapped[bool] = mapped_column()
    #: What the newcomer wrote about it, encrypted (it may name them); None: no comment.
    comment_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    intent: Mapped[str | None] = mapped_column(String(80), default=None)
    confidence: Mapped[float | None] = mapped_column(Float, default=None)
    language: Mapped[str] = mapped_column(String(10))
    #: The dialogues' fingerprint (first 12 characters) the answer came from.
    content_version: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewItem(Base):
    """A newcomer's message for the content editors' review queue: one the assistant could not answer,
    answered unsure, or whose answer was rated unhelpful, from a conversation whose newcomer agreed.
    Only the masked text is kept here (app/assistant/masking.py); the editor's decision is recorded on
    it. Deleted with the conversation, or after WITAJ_CONVERSATION_RETENTION_DAYS."""

    __tablename__ = "review_item"
    __table_args__ = (
        Index("ix_review_item_queue", "status", "language", "id"),
        Index("ix_review_item_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"), index=True)
    #: The newcomer's message (one item per message: a second reason adds to the first).
    message_id: Mapped[int] = mapped_column(ForeignKey("conversation_message.id", ondelete="CASCADE"), unique=True)
    language: Mapped[str] = mapped_column(String(10))
    text_masked: Mapped[str] = mapped_column(Text)
    #: unanswered, unsure or unhelpful
    reason: Mapped[str] = mapped_column(String(12))
    intent: Mapped[str | None] = mapped_column(String(80), default=None)
    confidence: Mapped[float | None] = mapped_column(Float, default=None)
    content_version: Mapped[str] = mapped_column(String(16))
    #: The newcomer's comment on the unhelpful answer, masked.
    comment_masked: Mapped[str | None] = mapped_column(Text, default=None)
    #: open, labelled, new_topic or dismissed
    status: Mapped[str] = mapped_column(String(12), default="open")
    #: labelled: the intent the editor chose
    resolved_intent: Mapped[str | None] = mapped_column(String(80), default=None)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

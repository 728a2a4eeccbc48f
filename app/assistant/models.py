"""Tables: conversation (state of one chat, kept so a restart resumes it) and conversation_message."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
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
    channel: Mapped[str] = mapped_column(String(20))  # web, rest
    sender_id: Mapped[str] = mapped_column(String(120))  # the web cookie token or the REST sender
    language: Mapped[str] = mapped_column(String(10))
    mode: Mapped[str] = mapped_column(String(10), default="bot")  # bot, queued, human, closed
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id", ondelete="SET NULL"), default=None, index=True)
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

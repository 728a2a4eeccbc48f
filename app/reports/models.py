"""Tables of the statistics: facts folded from the case history (report_case, report_referral,
report_handover), the chat's daily counts (report_chat_day) and how far the folding has got
(report_cursor).

They are a projection: `witaj reports rebuild` recomputes them from case_event alone. Nothing in them
is personal: no names, contacts, texts or case references, only categories, languages, districts,
times and durations.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class ReportCase(Base):
    """One case as the statistics see it: when and how it was opened, first answered and closed.
    Each figure belongs to the month it happened in (Europe/Warsaw), so a past month never changes."""

    __tablename__ = "report_case"
    __table_args__ = (
        Index("ix_report_case_opened", "opened_month", "opened_category"),
        Index("ix_report_case_responded", "first_response_month"),
        Index("ix_report_case_closed", "closed_month"),
    )

    case_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    owner_org_id: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(10))  # chat, form, staff, api
    district: Mapped[str | None] = mapped_column(String(80), default=None)
    opened_at: Mapped[datetime]
    opened_month: Mapped[str] = mapped_column(String(7))
    opened_category: Mapped[str] = mapped_column(String(40))
    # The first move out of `new` (triage or dismissal): business hours in `new` against the deadline.
    first_response_at: Mapped[datetime | None] = mapped_column(default=None)
    first_response_month: Mapped[str | None] = mapped_column(String(7), default=None)
    first_response_category: Mapped[str | None] = mapped_column(String(40), default=None)
    first_response_hours: Mapped[float | None] = mapped_column(Float, default=None)
    first_response_limit: Mapped[float | None] = mapped_column(Float, default=None)
    # The first arrival in resolved or closed: business hours of the resolution clock by then.
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_month: Mapped[str | None] = mapped_column(String(7), default=None)
    closed_category: Mapped[str | None] = mapped_column(String(40), default=None)
    resolution_hours: Mapped[float | None] = mapped_column(Float, default=None)
    resolution_limit: Mapped[float | None] = mapped_column(Float, default=None)
    outcome: Mapped[str | None] = mapped_column(String(40), default=None)


class ReportReferral(Base):
    """One referral to a partner: made, answered (accepted, declined, expired, withdrawn) and ended
    (completed, returned, recalled), each in the month it happened."""

    __tablename__ = "report_referral"
    __table_args__ = (
        Index("ix_report_referral_referred", "referred_month", "organisation_id"),
        Index("ix_report_referral_answered", "answered_month", "organisation_id"),
        Index("ix_report_referral_ended", "ended_month", "organisation_id"),
        Index("ix_report_referral_case", "case_id"),
    )

    referral_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    case_id: Mapped[int] = mapped_column(Integer)
    organisation_id: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(10))
    referred_at: Mapped[datetime]
    referred_month: Mapped[str] = mapped_column(String(7))
    answer: Mapped[str | None] = mapped_column(String(20), default=None)
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    answered_month: Mapped[str | None] = mapped_column(String(7), default=None)
    answer_hours: Mapped[float | None] = mapped_column(Float, default=None)
    answer_limit: Mapped[float | None] = mapped_column(Float, default=None)
    decline_reason: Mapped[str | None] = mapped_column(String(40), default=None)
    ended: Mapped[str | None] = mapped_column(String(20), default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_month: Mapped[str | None] = mapped_column(String(7), default=None)


class ReportHandover(Base):
    """A chat handed over to a person (a `handover` event of a case), in the month it happened."""

    __tablename__ = "report_handover"
    __table_args__ = (Index("ix_report_handover_month", "month", "language"),)

    case_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    language: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(40))


class ReportChatDay(Base):
    """Newcomers' chat messages of one day, language and intent. Counted while the messages exist and
    kept after a conversation is erased, so a past month's figures do not change."""

    __tablename__ = "report_chat_day"
    __table_args__ = (Index("ix_report_chat_day_month", "month", "language"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    language: Mapped[str] = mapped_column(String(10), primary_key=True)
    intent: Mapped[str] = mapped_column(String(80), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    messages: Mapped[int] = mapped_column(Integer)


class ReportCursor(Base):
    """How far the folding has got: the last case event seen, and the chat days still open."""

    __tablename__ = "report_cursor"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_event_id: Mapped[int] = mapped_column(Integer, default=0)
    chat_from: Mapped[date | None] = mapped_column(Date, default=None)
    refreshed_at: Mapped[datetime | None] = mapped_column(default=None)
    #: A new value whenever the facts are folded from scratch: figures of settled months kept in
    #: memory (app/reports/stats.py) are valid only for the generation they were read from.
    generation: Mapped[str] = mapped_column(String(32))

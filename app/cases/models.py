"""Tables of the case tracker: client, case_file, case_event (append-only), case_note, consent,
referral, audit_entry, case_counter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import Organisation, User
from app.db import Base, utcnow


class Client(Base):
    """A newcomer, pseudonymous: a display name they chose; contact details encrypted."""

    __tablename__ = "client"

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(String(120))
    preferred_language: Mapped[str] = mapped_column(String(10))
    other_languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    district: Mapped[str | None] = mapped_column(String(80), default=None)
    contact_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseCounter(Base):
    """The last case number given out in a year (references restart at 1 each year)."""

    __tablename__ = "case_counter"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class CaseFile(Base):
    """A case: the current state, a projection of its events (rebuildable from case_event)."""

    __tablename__ = "case_file"
    __table_args__ = (
        # The inbox orders by (updated_at, id); each filter has an index that yields that order.
        Index("ix_case_file_inbox", "owner_org_id", "status", "updated_at", "id"),
        Index("ix_case_file_owner_updated", "owner_org_id", "updated_at", "id"),
        Index("ix_case_file_owner_category", "owner_org_id", "category", "updated_at", "id"),
        Index("ix_case_file_owner_language", "owner_org_id", "language", "updated_at", "id"),
        Index("ix_case_file_owner_due", "owner_org_id", "due_at"),
        Index("ix_case_file_assignee", "assignee_id", "updated_at", "id"),
        Index("ix_case_file_holder", "holder_org_id", "updated_at", "id"),
        Index("ix_case_file_current_referral", "current_referral_id"),
        Index("ix_case_file_partner", "partner_org_id", "updated_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    # The client's secret, until it is shown once after the redirect that follows opening the case:
    # encrypted with a key derived from the opening form's one-time key, which only the browser holds
    # (app/cases/once.py). Unreadable without that browser; emptied when shown.
    secret_sealed: Mapped[str | None] = mapped_column(Text, default=None)
    # A hash of the key of the form that opened the case (one per rendered form): sending it again,
    # by a double click, a retry or a reload, finds this case instead of opening a second one.
    idempotency_key_hash: Mapped[str | None] = mapped_column(
        String(64), default=None, index=True, unique=True
    )
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="RESTRICT"), index=True)
    owner_org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    holder_org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    # The partner whose live referral (with standing consent) lets it see the case; kept with the
    # referral so the partner's inbox is one index range. Access still checks the referral too.
    partner_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"), default=None)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), default=None)
    category: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(40))
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    language: Mapped[str] = mapped_column(String(10))
    district: Mapped[str | None] = mapped_column(String(80), default=None)
    source: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    outcome: Mapped[str | None] = mapped_column(String(40), default=None)
    current_referral_id: Mapped[int | None] = mapped_column(
        ForeignKey("referral.id", ondelete="SET NULL", use_alter=True), default=None
    )
    # Deadline clocks: business seconds spent so far, per clock; the running clock started at
    # status_changed_at. due_at is when the running clock breaches (None when no clock runs).
    clocks: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    search_text: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __mapper_args__ = {"version_id_col": version}

    client: Mapped[Client] = relationship(lazy="joined")
    owner: Mapped[Organisation] = relationship(foreign_keys=[owner_org_id])
    partner: Mapped[Organisation | None] = relationship(foreign_keys=[partner_org_id])
    holder: Mapped[Organisation] = relationship(foreign_keys=[holder_org_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    current_referral: Mapped[Referral | None] = relationship(foreign_keys=[current_referral_id], post_update=True)


class CaseEvent(Base):
    """One change to a case. Rows are only ever inserted (database triggers refuse the rest)."""

    __tablename__ = "case_event"
    # The statistics count some events by kind in a month (chat handovers, app/reports/stats.py).
    __table_args__ = (Index("ix_case_event_kind_at", "kind", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="RESTRICT"), index=True)
    version: Mapped[int] = mapped_column(Integer)  # the case's version after this event
    kind: Mapped[str] = mapped_column(String(40))
    name: Mapped[str | None] = mapped_column(String(40), default=None)
    actor_kind: Mapped[str] = mapped_column(String(10))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"), default=None)
    actor_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"), default=None)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    before: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_user_id])
    actor_org: Mapped[Organisation | None] = relationship(foreign_keys=[actor_org_id])


class CaseNote(Base):
    """A note on a case: internal (office only) or shared (also the referred partner)."""

    __tablename__ = "case_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="RESTRICT"), index=True)
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"), default=None)
    author_org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    visibility: Mapped[str] = mapped_column(String(10))
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(10), default=None)
    # {language: {text, engine, model_version}}: machine translations; the body is the original.
    translations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[User | None] = relationship()
    author_org: Mapped[Organisation] = relationship()


class Consent(Base):
    """The client's recorded consent to share the case with one partner for one purpose."""

    __tablename__ = "consent"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="RESTRICT"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="RESTRICT"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    purpose: Mapped[str] = mapped_column(String(40))  # a case category
    scope: Mapped[list[str]] = mapped_column(JSON)  # ConsentScope values
    text_version: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(10))
    method: Mapped[str] = mapped_column(String(20))  # chat, form, staff (recorded by a caseworker)
    given_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"), default=None)
    withdrawn_at: Mapped[datetime | None] = mapped_column(default=None)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"), default=None)

    organisation: Mapped[Organisation] = relationship()


class Referral(Base):
    """A case offered to one partner service; at most one per case is pending or accepted."""

    __tablename__ = "referral"
    __table_args__ = (Index("ix_referral_org_state", "organisation_id", "state", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="RESTRICT"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    service_id: Mapped[str] = mapped_column(String(80))
    consent_id: Mapped[int] = mapped_column(ForeignKey("consent.id", ondelete="RESTRICT"))
    state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"), default=None)
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)

    organisation: Mapped[Organisation] = relationship()
    consent: Mapped[Consent] = relationship()


class AuditEntry(Base):
    """A read or export of personal data, or another act worth accounting for."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_case", "case_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_kind: Mapped[str] = mapped_column(String(10))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"), default=None)
    actor_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"), default=None)
    action: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id", ondelete="RESTRICT"), default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

"""Use cases of the case tracker that own their transaction: each commits once, or rolls everything
back. Work that crosses domains happens here: a referral checks the partner directory and notifies
the partner's systems (webhooks); notes are machine-translated for the reader.

A concurrent change of the same case (the version column refuses the write) becomes StaleCase with
the changes made meanwhile, so the person can review them and try again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.auth import service as auth_service
from app.auth.enums import OrgKind
from app.cases import consent as consent_service
from app.cases import events, notes
from app.cases import service as case_service
from app.cases.content import case_content
from app.cases.enums import Visibility
from app.cases.events import SYSTEM, Actor
from app.cases.exceptions import StaleCase
from app.cases.models import CaseFile, CaseNote, Consent
from app.cases.schemas import CaseIn, ClientIn, TransitionIn
from app.config import Settings
from app.db import committed, utcnow
from app.partners import service as partner_service
from app.webhooks import service as webhooks


@contextmanager
def case_committed(db: Session, case: CaseFile, expected_version: int | None = None) -> Iterator[None]:
    """Commit what the block wrote to case, or roll all of it back when it raises; a write the case's
    version column refused (someone committed first) becomes StaleCase with their changes."""
    case_id = case.id
    try:
        with committed(db):
            yield
    except StaleDataError:
        raise StaleCase(events.changes_since(db=db, case_id=case_id, version=expected_version)) from None


def notify_partner(*, db: Session, case: CaseFile, event_type: str, now: datetime) -> int:
    """Queue a webhook event for the partner with the case's live referral (or the one a change just
    ended); return how many endpoints it goes to. Only the reference, status and event type travel."""
    organisation_id = case_service.partner_to_notify(db=db, case=case, now=now)
    if organisation_id is None:
        return 0
    payload = {
        "type": event_type,
        "case": {"reference": case.reference, "status": case.status, "version": case.version},
        "occurred_at": now.isoformat(),
    }
    return webhooks.enqueue(
        db=db, organisation_id=organisation_id, event_type=event_type, payload=payload, now=now
    )


def open_case(
    *,
    db: Session,
    settings: Settings,
    client: ClientIn,
    case: CaseIn,
    actor: Actor,
    now: datetime | None = None,
) -> tuple[CaseFile, str]:
    """Return a new case and its client secret (shown once); raise InvalidInput. Commits."""
    with committed(db):
        return case_service.create(db=db, settings=settings, client=client, case=case, actor=actor, now=now)


def transition(
    *,
    db: Session,
    settings: Settings,
    case: CaseFile,
    request: TransitionIn,
    actor: Actor,
    now: datetime | None = None,
) -> CaseFile:
    """Return case after the named transition, the partner's systems notified (webhooks); raise
    TransitionNotAllowed, PermissionDenied, InvalidInput, ConsentMissing or StaleCase. Commits."""
    now = now or utcnow()
    with case_committed(db, case, request.expected_version):
        case_service.transition(
            db=db,
            settings=settings,
            case=case,
            request=request,
            actor=actor,
            now=now,
            can_refer=partner_service.directory(settings).can_refer,
        )
        notify_partner(db=db, case=case, event_type=f"case.{request.name}", now=now)
    return case


@dataclass(frozen=True)
class ConsentGiven:
    """The client's consent as a caseworker records it with a referral: what it covers (case, and
    contact details if the client agreed to that too), the language it was given in, and how."""

    scope: tuple[str, ...]
    language: str
    method: str = "staff"


def refer_with_consent(
    *,
    db: Session,
    settings: Settings,
    case: CaseFile,
    request: TransitionIn,
    consent: ConsentGiven | None,
    actor: Actor,
    now: datetime | None = None,
) -> CaseFile:
    """Return case referred to the partner service of request (a transition that needs the partner's
    consent, `refer`), first recording the client's consent for that partner when consent is given,
    else resting on the consent on file; the partner's systems are notified. Raise InvalidInput,
    ConsentMissing, StaleCase, TransitionNotAllowed or PermissionDenied. Commits once: a consent is
    recorded together with the referral it was given for, or not at all."""
    now = now or utcnow()
    with case_committed(db, case, request.expected_version):
        partner = auth_service.get_organisation(db=db, slug=request.organisation or "")
        # For an organisation that takes no referrals the transition refuses the choice itself.
        if consent is not None and partner is not None and partner.kind == OrgKind.partner:
            recorded = consent_service.record_consent(
                db=db,
                case=case,
                organisation_slug=partner.slug,
                scope=consent.scope,
                language=consent.language,
                method=consent.method,
                actor=actor,
                now=now,
            )
            request = request.model_copy(update={"consent_id": recorded.id})
        case_service.transition(
            db=db,
            settings=settings,
            case=case,
            request=request,
            actor=actor,
            now=now,
            can_refer=partner_service.directory(settings).can_refer,
        )
        notify_partner(db=db, case=case, event_type=f"case.{request.name}", now=now)
    return case


def add_note(
    *,
    db: Session,
    settings: Settings,
    case: CaseFile,
    body: str,
    visibility: Visibility,
    actor: Actor,
    language: str | None = None,
    translate_to: str | None = None,
    now: datetime | None = None,
) -> CaseNote:
    """Return a new note on case (a shared one announced to the partner's systems); raise InvalidInput.
    Commits; then, with translate_to, commits a machine translation into that language if one comes
    within the wait (the note is saved first: a slow translation never holds it back)."""
    now = now or utcnow()
    with committed(db):
        note = notes.add_note(
            db=db, case=case, body=body, visibility=visibility, actor=actor, language=language, now=now
        )
        if note.visibility == Visibility.shared.value:
            notify_partner(db=db, case=case, event_type="case.note_added", now=now)
    if translate_to is not None:
        with committed(db):
            notes.translate_note(settings=settings, note=note, target=translate_to)
    return note


def record_consent(
    *,
    db: Session,
    case: CaseFile,
    organisation_slug: str,
    scope: Sequence[str],
    language: str,
    method: str,
    actor: Actor,
    now: datetime | None = None,
    **fields: Any,
) -> Consent:
    """Return the recorded consent of the client to share case with a partner; raise InvalidInput. Commits."""
    with committed(db):
        return consent_service.record_consent(
            db=db,
            case=case,
            organisation_slug=organisation_slug,
            scope=scope,
            language=language,
            method=method,
            actor=actor,
            now=now,
            **fields,
        )


def withdraw_consent(
    *,
    db: Session,
    settings: Settings,
    case: CaseFile,
    consent: Consent,
    actor: Actor,
    now: datetime | None = None,
) -> None:
    """Withdraw a consent; a live referral resting on it ends and the case returns to the office. Commits."""
    with case_committed(db, case):
        consent_service.withdraw_consent(
            db=db, settings=settings, case=case, consent=consent, actor=actor, now=now
        )


def update_fields(
    *,
    db: Session,
    settings: Settings,
    case: CaseFile,
    actor: Actor,
    expected_version: int | None,
    **changes: Any,
) -> CaseFile:
    """Return case with changed assignment, priority, district or tags; raise InvalidInput, StaleCase,
    PermissionDenied. Commits."""
    with case_committed(db, case, expected_version):
        return case_service.update_fields(
            db=db, settings=settings, case=case, actor=actor, expected_version=expected_version, **changes
        )


def run_timers(*, db: Session, settings: Settings, now: datetime | None = None) -> list[tuple[str, str]]:
    """Fire due system transitions (escalate, client_silent, auto_close), each in its own transaction;
    return (reference, name) of those fired. A case a person changed meanwhile is left for the next run."""
    now = now or utcnow()
    fired: list[tuple[str, str]] = []
    moves = case_content(settings).workflow.transitions
    for case_id, name in case_service.due_timers(db=db, settings=settings, now=now):
        case = db.get(CaseFile, case_id)
        if case is None or case.status not in moves[name].from_:
            continue
        try:
            transition(
                db=db, settings=settings, case=case, request=TransitionIn(name=name), actor=SYSTEM, now=now
            )
        except StaleCase:
            continue
        fired.append((case.reference, name))
    return fired

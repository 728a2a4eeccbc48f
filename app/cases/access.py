"""Who may see which case and what of it, decided in the query layer, and the audit of every read of
personal data. Routes and templates never decide who sees what."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session

from app.auth.permissions import Action, Principal, can
from app.cases.enums import LIVE_REFERRAL_STATES, ActorKind, ConsentScope, Visibility
from app.cases.exceptions import TooManyAttempts
from app.cases.models import AuditEntry, CaseEvent, CaseFile, CaseNote, Consent, Referral
from app.config import Settings
from app.crypto import decrypt_json, secrets_match
from app.db import utcnow
from app.errors import NotFound

#: The shape of a case reference, e.g. KRK-2026-000123.
REFERENCE = re.compile(r"^[A-Z]{2,5}-\d{4}-\d{6,}$")
#: Wrong secrets a case takes in SECRET_WINDOW before its status is refused to everyone for a while.
SECRET_ATTEMPTS = 5
SECRET_WINDOW = timedelta(minutes=15)
#: The audit action of a wrong secret given for a case.
WRONG_SECRET = "wrong_secret"
#: The audit action of the client reading their case (the public "follow my case" page).
CLIENT_VIEW = "client_view"


def _live_referral_to(org_id: int):  # type: ignore[no-untyped-def]
    return exists().where(
        Referral.case_id == CaseFile.id,
        Referral.id == CaseFile.current_referral_id,
        Referral.organisation_id == org_id,
        Referral.state.in_([s.value for s in LIVE_REFERRAL_STATES]),
        Consent.id == Referral.consent_id,
        Consent.withdrawn_at.is_(None),
    )


def visible_cases(principal: Principal) -> Select[tuple[CaseFile]]:
    """Return a query of the cases principal may see: the office its own cases; a partner only cases
    with a live referral to it whose consent stands."""
    query = select(CaseFile)
    if not can(principal, Action.view_cases, principal.organisation_id):
        return query.where(False)  # type: ignore[arg-type]
    if principal.is_office:
        return query.where(CaseFile.owner_org_id == principal.organisation_id)
    return query.where(
        CaseFile.partner_org_id == principal.organisation_id, _live_referral_to(principal.organisation_id)
    )


def get_visible(*, db: Session, principal: Principal, reference: str) -> CaseFile:
    """Return the case with reference if principal may see it; raise NotFound otherwise (both alike)."""
    if not REFERENCE.match(reference or ""):
        raise NotFound("case")
    case = db.scalar(visible_cases(principal).where(CaseFile.reference == reference))
    if case is None:
        raise NotFound("case")
    return case


def get_visible_or_none(*, db: Session, principal: Principal, reference: str) -> CaseFile | None:
    """Return the case with reference if principal may see it, else None."""
    try:
        return get_visible(db=db, principal=principal, reference=reference)
    except NotFound:
        return None


def consent_scope_for(*, db: Session, case: CaseFile, principal: Principal) -> set[str]:
    """Return what principal may see of the client: everything for the office, the consent's scope
    for the partner of the live referral."""
    if principal.is_office:
        return {s.value for s in ConsentScope}
    referral = case.current_referral
    if referral is None or referral.organisation_id != principal.organisation_id:
        return set()
    consent = db.get(Consent, referral.consent_id)
    if consent is None or consent.withdrawn_at is not None:
        return set()
    return set(consent.scope)


def client_contact(
    *, db: Session, settings: Settings, case: CaseFile, principal: Principal
) -> dict[str, str] | None:
    """Return the client's contact details if the consent covers them (the read is audited), else None."""
    if ConsentScope.contact.value not in consent_scope_for(db=db, case=case, principal=principal):
        return None
    audit(db=db, principal=principal, action="view_contact", case=case)
    return decrypt_json(case.client.contact_encrypted, settings)


def find_by_secret(*, db: Session, reference: str, secret: str, now: datetime | None = None) -> CaseFile | None:
    """Return the case when reference and secret match (for the newcomer following their case), else
    None; a wrong secret for a case is recorded against the case (audited). Raise TooManyAttempts
    when the case's secret was given wrong SECRET_ATTEMPTS times in SECRET_WINDOW, whoever asks:
    a new chat, browser or address does not start the count again."""
    now = now or utcnow()
    if not REFERENCE.match((reference or "").strip().upper()):
        return None
    case = db.scalar(select(CaseFile).where(CaseFile.reference == reference.strip().upper()))
    if case is None:
        return None
    failures = db.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.case_id == case.id, AuditEntry.action == WRONG_SECRET, AuditEntry.at > now - SECRET_WINDOW)
    )
    if (failures or 0) >= SECRET_ATTEMPTS:
        raise TooManyAttempts()
    if not secrets_match((secret or "").strip(), case.secret_hash):
        audit(db=db, principal=None, action=WRONG_SECRET, case=case, now=now)
        return None
    return case


def audit(
    *,
    db: Session,
    principal: Principal | None,
    action: str,
    case: CaseFile | None = None,
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Add an audit entry to the caller's transaction (who read or exported what, when)."""
    db.add(
        AuditEntry(
            at=now or utcnow(),
            actor_kind=(ActorKind.token if principal and principal.token_id else ActorKind.user).value
            if principal
            else ActorKind.system.value,
            actor_user_id=principal.user_id if principal else None,
            actor_org_id=principal.organisation_id if principal else None,
            action=action,
            case_id=case.id if case else None,
            detail={
                **(detail or {}),
                **({"token_id": principal.token_id} if principal and principal.token_id else {}),
            },
        )
    )


def audit_client_view(*, db: Session, case: CaseFile, now: datetime | None = None) -> None:
    """Add an audit entry of the client reading their case (after giving its reference and secret on
    the public follow page) to the caller's transaction."""
    client = ActorKind.client.value
    db.add(AuditEntry(at=now or utcnow(), actor_kind=client, action=CLIENT_VIEW, case_id=case.id, detail={}))


def timeline(*, db: Session, case: CaseFile, principal: Principal) -> list[dict[str, Any]]:
    """Return the case's events and notes that principal may see, oldest first.

    The office sees everything. A partner sees the office's shared notes, its own notes, and the
    history of the case but for what passed between the office and another partner: that partner's
    notes and answers (a decline's reason), its consent and its referral, and the office's shared
    notes written while the case was with that partner. What one partner wrote to the office is for
    the office and that partner only.
    """
    events = db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)).all()
    notes = {n.id: n for n in db.scalars(select(CaseNote).where(CaseNote.case_id == case.id)).all()}
    if principal.is_partner:
        others = _other_partners_referrals(db, case, principal)
        notes = {note_id: note for note_id, note in notes.items() if _partner_may_read(case, note, principal, others)}
        events = [e for e in events if not _between_office_and_another_partner(db, case, e, principal)]
    items: list[dict[str, Any]] = []
    for event in events:
        note_id = event.data.get("note_id") if event.kind == "note_added" else None
        if note_id is not None and note_id not in notes:
            continue
        items.append({"event": event, "note": notes.get(note_id) if note_id else None})
    return items


def _other_partners_referrals(db: Session, case: CaseFile, principal: Principal) -> list[Referral]:
    return list(
        db.scalars(
            select(Referral).where(Referral.case_id == case.id, Referral.organisation_id != principal.organisation_id)
        ).all()
    )


def _partner_may_read(case: CaseFile, note: CaseNote, principal: Principal, others: list[Referral]) -> bool:
    if note.author_org_id == principal.organisation_id:
        return True
    if note.visibility != Visibility.shared.value or note.author_org_id != case.owner_org_id:
        return False  # internal, or another partner's
    # An office note shared while the case was with another partner was written to that partner.
    return not any(
        r.created_at <= note.created_at and (r.ended_at is None or note.created_at < r.ended_at)
        for r in others
    )


def _between_office_and_another_partner(db: Session, case: CaseFile, event: CaseEvent, principal: Principal) -> bool:
    if event.actor_org_id not in (None, case.owner_org_id, principal.organisation_id):
        return True  # made by another partner
    referral_id = event.data.get("referral_id")
    if referral_id is not None:
        referral = db.get(Referral, referral_id)
        if referral is None or referral.organisation_id != principal.organisation_id:
            return True
    consent_id = event.data.get("consent_id")
    if consent_id is not None:
        consent = db.get(Consent, consent_id)
        if consent is None or consent.organisation_id != principal.organisation_id:
            return True
    return False

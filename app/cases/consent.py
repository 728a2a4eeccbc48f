"""The client's consent to share a case with a partner: recorded (by the office, the chat or a form),
withdrawn, and the live one a referral rests on. Withdrawal ends the referral at once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.enums import OrgKind
from app.auth.models import Organisation
from app.cases import events
from app.cases.content import case_content
from app.cases.deadlines import due_at, settled_clocks
from app.cases.enums import LIVE_REFERRAL_STATES, ConsentScope, ReferralState
from app.cases.events import Actor
from app.cases.models import CaseFile, Consent
from app.config import Settings
from app.db import utcnow
from app.errors import InvalidInput, NotFound
from app.i18n import _
from app.languages import LANGUAGE_CODE

#: The version of the consent text a client agrees to (stored with each consent).
CONSENT_TEXT_VERSION = "2026-11"
METHODS = ("chat", "form", "staff")


def consents_of(*, db: Session, case: CaseFile) -> list[Consent]:
    """Return every consent recorded for case (withdrawn ones too), oldest first."""
    return list(db.scalars(select(Consent).where(Consent.case_id == case.id).order_by(Consent.id)).all())


def get_consent(*, db: Session, case: CaseFile, consent_id: int) -> Consent:
    """Return the consent consent_id of case; raise NotFound when case has none such."""
    consent = db.get(Consent, consent_id)
    if consent is None or consent.case_id != case.id:
        raise NotFound("consent")
    return consent


def live_consent(
    *, db: Session, case: CaseFile, organisation_id: int, consent_id: int | None = None
) -> Consent | None:
    """Return the newest consent of case's client for the organisation that is not withdrawn."""
    query = select(Consent).where(
        Consent.case_id == case.id, Consent.organisation_id == organisation_id, Consent.withdrawn_at.is_(None)
    )
    if consent_id is not None:
        query = query.where(Consent.id == consent_id)
    return db.scalars(query.order_by(Consent.given_at.desc(), Consent.id.desc())).first()


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
    purpose: str | None = None,
    text_version: str = CONSENT_TEXT_VERSION,
) -> Consent:
    """Return the recorded consent of the client to share case with a partner; raise InvalidInput. Flushes."""
    now = now or utcnow()
    errors: dict[str, str] = {}
    partner = db.scalar(select(Organisation).where(Organisation.slug == organisation_slug))
    if partner is None or partner.kind != OrgKind.partner:
        errors["organisation"] = _("Choose a partner organisation.")
    scopes = {s for s in scope if s in {c.value for c in ConsentScope}}
    if ConsentScope.case.value not in scopes:
        errors["scope"] = _("The consent must at least cover the case itself.")
    if method not in METHODS:
        errors["method"] = _("Choose one of the offered options.")
    if not LANGUAGE_CODE.match(language or ""):
        errors["language"] = _("Choose a language.")
    if errors:
        raise InvalidInput(errors)
    assert partner is not None
    consent = Consent(
        case_id=case.id,
        client_id=case.client_id,
        organisation_id=partner.id,
        purpose=purpose or case.category,
        scope=sorted(scopes),
        text_version=text_version,
        language=language,
        method=method,
        given_at=now,
        recorded_by_id=actor.principal.user_id if actor.principal else None,
    )
    db.add(consent)
    db.flush()
    data = {
        "consent_id": consent.id,
        "organisation": organisation_slug,
        "scope": sorted(scopes),
        "method": method,
    }
    events.append(db, case, kind="consent_given", actor=actor, at=now, data=data)
    events.touch(db, case, now)
    db.flush()
    return consent


def withdraw_consent(
    *,
    db: Session,
    settings: Settings,
    case: CaseFile,
    consent: Consent,
    actor: Actor,
    now: datetime | None = None,
) -> bool:
    """Withdraw a consent; a live referral that rests on it ends and the case returns to the office.
    Return whether that ended a referral. Flushes (a concurrent change of the case surfaces as the
    version column's StaleDataError)."""
    now = now or utcnow()
    if consent.case_id != case.id:
        raise NotFound("consent")
    if consent.withdrawn_at is not None:
        return False
    consent.withdrawn_at = now
    consent.withdrawn_by_id = actor.principal.user_id if actor.principal else None
    referral = case.current_referral
    data: dict[str, Any] = {"consent_id": consent.id, "organisation_id": consent.organisation_id}
    if referral is None or referral.consent_id != consent.id or referral.state not in LIVE_REFERRAL_STATES:
        events.append(db, case, kind="consent_withdrawn", actor=actor, at=now, data=data)
        events.touch(db, case, now)
        db.flush()
        return False
    cc = case_content(settings)
    before = events.snapshot(case)
    case.clocks = settled_clocks(cc, case, now)
    referral.state = ReferralState.withdrawn.value
    referral.ended_at = now
    referral.reason = "consent withdrawn"
    case.current_referral = None
    case.partner_org_id = None
    case.holder_org_id = case.owner_org_id
    if case.status not in ("resolved", "closed"):
        case.status = "triaged"
        case.status_changed_at = now
    case.updated_at = now
    case.due_at = due_at(cc, case, now)
    db.flush()
    data["referral_id"] = referral.id
    events.append(db, case, kind="consent_withdrawn", actor=actor, at=now, before=before, data=data)
    db.flush()
    return True

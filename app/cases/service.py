"""Cases: creation, the workflow, notes, consent, referrals, deadlines, access and audit.

Every change appends a CaseEvent; CaseFile holds the current state as a projection of those
events (`project()` rebuilds it). Who may see a case is decided here, in the query layer
(`visible_cases`); routes and templates never decide it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Select, and_, exists, false, func, insert, literal_column, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.auth.enums import OrgKind
from app.auth.models import Organisation, User
from app.auth.permissions import Action, Principal, can
from app.cases.content import CaseContent, Transition, load_case_content
from app.cases.enums import (
    LIVE_REFERRAL_STATES,
    ActorKind,
    ConsentScope,
    Priority,
    ReferralState,
    Source,
    Visibility,
)
from app.cases.exceptions import ConsentMissing, StaleCase, TransitionNotAllowed
from app.cases.models import AuditEntry, CaseCounter, CaseEvent, CaseFile, CaseNote, Client, Consent, Referral
from app.config import Settings
from app.crypto import decrypt_json, encrypt_json, hash_secret, new_secret, secrets_match
from app.db import utcnow
from app.errors import InvalidInput, NotFound, PermissionDenied
from app.i18n import _
from app.partners.directory import Directory, Suggestion, load_directory, suggest

#: The version of the consent text a client agrees to (stored with each consent).
CONSENT_TEXT_VERSION = "2026-11"
_REFERENCE = re.compile(r"^[A-Z]{2,5}-\d{4}-\d{6,}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_PHONE = re.compile(r"^\+?[0-9 ()-]{6,20}$")
MAX_NOTE = 10_000
MAX_DESCRIPTION = 10_000


# --- content ---------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _content(folder: str) -> CaseContent:
    return load_case_content(Path(folder))


def content(settings: Settings) -> CaseContent:
    """Return the validated case content (cases/*.yml), loaded once."""
    return _content(str(settings.content_dir / "cases"))


@lru_cache(maxsize=4)
def _directory(folder: str, cases_folder: str) -> Directory:
    cc = _content(cases_folder)
    return load_directory(Path(folder), categories=set(cc.categories), districts=set(cc.districts))


def check_settings(settings: Settings) -> None:
    """Raise ContentError (file:line) when cases/workflow.yml's office time zone is not WITAJ_TIME_ZONE:
    deadlines would be counted in one zone and the pages' dates shown in another."""
    zone = content(settings).workflow.calendar.zone.key
    if zone == settings.time_zone:
        return
    from app.content import load_yaml

    doc = load_yaml(settings.content_dir / "cases" / "workflow.yml")
    raise doc.error(
        ("business_hours", "time_zone"),
        f"the office time zone {zone} differs from WITAJ_TIME_ZONE={settings.time_zone}; "
        "deadlines and the dates on the pages would disagree: set both to the same zone",
    )


def directory(settings: Settings) -> Directory:
    """Return the validated partner directory (partners/*.yml), loaded once."""
    return _directory(str(settings.content_dir / "partners"), str(settings.content_dir / "cases"))


# --- actors ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a staff principal (user or API token), the system, or the client."""

    kind: ActorKind
    principal: Principal | None = None

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        """Return the actor of a staff principal."""
        return cls(ActorKind.token if principal.token_id else ActorKind.user, principal)

    @property
    def role(self) -> str:
        """Return the workflow role: a staff role, or 'system' / 'client'."""
        if self.principal is None:
            return self.kind.value
        return self.principal.role.value


SYSTEM = Actor(ActorKind.system)
CLIENT = Actor(ActorKind.client)


# --- input -------------------------------------------------------------------------------------


@dataclass
class ClientIn:
    """What we know of a newcomer when a case is opened."""

    display_name: str
    preferred_language: str
    other_languages: list[str] = field(default_factory=list)
    district: str | None = None
    email: str | None = None
    phone: str | None = None
    preferred_contact: str | None = None


@dataclass
class CaseIn:
    """A new case."""

    category: str
    subject: str
    description: str = ""
    source: Source = Source.staff
    priority: Priority = Priority.normal
    tags: list[str] = field(default_factory=list)


def _validate_new(cc: CaseContent, client: ClientIn, case: CaseIn, enabled_locales: Sequence[str]) -> None:
    errors: dict[str, str] = {}
    if not client.display_name.strip():
        errors["display_name"] = _("Enter a name we can call you by (it does not have to be your full name).")
    elif len(client.display_name) > 120:
        errors["display_name"] = _("Enter at most %(max)s characters.", max=120)
    if not _LANGUAGE.match(client.preferred_language or ""):
        errors["preferred_language"] = _("Choose a language.")
    if client.district and client.district not in cc.districts:
        errors["district"] = _("Choose a district from the list.")
    if client.email and not _EMAIL.match(client.email.strip()):
        errors["email"] = _("Enter a valid e-mail address.")
    if client.phone and not _PHONE.match(client.phone.strip()):
        errors["phone"] = _("Enter a phone number with digits only, for example +48 600 000 000.")
    if case.category not in cc.categories:
        errors["category"] = _("Choose one of the offered options.")
    if not case.subject.strip():
        errors["subject"] = _("This field is required.")
    elif len(case.subject) > 200:
        errors["subject"] = _("Enter at most %(max)s characters.", max=200)
    if len(case.description) > MAX_DESCRIPTION:
        errors["description"] = _("Enter at most %(max)s characters.", max=MAX_DESCRIPTION)
    if errors:
        raise InvalidInput(errors)


# --- references ----------------------------------------------------------------------------


def next_reference(*, db: Session, prefix: str, year: int) -> str:
    """Return the next case reference of year, e.g. KRK-2026-000123 (atomic on both databases)."""
    for _attempt in range(5):
        number = db.execute(
            update(CaseCounter).where(CaseCounter.year == year).values(last=CaseCounter.last + 1).returning(CaseCounter.last)
        ).scalar()
        if number is not None:
            return f"{prefix}-{year}-{number:06d}"
        try:
            with db.begin_nested():
                db.execute(insert(CaseCounter).values(year=year, last=0))
        except IntegrityError:
            continue  # another transaction created the year's row first
    raise RuntimeError("could not allocate a case reference")


# --- clocks ------------------------------------------------------------------------------------


def _settle_clock(cc: CaseContent, case: CaseFile, now: datetime) -> dict[str, float]:
    """Return the case's clocks with the running clock's business time up to now added."""
    clocks = dict(case.clocks or {})
    clock = cc.workflow.statuses[case.status].clock
    if clock:
        spent = cc.workflow.calendar.business_seconds_between(case.status_changed_at, now)
        clocks[clock] = clocks.get(clock, 0.0) + spent
    return clocks


def _due_at(cc: CaseContent, case: CaseFile, now: datetime) -> datetime | None:
    clock = cc.workflow.statuses[case.status].clock
    if not clock:
        return None
    limit_hours = cc.categories[case.category].deadlines[clock]
    remaining = max(0.0, limit_hours * 3600 - (case.clocks or {}).get(clock, 0.0))
    return cc.workflow.calendar.add_business_hours(now, remaining / 3600)


def is_overdue(case: CaseFile, now: datetime | None = None) -> bool:
    """Return whether the running deadline clock of case has passed."""
    return case.due_at is not None and case.due_at <= (now or utcnow())


# --- events ----------------------------------------------------------------------------------


def _snapshot(case: CaseFile) -> dict[str, Any]:
    """Return the projected fields of a case (never personal data: events are kept for ever)."""
    return {
        "status": case.status,
        "category": case.category,
        "holder_org_id": case.holder_org_id,
        "assignee_id": case.assignee_id,
        "priority": case.priority,
        "district": case.district,
        "tags": list(case.tags or []),
        "outcome": case.outcome,
        "current_referral_id": case.current_referral_id,
    }


def _append_event(
    db: Session,
    case: CaseFile,
    *,
    kind: str,
    actor: Actor,
    at: datetime,
    before: dict[str, Any] | None = None,
    name: str | None = None,
    data: dict[str, Any] | None = None,
    version: int | None = None,
) -> CaseEvent:
    after = _snapshot(case)
    before = before or {}
    changed_before = {k: v for k, v in before.items() if after.get(k) != v}
    changed_after = {k: after[k] for k in changed_before} if before else after
    event = CaseEvent(
        case_id=case.id,
        version=version if version is not None else case.version,
        kind=kind,
        name=name,
        actor_kind=actor.kind.value,
        actor_user_id=actor.principal.user_id if actor.principal else None,
        actor_org_id=actor.principal.organisation_id if actor.principal else None,
        at=at,
        before=changed_before,
        after=changed_after,
        data=data or {},
    )
    db.add(event)
    return event


def _commit(db: Session, case: CaseFile, expected_version: int | None) -> None:
    with _stale_guard(db, case, expected_version):
        db.commit()


@contextmanager
def _stale_guard(db: Session, case: CaseFile, expected_version: int | None) -> Iterator[None]:
    """Turn the version column's refusal (someone committed first) into StaleCase with their changes."""
    case_id, version = case.id, expected_version
    try:
        yield
    except StaleDataError:
        db.rollback()
        if version is None:
            version = db.scalar(select(CaseEvent.version).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id.desc()))
            version = (version or 1) - 1
        raise StaleCase(changes_since(db=db, case_id=case_id, version=version)) from None


def changes_since(*, db: Session, case_id: int, version: int) -> list[dict[str, Any]]:
    """Return the events after version, newest last, as {version, kind, name, at, before, after}."""
    rows = db.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.version > version).order_by(CaseEvent.id)
    ).all()
    return [
        {"version": e.version, "kind": e.kind, "name": e.name, "at": e.at.isoformat(), "before": e.before, "after": e.after}
        for e in rows
    ]


def _check_version(db: Session, case: CaseFile, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != case.version:
        raise StaleCase(changes_since(db=db, case_id=case.id, version=expected_version))


# --- creation --------------------------------------------------------------------------------


def office(*, db: Session, settings: Settings) -> Organisation:
    """Return the city office organisation."""
    org = db.scalar(select(Organisation).where(Organisation.slug == settings.office_slug))
    if org is None:
        raise NotFound("office")
    return org


def create(
    *,
    db: Session,
    settings: Settings,
    client: ClientIn,
    case: CaseIn,
    actor: Actor,
    now: datetime | None = None,
) -> tuple[CaseFile, str]:
    """Return a new case and its client secret (shown once); raise InvalidInput. Commits."""
    now = now or utcnow()
    cc = content(settings)
    _validate_new(cc, client, case, settings.locales)
    owner = office(db=db, settings=settings)
    contact = {k: v.strip() for k, v in (("email", client.email), ("phone", client.phone)) if v and v.strip()}
    if client.preferred_contact:
        contact["preferred"] = client.preferred_contact
    person = Client(
        display_name=client.display_name.strip(),
        preferred_language=client.preferred_language,
        other_languages=[code for code in client.other_languages if _LANGUAGE.match(code)],
        district=client.district or None,
        contact_encrypted=encrypt_json(contact, settings) if contact else None,
        created_at=now,
    )
    db.add(person)
    secret = new_secret(9)
    reference = next_reference(db=db, prefix=settings.case_reference_prefix, year=now.astimezone(settings.zone).year)
    record = CaseFile(
        reference=reference,
        secret_hash=hash_secret(secret),
        client=person,
        owner_org_id=owner.id,
        holder_org_id=owner.id,
        category=case.category,
        status=cc.workflow.initial,
        priority=Priority(case.priority).value,
        language=client.preferred_language,
        district=client.district or None,
        source=Source(case.source).value,
        subject=case.subject.strip(),
        description=case.description.strip(),
        tags=sorted({t.strip().lower() for t in case.tags if t.strip()}),
        clocks={},
        status_changed_at=now,
        created_at=now,
        updated_at=now,
        search_text="",
    )
    record.due_at = _due_at(cc, record, now)
    record.search_text = _search_text(record, person)
    db.add(record)
    db.flush()
    _append_event(db, record, kind="created", actor=actor, at=now, data={"source": record.source})
    db.commit()
    return record, secret


def _search_text(case: CaseFile, client: Client) -> str:
    return " ".join([case.reference, case.subject, client.display_name, " ".join(case.tags or [])]).lower()


# --- the workflow ------------------------------------------------------------------------------


def _satisfies_scope(transition: Transition, case: CaseFile, principal: Principal) -> bool:
    if transition.scope == "holder":
        return principal.organisation_id == case.holder_org_id
    if transition.scope == "referral":
        referral = case.current_referral
        return (
            referral is not None
            and referral.state == ReferralState.pending
            and referral.organisation_id == principal.organisation_id
        )
    if transition.scope == "office":
        return principal.is_office and principal.organisation_id == case.owner_org_id
    return False


def may_make(cc: CaseContent, transition: Transition, case: CaseFile, actor: Actor) -> bool:
    """Return whether actor may make transition on case (ignoring its current status)."""
    if actor.role not in transition.roles:
        return False
    if actor.principal is None:
        return transition.scope is None
    return _satisfies_scope(transition, case, actor.principal)


def available_transitions(*, settings: Settings, case: CaseFile, actor: Actor) -> list[Transition]:
    """Return the transitions actor may make on case now, in workflow order."""
    cc = content(settings)
    return [t for t in cc.workflow.transitions.values() if case.status in t.from_ and t.scope and may_make(cc, t, case, actor)]


@dataclass
class TransitionIn:
    """What a transition request carries (only what the transition `requires` is used)."""

    name: str
    expected_version: int | None = None
    category: str | None = None
    reason: str | None = None
    outcome: str | None = None
    organisation: str | None = None  # partner organisation slug
    service: str | None = None
    consent_id: int | None = None


def transition(
    *, db: Session, settings: Settings, case: CaseFile, request: TransitionIn, actor: Actor, now: datetime | None = None
) -> CaseFile:
    """Return case after the named transition; raise TransitionNotAllowed, PermissionDenied,
    InvalidInput, ConsentMissing or StaleCase. Commits."""
    now = now or utcnow()
    cc = content(settings)
    move = cc.workflow.transitions.get(request.name)
    if move is None or (move.scope is None and actor.principal is not None):
        raise InvalidInput({"name": _("This action does not exist.")})
    if case.status not in move.from_:
        allowed = [t.label for t in available_transitions(settings=settings, case=case, actor=actor)]
        raise TransitionNotAllowed(move.name, cc.workflow.statuses[case.status].label, allowed)
    if not may_make(cc, move, case, actor):
        raise PermissionDenied(move.name)
    _check_version(db, case, request.expected_version)
    requirements = _validate_requirements(db=db, settings=settings, cc=cc, move=move, case=case, request=request)

    before = _snapshot(case)
    case.clocks = _settle_clock(cc, case, now)
    for clock in move.resets_clocks:
        case.clocks = {**case.clocks, clock: 0.0}
    data: dict[str, Any] = {}
    if "category" in move.requires:
        case.category = requirements["category"]
    if "reason" in move.requires or request.reason:
        data["reason"] = (request.reason or "").strip() or None
    if "outcome" in move.requires:
        case.outcome = requirements["outcome"]
    if move.outcome:
        case.outcome = move.outcome
    if move.to not in ("resolved", "closed") and not move.outcome and "outcome" not in move.requires:
        if case.status in ("resolved", "closed"):
            case.outcome = None  # a reopened case has no outcome yet
    referral = case.current_referral
    if move.name == "refer":
        referral = Referral(
            case_id=case.id,
            organisation_id=requirements["partner"].id,
            service_id=request.service or "",
            consent_id=requirements["consent"].id,
            state=ReferralState.pending.value,
            created_at=now,
            created_by_id=actor.principal.user_id if actor.principal else None,
        )
        db.add(referral)
        with _stale_guard(db, case, request.expected_version):
            db.flush()
        case.current_referral = referral
        case.partner_org_id = referral.organisation_id
        data["referral_id"] = referral.id
        data["organisation"] = requirements["partner"].slug
        data["service"] = request.service
    elif referral is not None:
        _advance_referral(move.name, referral, case, now, data)
    if move.holder == "referral" and referral is not None:
        case.holder_org_id = referral.organisation_id
    elif move.holder == "office":
        case.holder_org_id = case.owner_org_id
    case.status = move.to
    case.status_changed_at = now
    case.updated_at = now
    case.due_at = _due_at(cc, case, now)
    with _stale_guard(db, case, request.expected_version):
        db.flush()
    _append_event(db, case, kind="transition", name=move.name, actor=actor, at=now, before=before, data=data)
    _enqueue_webhooks(db, case, f"case.{move.name}", now)
    _commit(db, case, request.expected_version)
    return case


#: What each transition does to the case's current referral.
_REFERRAL_EFFECT: dict[str, ReferralState] = {
    "accept": ReferralState.accepted,
    "decline": ReferralState.declined,
    "escalate": ReferralState.expired,
    "withdraw_referral": ReferralState.withdrawn,
    "hand_back": ReferralState.returned,
    "recall": ReferralState.recalled,
    "reopen_for_triage": ReferralState.completed,
}


def _advance_referral(name: str, referral: Referral, case: CaseFile, now: datetime, data: dict[str, Any]) -> None:
    new_state = _REFERRAL_EFFECT.get(name)
    if new_state is None or referral.state not in LIVE_REFERRAL_STATES:
        return
    referral.state = new_state.value
    data["referral_id"] = referral.id
    if new_state is ReferralState.accepted:
        referral.answered_at = now
        return
    if new_state is ReferralState.declined:
        referral.answered_at = now
        referral.reason = data.get("reason")
    referral.ended_at = now
    case.current_referral = None
    case.partner_org_id = None


def _validate_requirements(
    *, db: Session, settings: Settings, cc: CaseContent, move: Transition, case: CaseFile, request: TransitionIn
) -> dict[str, Any]:
    errors: dict[str, str] = {}
    found: dict[str, Any] = {}
    if "category" in move.requires:
        category = request.category or case.category
        if category not in cc.categories:
            errors["category"] = _("Choose one of the offered options.")
        found["category"] = category
    if "reason" in move.requires and not (request.reason or "").strip():
        errors["reason"] = _("Give a reason; the other side will see it.")
    if request.reason and len(request.reason) > MAX_NOTE:
        errors["reason"] = _("Enter at most %(max)s characters.", max=MAX_NOTE)
    if "outcome" in move.requires:
        if request.outcome not in cc.workflow.outcomes:
            errors["outcome"] = _("Choose one of the offered options.")
        found["outcome"] = request.outcome
    if "partner" in move.requires:
        service = directory(settings).services.get((request.organisation or "", request.service or ""))
        category = found.get("category", case.category)
        if service is None or category not in service.categories or service.max_open_referrals <= 0:
            errors["service"] = _("Choose a partner service that helps with this kind of case.")
        else:
            partner = db.scalar(select(Organisation).where(Organisation.slug == service.organization_id))
            if partner is None or partner.kind != OrgKind.partner:
                errors["service"] = _("This organisation has no account in Witaj yet.")
            else:
                found["partner"] = partner
    if errors:
        raise InvalidInput(errors)
    if "consent" in move.requires:
        consent = live_consent(db=db, case=case, organisation_id=found["partner"].id, consent_id=request.consent_id)
        if consent is None:
            raise ConsentMissing()
        found["consent"] = consent
    return found


# --- consent -------------------------------------------------------------------------------


def live_consent(*, db: Session, case: CaseFile, organisation_id: int, consent_id: int | None = None) -> Consent | None:
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
    """Return the recorded consent of the client to share case with a partner; raise InvalidInput. Commits."""
    now = now or utcnow()
    errors: dict[str, str] = {}
    partner = db.scalar(select(Organisation).where(Organisation.slug == organisation_slug))
    if partner is None or partner.kind != OrgKind.partner:
        errors["organisation"] = _("Choose a partner organisation.")
    scopes = {s for s in scope if s in {c.value for c in ConsentScope}}
    if ConsentScope.case.value not in scopes:
        errors["scope"] = _("The consent must at least cover the case itself.")
    if method not in ("chat", "form", "staff"):
        errors["method"] = _("Choose one of the offered options.")
    if not _LANGUAGE.match(language or ""):
        errors["language"] = _("Choose a language.")
    if errors:
        raise InvalidInput(errors)
    consent = Consent(
        case_id=case.id,
        client_id=case.client_id,
        organisation_id=partner.id,  # type: ignore[union-attr]
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
    data = {"consent_id": consent.id, "organisation": organisation_slug, "scope": sorted(scopes), "method": method}
    _append_event(db, case, kind="consent_given", actor=actor, at=now, data=data)
    _touch(db, case, now)
    db.commit()
    return consent


def withdraw_consent(
    *, db: Session, settings: Settings, case: CaseFile, consent: Consent, actor: Actor, now: datetime | None = None
) -> None:
    """Withdraw a consent; a live referral that rests on it ends and the case returns to the office. Commits."""
    now = now or utcnow()
    if consent.case_id != case.id:
        raise NotFound("consent")
    if consent.withdrawn_at is not None:
        return
    consent.withdrawn_at = now
    consent.withdrawn_by_id = actor.principal.user_id if actor.principal else None
    referral = case.current_referral
    data: dict[str, Any] = {"consent_id": consent.id, "organisation_id": consent.organisation_id}
    if referral is not None and referral.consent_id == consent.id and referral.state in LIVE_REFERRAL_STATES:
        cc = content(settings)
        before = _snapshot(case)
        case.clocks = _settle_clock(cc, case, now)
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
        case.due_at = _due_at(cc, case, now)
        with _stale_guard(db, case, None):
            db.flush()
        data["referral_id"] = referral.id
        _append_event(db, case, kind="consent_withdrawn", actor=actor, at=now, before=before, data=data)
        _commit(db, case, None)
        return
    _append_event(db, case, kind="consent_withdrawn", actor=actor, at=now, data=data)
    _touch(db, case, now)
    db.commit()


# --- notes, assignment, fields -------------------------------------------------------------------


def _touch(db: Session, case: CaseFile, now: datetime) -> None:
    # A plain UPDATE: activity moves the case up the inbox without bumping its version, so a
    # note never makes someone else's pending status change stale.
    db.execute(update(CaseFile).where(CaseFile.id == case.id).values(updated_at=now).execution_options(synchronize_session=False))


def add_note(
    *,
    db: Session,
    case: CaseFile,
    body: str,
    visibility: Visibility,
    actor: Actor,
    language: str | None = None,
    now: datetime | None = None,
) -> CaseNote:
    """Return a new note on case; partners may only write shared notes. Raise InvalidInput. Commits."""
    now = now or utcnow()
    text = (body or "").strip()
    if not text:
        raise InvalidInput({"body": _("Write something first.")})
    if len(text) > MAX_NOTE:
        raise InvalidInput({"body": _("Enter at most %(max)s characters.", max=MAX_NOTE)})
    principal = actor.principal
    if principal is not None and principal.is_partner:
        visibility = Visibility.shared
    note = CaseNote(
        case_id=case.id,
        author_user_id=principal.user_id if principal else None,
        author_org_id=principal.organisation_id if principal else case.owner_org_id,
        visibility=Visibility(visibility).value,
        body=text,
        language=language,
        created_at=now,
    )
    db.add(note)
    db.flush()
    _append_event(db, case, kind="note_added", actor=actor, at=now, data={"note_id": note.id, "visibility": note.visibility})
    _touch(db, case, now)
    if note.visibility == Visibility.shared.value:
        _enqueue_webhooks(db, case, "case.note_added", now)
    db.commit()
    return note


def translate_note(*, db: Session, settings: Settings, note: CaseNote, target: str) -> None:
    """Store a machine translation of note into target (if one comes in time). Commits."""
    from app.translation.service import as_stored, translate_within

    result = translate_within(settings, note.body, note.language, target)
    if result is not None:
        note.translations = {**(note.translations or {}), target: as_stored(result)}
        db.commit()


def note_view(*, settings: Settings, note: CaseNote, language: str) -> dict[str, Any]:
    """Return how a note reads in `language`: its text, the original, machine-translated or not."""
    if not note.language or note.language == language:
        return {"text": note.body, "original": None, "machine": False}
    stored = (note.translations or {}).get(language)
    if stored is None:
        from app.translation.service import translate_within

        result = translate_within(settings, note.body, note.language, language)
        stored = {"text": result.text} if result is not None else None
    if stored is None:
        return {"text": note.body, "original": None, "machine": False, "untranslated": True}
    return {"text": stored["text"], "original": note.body, "machine": True}


def update_fields(
    *,
    db: Session,
    settings: Settings,
    case: CaseFile,
    actor: Actor,
    expected_version: int | None,
    assignee_id: int | None | object = ...,
    priority: str | None = None,
    district: str | None | object = ...,
    tags: Sequence[str] | None = None,
    now: datetime | None = None,
) -> CaseFile:
    """Return case with changed assignment, priority, district or tags; raise InvalidInput, StaleCase,
    PermissionDenied. Commits."""
    now = now or utcnow()
    principal = actor.principal
    if principal is None or principal.organisation_id != case.holder_org_id:
        raise PermissionDenied("edit")
    _check_version(db, case, expected_version)
    cc = content(settings)
    errors: dict[str, str] = {}
    before = _snapshot(case)
    if assignee_id is not ...:
        if assignee_id is not None:
            user = db.get(User, assignee_id)
            if user is None or user.organisation_id != case.holder_org_id or not user.is_active:
                errors["assignee_id"] = _("Choose a colleague from your organisation.")
            elif assignee_id != principal.user_id and not can(principal, Action.assign_cases, case.holder_org_id):
                errors["assignee_id"] = _("Only a supervisor may assign cases to others.")
        case.assignee_id = assignee_id  # type: ignore[assignment]
    if priority is not None:
        if priority not in {p.value for p in Priority}:
            errors["priority"] = _("Choose one of the offered options.")
        case.priority = priority
    if district is not ...:
        if district and district not in cc.districts:
            errors["district"] = _("Choose a district from the list.")
        case.district = district or None  # type: ignore[assignment]
    if tags is not None:
        case.tags = sorted({t.strip().lower()[:40] for t in tags if t.strip()})
    if errors:
        db.rollback()
        raise InvalidInput(errors)
    if _snapshot(case) == before:
        return case
    case.updated_at = now
    with _stale_guard(db, case, expected_version):
        db.flush()
    _append_event(db, case, kind="updated", actor=actor, at=now, before=before)
    _commit(db, case, expected_version)
    return case


# --- timers ----------------------------------------------------------------------------------


def run_timers(*, db: Session, settings: Settings, now: datetime | None = None) -> list[tuple[str, str]]:
    """Fire due system transitions (escalate, client_silent, auto_close); return (reference, name). Commits."""
    now = now or utcnow()
    cc = content(settings)
    fired: list[tuple[str, str]] = []
    for move in cc.workflow.system_transitions():
        trigger = move.trigger
        if trigger is None or trigger.kind == "event":
            continue
        query = select(CaseFile.id).where(CaseFile.status.in_(sorted(move.from_)))
        if trigger.kind == "deadline":
            query = query.where(CaseFile.due_at.is_not(None), CaseFile.due_at <= now)
            status_clock = {s.id for s in cc.workflow.statuses.values() if s.clock == trigger.clock}
            query = query.where(CaseFile.status.in_(sorted(status_clock & set(move.from_))))
        else:
            query = query.where(CaseFile.status_changed_at <= now - timedelta(days=trigger.days or 0))
        for case_id in db.scalars(query.order_by(CaseFile.id)).all():
            case = db.get(CaseFile, case_id)
            if case is None or case.status not in move.from_:
                continue
            try:
                transition(db=db, settings=settings, case=case, request=TransitionIn(name=move.name), actor=SYSTEM, now=now)
            except StaleCase:
                continue  # changed by a person meanwhile; the next run looks again
            fired.append((case.reference, move.name))
    return fired


def on_client_message(*, db: Session, settings: Settings, case: CaseFile, now: datetime | None = None) -> CaseFile:
    """Fire the workflow's client-message triggers (e.g. waiting_on_client -> in_progress)."""
    cc = content(settings)
    for move in cc.workflow.system_transitions():
        if move.trigger and move.trigger.kind == "event" and case.status in move.from_:
            return transition(db=db, settings=settings, case=case, request=TransitionIn(name=move.name), actor=SYSTEM, now=now)
    return case


# --- access ----------------------------------------------------------------------------------


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
    return query.where(CaseFile.partner_org_id == principal.organisation_id, _live_referral_to(principal.organisation_id))


def get_visible(*, db: Session, principal: Principal, reference: str) -> CaseFile:
    """Return the case with reference if principal may see it; raise NotFound otherwise (both alike)."""
    if not _REFERENCE.match(reference or ""):
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


def client_contact(*, db: Session, settings: Settings, case: CaseFile, principal: Principal) -> dict[str, str] | None:
    """Return the client's contact details if the consent covers them (audited), else None."""
    if ConsentScope.contact.value not in consent_scope_for(db=db, case=case, principal=principal):
        return None
    audit(db=db, principal=principal, action="view_contact", case=case)
    return decrypt_json(case.client.contact_encrypted, settings)


def find_by_secret(*, db: Session, reference: str, secret: str) -> CaseFile | None:
    """Return the case when reference and secret match (for the newcomer following their case)."""
    if not _REFERENCE.match((reference or "").strip().upper()):
        return None
    case = db.scalar(select(CaseFile).where(CaseFile.reference == reference.strip().upper()))
    if case is None or not secrets_match((secret or "").strip(), case.secret_hash):
        return None
    return case


# --- audit -----------------------------------------------------------------------------------


def audit(
    *, db: Session, principal: Principal | None, action: str, case: CaseFile | None = None, detail: dict[str, Any] | None = None
) -> None:
    """Record an audit entry (flushed with the caller's transaction, committed right away)."""
    db.add(
        AuditEntry(
            at=utcnow(),
            actor_kind=(ActorKind.token if principal and principal.token_id else ActorKind.user).value
            if principal
            else ActorKind.system.value,
            actor_user_id=principal.user_id if principal else None,
            actor_org_id=principal.organisation_id if principal else None,
            action=action,
            case_id=case.id if case else None,
            detail={**(detail or {}), **({"token_id": principal.token_id} if principal and principal.token_id else {})},
        )
    )
    db.commit()


# --- reading ---------------------------------------------------------------------------------


@dataclass
class InboxFilter:
    """Inbox filters and order; every field optional."""

    status: str | None = None
    category: str | None = None
    language: str | None = None
    partner: str | None = None  # organisation slug of the live referral
    overdue: bool = False
    mine: bool = False
    query: str | None = None
    sort: str = "-updated"
    page: int = 1
    per_page: int = 25


SORTS = {
    "-updated": (CaseFile.updated_at.desc(), CaseFile.id.desc()),
    "updated": (CaseFile.updated_at.asc(), CaseFile.id.asc()),
    "due": (CaseFile.due_at.asc().nulls_last(), CaseFile.id.asc()),
    "-created": (CaseFile.created_at.desc(), CaseFile.id.desc()),
    "reference": (CaseFile.reference.asc(),),
}


#: Above this many matches a search walks the inbox order instead of sorting every match.
SEARCH_CANDIDATES = 2000


def search_condition(db: Session, text: str):  # type: ignore[no-untyped-def]
    """Return the SQL condition for a free-text search: prefix full-text on PostgreSQL, LIKE on SQLite.

    On PostgreSQL a rare term is answered from the GIN index and sorted; a common one (more than
    SEARCH_CANDIDATES matches) is tested row by row along the inbox's index order, which finds a
    page of matches quickly. (`search_vector || ''` hides the GIN index from the planner there.)
    """
    words = [w for w in re.split(r"\s+", text.strip().lower()) if w][:6]
    if not words:
        return None
    if _REFERENCE.match(text.strip().upper()):
        return CaseFile.reference == text.strip().upper()
    if db.get_bind().dialect.name == "postgresql":
        cleaned = [re.sub(r"[^\w]", " ", w).split() for w in words]
        terms = " & ".join(f"{part}:*" for parts in cleaned for part in parts)
        if not terms:
            return None
        match = literal_column("case_file.search_vector").op("@@")(func.to_tsquery("simple", terms))
        # The planner cannot estimate prefix matches, so fetch the candidates first: when they are
        # few, the page is sorted from exactly those ids.
        candidates = db.scalars(select(CaseFile.id).where(match).limit(SEARCH_CANDIDATES + 1)).all()
        if len(candidates) <= SEARCH_CANDIDATES:
            return CaseFile.id.in_(candidates) if candidates else false()
        unindexed = literal_column("(case_file.search_vector || ''::tsvector)")
        return unindexed.op("@@")(func.to_tsquery("simple", terms))
    return and_(*[CaseFile.search_text.like(f"%{w.replace('%', '').replace('_', '')}%") for w in words])


def list_for(
    *, db: Session, principal: Principal, filters: InboxFilter, now: datetime | None = None
) -> tuple[list[CaseFile], bool]:
    """Return one page of the cases principal may see, and whether a next page exists."""
    now = now or utcnow()
    query = visible_cases(principal)
    if filters.status:
        query = query.where(CaseFile.status == filters.status)
    else:
        query = query.where(CaseFile.status != "closed")
    if filters.category:
        query = query.where(CaseFile.category == filters.category)
    if filters.language:
        query = query.where(CaseFile.language == filters.language)
    if filters.overdue:
        query = query.where(CaseFile.due_at.is_not(None), CaseFile.due_at <= now)
    if filters.mine and principal.user_id:
        query = query.where(CaseFile.assignee_id == principal.user_id)
    if filters.partner:
        partner_id = select(Organisation.id).where(Organisation.slug == filters.partner).scalar_subquery()
        query = query.where(
            exists().where(
                Referral.id == CaseFile.current_referral_id,
                Referral.organisation_id == partner_id,
            )
        )
    if filters.query:
        condition = search_condition(db, filters.query)
        if condition is not None:
            query = query.where(condition)
    per_page = max(1, min(filters.per_page, 10_000))
    page = max(1, filters.page)
    query = query.order_by(*SORTS.get(filters.sort, SORTS["-updated"])).offset((page - 1) * per_page).limit(per_page + 1)
    rows = list(db.scalars(query).unique().all())
    return rows[:per_page], len(rows) > per_page


def counts_for(*, db: Session, principal: Principal, now: datetime | None = None) -> dict[str, int]:
    """Return how many visible cases are open, new, overdue, assigned to principal, awaiting an answer."""
    now = now or utcnow()
    visible = visible_cases(principal).where(CaseFile.status.not_in(["resolved", "closed"])).subquery()
    row = db.execute(
        select(
            func.count(),
            func.count().filter(visible.c.status == "new"),
            func.count().filter(visible.c.due_at.is_not(None), visible.c.due_at <= now),
            func.count().filter(visible.c.assignee_id == principal.user_id) if principal.user_id else func.count().filter(False),
            func.count().filter(visible.c.status == "referred"),
        ).select_from(visible)
    ).one()
    return dict(zip(("open", "new", "overdue", "mine", "referred"), (int(v or 0) for v in row), strict=True))


def timeline(*, db: Session, case: CaseFile, principal: Principal) -> list[dict[str, Any]]:
    """Return the case's events and notes that principal may see, oldest first."""
    partner = principal.is_partner
    events = db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)).all()
    notes = {
        n.id: n
        for n in db.scalars(select(CaseNote).where(CaseNote.case_id == case.id)).all()
        if not (partner and n.visibility != Visibility.shared.value)
    }
    items: list[dict[str, Any]] = []
    for event in events:
        note_id = event.data.get("note_id") if event.kind == "note_added" else None
        if note_id is not None and note_id not in notes:
            continue
        if partner and event.kind in ("consent_given", "consent_withdrawn") and event.data.get(
            "organisation_id", None
        ) not in (None, principal.organisation_id):
            continue
        items.append({"event": event, "note": notes.get(note_id) if note_id else None})
    return items


def project(*, db: Session, case_id: int) -> dict[str, Any]:
    """Return the case's projected state rebuilt from its events alone."""
    state: dict[str, Any] = {}
    for event in db.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)).all():
        state.update(event.after)
    return state


def referral_suggestions(*, db: Session, settings: Settings, case: CaseFile) -> list[Suggestion]:
    """Return partner services ranked for case by cases/routing.yml."""
    cc = content(settings)
    open_statuses = sorted(cc.routing.open_statuses)
    rows = db.execute(
        select(Organisation.slug, Referral.service_id, func.count())
        .join(Organisation, Organisation.id == Referral.organisation_id)
        .join(CaseFile, CaseFile.current_referral_id == Referral.id)
        .where(Referral.state.in_([s.value for s in LIVE_REFERRAL_STATES]), CaseFile.status.in_(open_statuses))
        .group_by(Organisation.slug, Referral.service_id)
    ).all()
    open_referrals = {(slug, service): count for slug, service, count in rows}
    languages = [case.client.preferred_language, *(case.client.other_languages or [])]
    return suggest(
        directory=directory(settings),
        routing=cc.routing,
        category=case.category,
        languages=languages,
        district=case.district,
        open_referrals=open_referrals,
    )


def staff_of(*, db: Session, organisation_id: int) -> list[User]:
    """Return the active users of an organisation, by name."""
    return list(
        db.scalars(
            select(User).where(User.organisation_id == organisation_id, User.is_active.is_(True)).order_by(User.display_name)
        ).all()
    )


def _enqueue_webhooks(db: Session, case: CaseFile, event_type: str, now: datetime) -> None:
    from app.webhooks import service as webhooks

    webhooks.enqueue_for_case(db=db, case=case, event_type=event_type, now=now)


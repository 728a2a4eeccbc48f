"""Cases: opening one, the workflow of cases/workflow.yml (transitions, referrals, deadlines), and
the fields staff edit (assignee, priority, district, tags).

Every function here only flushes: the use case that calls it (a flow or a route) commits once, or
rolls everything back. A concurrent change of the same case surfaces at flush as the version
column's StaleDataError (the flows turn it into StaleCase with what changed).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.auth.enums import OrgKind
from app.auth.models import Organisation, User
from app.auth.permissions import Action, Principal, can
from app.cases import events
from app.cases.consent import live_consent
from app.cases.content import CaseContent, case_content
from app.cases.content.workflow import Transition
from app.cases.deadlines import due_at, settled_clocks
from app.cases.enums import LIVE_REFERRAL_STATES, Priority, ReferralState, Source
from app.cases.events import SYSTEM, Actor
from app.cases.exceptions import ConsentMissing, StaleCase, TransitionNotAllowed
from app.cases.models import CaseCounter, CaseFile, Client, Referral
from app.cases.schemas import MAX_DESCRIPTION, MAX_NOTE, CaseIn, ClientIn, TransitionIn
from app.config import Settings
from app.crypto import decrypt_json, encrypt_json, hash_readable_secret, new_readable_secret
from app.db import utcnow
from app.errors import InvalidInput, PermissionDenied
from app.i18n import _
from app.languages import LANGUAGE_CODE

#: Answers whether a case of a category may be referred to a partner's service (the partner
#: directory's `can_refer`, passed in by the flow that owns the referral).
CanRefer = Callable[..., bool]
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_PHONE = re.compile(r"^\+?[0-9 ()-]{6,20}$")


# --- opening a case ------------------------------------------------------------------------------


def office(*, db: Session, settings: Settings) -> Organisation:
    """Return the city office organisation, created from the settings when it is not there yet (a
    fresh install where no staff user exists still opens cases: the office owns them); flushes."""
    return auth_service.ensure_organisation(
        db=db, slug=settings.office_slug, name=settings.office_name, kind=OrgKind.office, rename=False
    )


def _validate_new(cc: CaseContent, client: ClientIn, case: CaseIn) -> None:
    errors: dict[str, str] = {}
    if not client.display_name.strip():
        errors["display_name"] = _("Enter a name we can call you by (it does not have to be your full name).")
    elif len(client.display_name) > 120:
        errors["display_name"] = _("Enter at most %(max)s characters.", max=120)
    if not LANGUAGE_CODE.match(client.preferred_language or ""):
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


def next_reference(*, db: Session, prefix: str, year: int) -> str:
    """Return the next case reference of year, e.g. KRK-2026-000123 (atomic on both databases)."""
    for _attempt in range(5):
        number = db.execute(
            update(CaseCounter)
            .where(CaseCounter.year == year)
            .values(last=CaseCounter.last + 1)
            .returning(CaseCounter.last)
        ).scalar()
        if number is not None:
            return f"{prefix}-{year}-{number:06d}"
        try:
            with db.begin_nested():
                db.execute(insert(CaseCounter).values(year=year, last=0))
        except IntegrityError:
            continue  # another transaction created the year's row first
    raise RuntimeError("could not allocate a case reference")


def create(
    *,
    db: Session,
    settings: Settings,
    client: ClientIn,
    case: CaseIn,
    actor: Actor,
    now: datetime | None = None,
) -> tuple[CaseFile, str]:
    """Return a new case and its client secret (shown once); raise InvalidInput. Flushes."""
    now = now or utcnow()
    cc = case_content(settings)
    _validate_new(cc, client, case)
    owner = office(db=db, settings=settings)
    contact = {k: v.strip() for k, v in (("email", client.email), ("phone", client.phone)) if v and v.strip()}
    if client.preferred_contact:
        contact["preferred"] = client.preferred_contact
    person = Client(
        display_name=client.display_name.strip(),
        preferred_language=client.preferred_language,
        other_languages=[code for code in client.other_languages if LANGUAGE_CODE.match(code)],
        district=client.district or None,
        contact_encrypted=encrypt_json(contact, settings) if contact else None,
        created_at=now,
    )
    db.add(person)
    secret = new_readable_secret()  # 80 bits, no look-alike characters: people copy it from paper
    reference = next_reference(
        db=db, prefix=settings.case_reference_prefix, year=now.astimezone(settings.zone).year
    )
    record = CaseFile(
        reference=reference,
        secret_hash=hash_readable_secret(secret),
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
    record.due_at = due_at(cc, record, now)
    record.search_text = _search_text(record, person)
    db.add(record)
    db.flush()
    events.append(db, record, kind="created", actor=actor, at=now, data={"source": record.source})
    db.flush()
    return record, secret


def add_client_contact(*, db: Session, settings: Settings, case: CaseFile, found: dict[str, list[str]]) -> bool:
    """Add e-mail addresses and phone numbers the client gave (in a chat, say) to the case's encrypted
    contact details, each kind once; return whether anything was new. Flushes."""
    contact = decrypt_json(case.client.contact_encrypted, settings)
    changed = False
    for kind in ("email", "phone"):
        known = [value.strip() for value in str(contact.get(kind) or "").split(",") if value.strip()]
        for value in found.get(kind, []):
            if value not in known:
                known.append(value)
                changed = True
        if known:
            contact[kind] = ", ".join(known)
    if changed:
        case.client.contact_encrypted = encrypt_json(contact, settings)
        db.flush()
    return changed


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
    cc = case_content(settings)
    return [
        t
        for t in cc.workflow.transitions.values()
        if case.status in t.from_ and t.scope and may_make(cc, t, case, actor)
    ]


def check_version(db: Session, case: CaseFile, expected_version: int | None) -> None:
    """Raise StaleCase (with what changed since) when expected_version is given and not the case's."""
    if expected_version is not None and expected_version != case.version:
        raise StaleCase(events.changes_since(db=db, case_id=case.id, version=expected_version))


def transition(
    *,
    db: Session,
    settings: Settings,
    case: CaseFile,
    request: TransitionIn,
    actor: Actor,
    now: datetime | None = None,
    can_refer: CanRefer | None = None,
) -> CaseFile:
    """Return case after the named transition; raise TransitionNotAllowed, PermissionDenied,
    InvalidInput, ConsentMissing or StaleCase. A transition to a partner (`requires: partner`) needs
    can_refer, the partner directory's answer to "does this service take this category?". Flushes."""
    now = now or utcnow()
    cc = case_content(settings)
    move = cc.workflow.transitions.get(request.name)
    if move is None or (move.scope is None and actor.principal is not None):
        raise InvalidInput({"name": _("This action does not exist.")})
    if case.status not in move.from_:
        allowed = [t.label for t in available_transitions(settings=settings, case=case, actor=actor)]
        raise TransitionNotAllowed(move.name, cc.workflow.statuses[case.status].label, allowed)
    if not may_make(cc, move, case, actor):
        raise PermissionDenied(move.name)
    check_version(db, case, request.expected_version)
    requirements = _validate_requirements(
        db=db, cc=cc, move=move, case=case, request=request, can_refer=can_refer
    )

    before = events.snapshot(case)
    case.clocks = settled_clocks(cc, case, now)
    for clock in move.resets_clocks:
        case.clocks = {**case.clocks, clock: 0.0}
    data: dict[str, Any] = {}
    if "category" in move.requires:
        case.category = requirements["category"]
    if "reason" in move.requires or request.reason:
        data["reason"] = (request.reason or "").strip() or None
    if request.decline_reason is not None and _REFERRAL_EFFECT.get(move.name) is ReferralState.declined:
        data["decline_reason"] = request.decline_reason.value
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
    case.due_at = due_at(cc, case, now)
    db.flush()
    events.append(db, case, kind="transition", name=move.name, actor=actor, at=now, before=before, data=data)
    db.flush()
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


def _advance_referral(
    name: str, referral: Referral, case: CaseFile, now: datetime, data: dict[str, Any]
) -> None:
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
    *,
    db: Session,
    cc: CaseContent,
    move: Transition,
    case: CaseFile,
    request: TransitionIn,
    can_refer: CanRefer | None,
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
        category = found.get("category", case.category)
        slug, service_id = request.organisation or "", request.service or ""
        if can_refer is None or not can_refer(
            organisation_slug=slug, service_id=service_id, category=category
        ):
            errors["service"] = _("Choose a partner service that helps with this kind of case.")
        else:
            partner = db.scalar(select(Organisation).where(Organisation.slug == slug))
            if partner is None or partner.kind != OrgKind.partner:
                errors["service"] = _("This organisation has no account in Witaj yet.")
            else:
                found["partner"] = partner
    if errors:
        raise InvalidInput(errors)
    if "consent" in move.requires:
        consent = live_consent(
            db=db, case=case, organisation_id=found["partner"].id, consent_id=request.consent_id
        )
        if consent is None:
            raise ConsentMissing()
        found["consent"] = consent
    return found


def on_client_message(
    *, db: Session, settings: Settings, case: CaseFile, now: datetime | None = None
) -> CaseFile:
    """Fire the workflow's client-message triggers (e.g. waiting_on_client -> in_progress). Flushes."""
    cc = case_content(settings)
    for move in cc.workflow.system_transitions():
        if move.trigger and move.trigger.kind == "event" and case.status in move.from_:
            return transition(
                db=db,
                settings=settings,
                case=case,
                request=TransitionIn(name=move.name),
                actor=SYSTEM,
                now=now,
            )
    return case


def due_timers(*, db: Session, settings: Settings, now: datetime) -> Iterator[tuple[int, str]]:
    """Yield (case id, transition name) of every system transition whose timer has run out
    (escalate, client_silent, auto_close), in case order per transition. Each transition's cases
    are looked up when the previous one's have been handled, so a case that one fired has moved on."""
    cc = case_content(settings)
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
            yield case_id, move.name


# --- assignment and fields -------------------------------------------------------------------------


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
    PermissionDenied (nothing is changed then). Flushes."""
    now = now or utcnow()
    principal = actor.principal
    if principal is None or principal.organisation_id != case.holder_org_id:
        raise PermissionDenied("edit")
    check_version(db, case, expected_version)
    cc = case_content(settings)
    errors: dict[str, str] = {}
    if assignee_id is not ... and assignee_id is not None:
        user = db.get(User, assignee_id)
        if user is None or user.organisation_id != case.holder_org_id or not user.is_active:
            errors["assignee_id"] = _("Choose a colleague from your organisation.")
        elif assignee_id != principal.user_id and not can(principal, Action.assign_cases, case.holder_org_id):
            errors["assignee_id"] = _("Only a supervisor may assign cases to others.")
    if priority is not None and priority not in {p.value for p in Priority}:
        errors["priority"] = _("Choose one of the offered options.")
    if district is not ... and district and district not in cc.districts:
        errors["district"] = _("Choose a district from the list.")
    if errors:
        raise InvalidInput(errors)
    before = events.snapshot(case)
    if assignee_id is not ...:
        case.assignee_id = assignee_id  # type: ignore[assignment]
    if priority is not None:
        case.priority = priority
    if district is not ...:
        case.district = district or None  # type: ignore[assignment]
    if tags is not None:
        case.tags = sorted({t.strip().lower()[:40] for t in tags if t.strip()})
    if events.snapshot(case) == before:
        return case
    case.updated_at = now
    db.flush()
    events.append(db, case, kind="updated", actor=actor, at=now, before=before)
    db.flush()
    return case


def partner_to_notify(*, db: Session, case: CaseFile, now: datetime) -> int | None:
    """Return the organisation id of the partner with the case's live referral, or of the one whose
    referral a change at `now` just ended (it is still told about that change); None when there is none."""
    live = db.scalar(
        select(Referral.organisation_id).where(
            Referral.case_id == case.id, Referral.state.in_([s.value for s in LIVE_REFERRAL_STATES])
        )
    )
    if live is not None:
        return live
    return db.scalar(
        select(Referral.organisation_id)
        .where(Referral.case_id == case.id, Referral.ended_at == now)
        .order_by(Referral.id.desc())
    )


def staff_of(*, db: Session, organisation_id: int) -> list[User]:
    """Return the active users of an organisation, by name."""
    return list(
        db.scalars(
            select(User)
            .where(User.organisation_id == organisation_id, User.is_active.is_(True))
            .order_by(User.display_name)
        ).all()
    )


def record_handover(*, db: Session, case: CaseFile, channel: str, now: datetime) -> None:
    """Append to the case's history that a chat (on channel) was handed over to a person. Flushes."""
    events.append(db, case, kind="handover", actor=events.CLIENT, at=now, data={"channel": channel})
    db.flush()

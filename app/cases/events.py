"""The case history: who acts (Actor), the append-only events, and the state rebuilt from them.

Every change appends a CaseEvent; CaseFile holds the current state as a projection of those
events (`project()` rebuilds it). Events never hold personal data: they are kept for ever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.auth.permissions import Principal
from app.cases.enums import ActorKind
from app.cases.models import CaseEvent, CaseFile


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


def snapshot(case: CaseFile) -> dict[str, Any]:
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


def append(
    db: Session,
    case: CaseFile,
    *,
    kind: str,
    actor: Actor,
    at: datetime,
    before: dict[str, Any] | None = None,
    name: str | None = None,
    data: dict[str, Any] | None = None,
) -> CaseEvent:
    """Add an event recording what changed in case since `before` (a snapshot); the whole state when
    before is None."""
    after = snapshot(case)
    before = before or {}
    changed_before = {k: v for k, v in before.items() if after.get(k) != v}
    changed_after = {k: after[k] for k in changed_before} if before else after
    event = CaseEvent(
        case_id=case.id,
        version=case.version,
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


def touch(db: Session, case: CaseFile, now: datetime) -> None:
    """Move the case up the inbox (updated_at) without bumping its version.

    A plain UPDATE, so that a note or a consent never makes someone else's pending status change stale.
    """
    db.execute(
        update(CaseFile)
        .where(CaseFile.id == case.id)
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )


def changes_since(*, db: Session, case_id: int, version: int | None) -> list[dict[str, Any]]:
    """Return the events after version (None: the newest one), oldest first, as
    {version, kind, name, at, before, after}."""
    if version is None:
        newest = db.scalar(
            select(CaseEvent.version).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id.desc())
        )
        version = (newest or 1) - 1
    rows = db.scalars(
        select(CaseEvent)
        .where(CaseEvent.case_id == case_id, CaseEvent.version > version)
        .order_by(CaseEvent.id)
    ).all()
    return [
        {
            "version": e.version,
            "kind": e.kind,
            "name": e.name,
            "at": e.at.isoformat(),
            "before": e.before,
            "after": e.after,
        }
        for e in rows
    ]


def project(*, db: Session, case_id: int) -> dict[str, Any]:
    """Return the case's projected state rebuilt from its events alone."""
    state: dict[str, Any] = {}
    for event in db.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
    ).all():
        state.update(event.after)
    return state

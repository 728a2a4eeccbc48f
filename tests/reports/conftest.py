"""Shared history of the reports' tests: four cases worked through in November 2026.

The office is open 08:00-16:00 Warsaw time (07:00-15:00 UTC in November), Monday to Friday.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.cases import flows
from app.cases import service as case_service
from app.cases.schemas import TransitionIn
from app.reports import facts
from tests.cases.fixtures import PARTNER_A


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def move(db, settings, world, case, name, when, user=None, **fields):
    flows.transition(
        db=db, settings=settings, case=case, request=TransitionIn(name=name, **fields),
        actor=world.actor(user or world.caseworker), now=when,
    )


def refer(db, settings, world, case, when):
    flows.record_consent(
        db=db, case=case, organisation_slug=PARTNER_A, scope=["case"], language="uk", method="staff",
        actor=world.actor(world.caseworker), now=when,
    )
    move(db, settings, world, case, "refer", when, organisation=PARTNER_A, service="legal-aid-residence")


@pytest.fixture
def history(db, settings, world, open_case):
    """Four cases: three opened in November 2026, one on 30 October and answered in November."""
    one, _ = open_case(category="legal_aid", language="uk", district="Nowa Huta", now=at(2, 8))
    move(db, settings, world, one, "triage", at(2, 10), category="legal_aid")  # 2 office hours in `new`
    refer(db, settings, world, one, at(3, 8))  # triaged 10:00-15:00 + 07:00-08:00: 6 h
    move(db, settings, world, one, "accept", at(3, 11), user=world.staff_a)  # answered in 3 h
    # accepted 11:00-15:00 + 07:00-08:00 = 5 h more: 11 h of the resolution clock in all
    move(db, settings, world, one, "resolve", at(4, 8), user=world.staff_a, outcome="helped")

    two, _ = open_case(category="work_permit", language="ru", district=None, now=at(2, 9))
    move(db, settings, world, two, "dismiss", at(2, 12), outcome="duplicate", reason="Twice")  # 3 h
    case_service.record_handover(db=db, case=two, channel="web", now=at(3, 9))
    db.commit()

    three, _ = open_case(category="legal_aid", language="uk", now=at(5, 8))
    move(db, settings, world, three, "triage", at(5, 8, 30), category="legal_aid")  # half an hour
    refer(db, settings, world, three, at(5, 9))
    move(db, settings, world, three, "decline", at(5, 10), user=world.staff_a, reason="Full", decline_reason="no_capacity")

    # Opened on Friday 30 October 14:00 UTC (1 office hour that day), triaged Monday 2 November 09:00 UTC (2 more).
    four, _ = open_case(category="housing", language="en", now=at(30, 14, month=10))
    move(db, settings, world, four, "triage", at(2, 9), category="housing")
    facts.refresh(db=db, settings=settings, now=at(6, 12))
    return {"one": one, "two": two, "three": three, "four": four}

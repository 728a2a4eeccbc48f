"""Deadline clocks: business time spent per clock (first response, referral answer, resolution) and
when the running clock's deadline falls, counted in the office's opening hours (cases/README.md)."""

from __future__ import annotations

from datetime import datetime

from app.cases.content import CaseContent
from app.cases.models import CaseFile
from app.db import utcnow


def settled_clocks(cc: CaseContent, case: CaseFile, now: datetime) -> dict[str, float]:
    """Return the case's clocks with the running clock's business time up to now added."""
    clocks = dict(case.clocks or {})
    clock = cc.workflow.statuses[case.status].clock
    if clock:
        spent = cc.workflow.calendar.business_seconds_between(case.status_changed_at, now)
        clocks[clock] = clocks.get(clock, 0.0) + spent
    return clocks


def due_at(cc: CaseContent, case: CaseFile, now: datetime) -> datetime | None:
    """Return when the clock running in the case's status runs out (None: no clock runs)."""
    clock = cc.workflow.statuses[case.status].clock
    if not clock:
        return None
    limit_hours = cc.categories[case.category].deadlines[clock]
    remaining = max(0.0, limit_hours * 3600 - (case.clocks or {}).get(clock, 0.0))
    return cc.workflow.calendar.add_business_hours(now, remaining / 3600)


def is_overdue(case: CaseFile, now: datetime | None = None) -> bool:
    """Return whether the running deadline clock of case has passed."""
    return case.due_at is not None and case.due_at <= (now or utcnow())

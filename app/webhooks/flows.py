"""Posting the webhooks that are due: claimed in one short transaction, posted with no transaction
open (a slow receiver never holds the database), recorded in another."""

from __future__ import annotations

from datetime import datetime

import httpx
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import committed, utcnow
from app.webhooks import service


def deliver_due(
    *,
    db: Session,
    settings: Settings,
    now: datetime | None = None,
    client: httpx.Client | None = None,
    limit: int = 100,
) -> dict[str, int]:
    """Post every due delivery once (claimed, so another runner never posts it too); reschedule
    failures with back-off; return the counts. Commits twice: the claim, then the outcomes."""
    now = now or utcnow()
    with committed(db):
        outgoing = service.claim_due(db=db, settings=settings, now=now, limit=limit)
    if not outgoing:
        return {"delivered": 0, "retry": 0, "failed": 0}
    outcomes = service.post(outgoing, client=client)
    with committed(db):
        return service.record(db=db, outcomes=outcomes, now=now)

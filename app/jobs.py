"""Periodic work: workflow timers (escalation, auto-close), webhook deliveries, visit reminders,
messenger answers waiting in the outbox, stale form drafts, visits' personal data and chats past
retention, and
the statistics' facts (app/reports/facts.py).

Runs inside the app every WITAJ_JOBS_INTERVAL_SECONDS (0 turns it off, e.g. when a separate
`witaj jobs run` process or cron does it). Each step is idempotent: a timer that fires twice is
refused the second time by the case's version, and deliveries are at-least-once by design.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy import Engine

from app.appointments import flows as visit_flows
from app.appointments import service as visit_service
from app.assistant import review as assistant_review
from app.assistant.channels import flows as channel_flows
from app.cases import flows as case_flows
from app.cases import once
from app.config import Settings
from app.db import session_factory
from app.forms import service as forms_service
from app.reports import facts as report_facts
from app.webhooks import flows as webhook_flows

log = logging.getLogger("witaj.jobs")
#: Cases one round folds at most (a few seconds); a larger backlog, such as a first fold of years of
#: history, waits for `witaj reports rebuild` instead of holding up reminders and timers.
REPORTS_PER_ROUND = 20_000


def run_once(*, engine: Engine, settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """Fire due workflow timers, post due webhooks, send due visit reminders and messenger answers,
    delete stale form drafts, forget the sealed secrets nobody came back for, erase visits'
    names and contacts past retention and delete chats, ratings and review items past theirs, once;
    return counts."""
    factory = session_factory(engine, write=True)
    with factory() as db:
        fired = case_flows.run_timers(db=db, settings=settings, now=now)
    with factory() as db:
        delivered = webhook_flows.deliver_due(db=db, settings=settings, now=now)
    with factory() as db:
        # Before the messengers' outbox: a reminder for a messenger is queued there and sent below.
        reminded = visit_flows.send_reminders(db=db, settings=settings, now=now)
    with factory() as db:
        sent = channel_flows.deliver(db=db, settings=settings, now=now)
    with factory() as db:
        purged = forms_service.purge_drafts(db=db, now=now)
        forgotten = once.forget_unclaimed(db=db, now=now)
        erased = visit_service.purge_personal(db=db, settings=settings, now=now)
        db.commit()
    with factory() as db:
        # Chats idle past WITAJ_CONVERSATION_RETENTION_DAYS, and the ratings and queue items that old.
        forgotten_chats = assistant_review.purge(db=db, settings=settings, now=now)
        db.commit()
    with factory() as db:
        # Last: the statistics fold in what the steps above changed.
        folded = report_facts.refresh(db=db, settings=settings, now=now, limit=REPORTS_PER_ROUND)
        db.commit()
    if folded["waiting"]:
        log.warning("statistics: %s cases wait to be folded: run `witaj reports rebuild`", folded["waiting"])
    return {
        "timers": len(fired), **delivered, **reminded, "messages_sent": sent["sent"], "messages_retry": sent["retry"],
        "messages_failed": sent["failed"], "drafts_deleted": purged, "secrets_forgotten": forgotten,
        "visits_erased": erased, "report_cases": folded["cases"], **forgotten_chats,
    }


async def loop(*, engine: Engine, settings: Settings) -> None:
    """Run run_once every interval until cancelled; errors are logged, never fatal."""
    interval = settings.jobs_interval_seconds
    while True:
        await asyncio.sleep(interval)
        try:
            counts = await asyncio.to_thread(run_once, engine=engine, settings=settings)
            if any(counts.values()):
                log.info("jobs: %s", counts)
        except Exception as exc:  # noqa: BLE001 - the next round tries again
            log.error("jobs failed: %s", type(exc).__name__)

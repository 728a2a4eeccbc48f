"""The statistics' facts, folded from the case history (case_event) and the chat's messages.

`refresh` folds what happened since the last run (the jobs runner calls it); `rebuild` folds the whole
history again. Folding a case is a pure function of its events, so it can be repeated: a refresh
re-folds every case touched by the newest events, plus a few events before the last one it saw
(SLACK), because an event committed late by a concurrent transaction can carry a smaller id.

Every figure is filed under the month (Europe/Warsaw, the workflow's calendar) it happened in: the
month a case was opened, first answered, closed; a referral made, answered, ended. A month that is
over therefore never changes, and two publications of it are the same.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from app.assistant.models import Conversation, ConversationMessage
from app.cases.content import CaseContent, case_content
from app.cases.models import CaseEvent, CaseFile, Referral
from app.config import Settings
from app.db import utcnow
from app.reports.models import ReportCase, ReportChatDay, ReportCursor, ReportHandover, ReportReferral

#: Events before the last one seen that a refresh reads again (see the module's docstring).
SLACK = 100
#: Cases folded per round trip.
BATCH = 1000
#: The clocks of cases/categories.yml `deadlines` that the statistics report on.
FIRST_RESPONSE, RESOLUTION, REFERRAL_ANSWER = "first_response", "resolution", "referral_answer"
#: Statuses in which a case counts as closed (its first arrival in one of them).
CLOSING = frozenset({"resolved", "closed"})
#: Transitions that answer a referral, and the answer they give.
ANSWERS = {"accept": "accepted", "decline": "declined", "escalate": "expired", "withdraw_referral": "withdrawn"}
#: Transitions that end an accepted referral, and how it ended.
ENDS = {"hand_back": "returned", "recall": "recalled", "reopen_for_triage": "completed"}
#: The cursor's single row.
CURSOR_ID = 1


def month_of(at: datetime, zone: ZoneInfo) -> str:
    """Return the local month of at as 'YYYY-MM'."""
    return at.astimezone(zone).strftime("%Y-%m")


def _limit(cc: CaseContent, category: str | None, clock: str) -> float | None:
    found = cc.categories.get(category or "")
    return float(found.deadlines[clock]) if found and clock in found.deadlines else None


def fold(
    cc: CaseContent,
    *,
    case_id: int,
    owner_org_id: int,
    language: str,
    events: Sequence[Any],
    organisations: dict[int, int],
) -> tuple[dict[str, Any] | None, list[dict[str, Any]], list[dict[str, Any]]]:
    """Return the report_case row, the report_referral rows and the report_handover rows of one case
    from its events (oldest first; each with kind, name, actor_kind, at, after, data).
    organisations: referral id -> partner."""
    workflow, zone = cc.workflow, cc.workflow.calendar.zone
    calendar = workflow.calendar
    state: dict[str, Any] = {}
    fact: dict[str, Any] | None = None
    referrals: dict[int, dict[str, Any]] = {}
    handovers: dict[datetime, dict[str, Any]] = {}
    live: int | None = None
    status: str | None = None
    since: datetime | None = None
    clocks: dict[str, float] = defaultdict(float)
    for event in events:
        state.update(event.after or {})
        data = event.data or {}
        if event.kind == "created":
            status, since = state.get("status"), event.at
            source = "api" if event.actor_kind == "token" else str(data.get("source") or "staff")
            fact = {
                "case_id": case_id, "owner_org_id": owner_org_id, "language": language, "source": source,
                "district": state.get("district"), "opened_at": event.at, "opened_month": month_of(event.at, zone),
                "opened_category": state.get("category") or "other",
                "first_response_at": None, "first_response_month": None, "first_response_category": None,
                "first_response_hours": None, "first_response_limit": None, "closed_at": None,
                "closed_month": None, "closed_category": None, "resolution_hours": None,
                "resolution_limit": None, "outcome": None,
            }
            continue
        if event.kind == "handover":
            handovers[event.at] = {
                "case_id": case_id, "at": event.at, "month": month_of(event.at, zone), "language": language,
                "category": state.get("category") or "other",
            }
            continue
        if fact is None or since is None or event.kind != "transition":
            continue
        category = state.get("category")
        new_status = state.get("status", status)
        if new_status != status:
            running = workflow.statuses[status].clock if status in workflow.statuses else None
            if running:
                clocks[running] += calendar.business_seconds_between(since, event.at)
            move = workflow.transitions.get(event.name or "")
            for clock in move.resets_clocks if move else ():
                clocks[clock] = 0.0
            if status == workflow.initial and fact["first_response_at"] is None:
                fact.update(
                    first_response_at=event.at, first_response_month=month_of(event.at, zone),
                    first_response_category=category, first_response_hours=clocks[FIRST_RESPONSE] / 3600,
                    first_response_limit=_limit(cc, category, FIRST_RESPONSE),
                )
            if new_status in CLOSING and fact["closed_at"] is None:
                fact.update(
                    closed_at=event.at, closed_month=month_of(event.at, zone), closed_category=category,
                    resolution_hours=clocks[RESOLUTION] / 3600, resolution_limit=_limit(cc, category, RESOLUTION),
                    outcome=state.get("outcome"),
                )
            status, since = new_status, event.at
        referral_id = data.get("referral_id")
        if event.name == "refer" and isinstance(referral_id, int):
            referrals[referral_id] = {
                "referral_id": referral_id, "case_id": case_id,
                "organisation_id": organisations.get(referral_id, 0), "category": category or "other",
                "language": language, "referred_at": event.at, "referred_month": month_of(event.at, zone),
                "answer": None, "answered_at": None, "answered_month": None, "answer_hours": None,
                "answer_limit": None, "decline_reason": None, "ended": None, "ended_at": None, "ended_month": None,
            }
            live = referral_id
            continue
        referral = referrals.get(referral_id if isinstance(referral_id, int) else live or -1)
        if referral is None:
            continue
        if event.name in ANSWERS and referral["answer"] is None:
            referral.update(
                answer=ANSWERS[event.name], answered_at=event.at, answered_month=month_of(event.at, zone),
                answer_hours=clocks[REFERRAL_ANSWER] / 3600, answer_limit=_limit(cc, referral["category"], REFERRAL_ANSWER),
                decline_reason=(str(data.get("decline_reason") or "not_given") if event.name == "decline" else None),
            )
            if event.name != "accept":
                live = None
        elif referral["answer"] == "accepted" and referral["ended"] is None and (
            event.name in ENDS or new_status in CLOSING
        ):
            referral.update(
                ended=ENDS.get(event.name or "", "completed"), ended_at=event.at, ended_month=month_of(event.at, zone)
            )
            live = None
    return fact, list(referrals.values()), list(handovers.values())


def _fold_cases(db: Session, cc: CaseContent, case_ids: Sequence[int]) -> int:
    """Fold the given cases again (replacing their rows); return how many were folded. Flushes."""
    done = 0
    for start in range(0, len(case_ids), BATCH):
        batch = list(case_ids[start : start + BATCH])
        heads = db.execute(
            select(CaseFile.id, CaseFile.owner_org_id, CaseFile.language).where(CaseFile.id.in_(batch))
        ).all()
        events: dict[int, list[Any]] = defaultdict(list)
        for row in db.execute(
            select(
                CaseEvent.case_id, CaseEvent.kind, CaseEvent.name, CaseEvent.actor_kind,
                CaseEvent.at, CaseEvent.after, CaseEvent.data,
            )
            .where(CaseEvent.case_id.in_(batch))
            .order_by(CaseEvent.case_id, CaseEvent.id)
        ):
            events[row.case_id].append(row)
        organisations: dict[int, int] = {
            referral_id: org_id
            for referral_id, org_id in db.execute(
                select(Referral.id, Referral.organisation_id).where(Referral.case_id.in_(batch))
            )
        }
        cases, referrals, handovers = [], [], []
        for head in heads:
            fact, made, handed = fold(
                cc, case_id=head.id, owner_org_id=head.owner_org_id, language=head.language,
                events=events.get(head.id, ()), organisations=organisations,
            )
            if fact is not None:
                cases.append(fact)
            referrals.extend(made)
            handovers.extend(handed)
        db.execute(delete(ReportCase).where(ReportCase.case_id.in_(batch)))
        db.execute(delete(ReportReferral).where(ReportReferral.case_id.in_(batch)))
        db.execute(delete(ReportHandover).where(ReportHandover.case_id.in_(batch)))
        if cases:
            db.execute(insert(ReportCase), cases)
        if referrals:
            db.execute(insert(ReportReferral), referrals)
        if handovers:
            db.execute(insert(ReportHandover), handovers)
        done += len(cases)
    db.flush()
    return done


def _count_chat(db: Session, zone: ZoneInfo, start: date) -> int:
    """Count newcomers' messages per local day, language, intent and channel from start on (replacing
    those days' rows); return how many rows were written. Flushes."""
    since = datetime.combine(start, datetime.min.time(), tzinfo=zone)
    counts: dict[tuple[date, str, str, str], int] = defaultdict(int)
    rows = db.execute(
        select(
            ConversationMessage.created_at,
            func.coalesce(ConversationMessage.language, Conversation.language),
            ConversationMessage.data["intent"].as_string(),
            Conversation.channel,
        )
        .join(Conversation, Conversation.id == ConversationMessage.conversation_id)
        .where(ConversationMessage.author == "user", ConversationMessage.created_at >= since)
    )
    for at, language, intent, channel in rows:
        counts[(at.astimezone(zone).date(), language or "", (intent or "none")[:80], channel)] += 1
    db.execute(delete(ReportChatDay).where(ReportChatDay.day >= start))
    if counts:
        db.execute(
            insert(ReportChatDay),
            [
                {
                    "day": day, "month": day.strftime("%Y-%m"), "language": language, "intent": intent,
                    "channel": channel, "messages": n,
                }
                for (day, language, intent, channel), n in sorted(counts.items())
            ],
        )
    db.flush()
    return len(counts)


def _cursor(db: Session) -> ReportCursor:
    # FOR UPDATE: two refreshes at once (the jobs runner and a publication) take turns on PostgreSQL;
    # SQLite serialises writers anyway.
    cursor = db.scalar(select(ReportCursor).where(ReportCursor.id == CURSOR_ID).with_for_update())
    if cursor is None:
        cursor = ReportCursor(id=CURSOR_ID, last_event_id=0, chat_from=None, generation=uuid.uuid4().hex)
        db.add(cursor)
        db.flush()
    return cursor


def refresh(
    *, db: Session, settings: Settings, now: datetime | None = None, limit: int | None = None
) -> dict[str, int]:
    """Fold the cases touched since the last refresh and count the chat's open days; return
    {'cases': cases folded, 'chat_rows': chat rows written, 'waiting': cases left for a rebuild}.
    With limit, more touched cases than that are left alone (a first fold of a large history is
    `witaj reports rebuild`'s work, not a jobs round's). Flushes; the caller commits."""
    now = now or utcnow()
    cc = case_content(settings)
    zone = cc.workflow.calendar.zone
    cursor = _cursor(db)
    newest = db.scalar(select(func.max(CaseEvent.id))) or 0
    folded = 0
    if newest > cursor.last_event_id or cursor.last_event_id == 0:
        floor = max(0, cursor.last_event_id - SLACK) if cursor.last_event_id else 0
        touched = db.scalars(select(CaseEvent.case_id).where(CaseEvent.id > floor).distinct()).all()
        if limit is not None and len(touched) > limit:
            return {"cases": 0, "chat_rows": 0, "waiting": len(touched)}
        folded = _fold_cases(db, cc, sorted(touched))
    cursor.last_event_id = newest
    today = now.astimezone(zone).date()
    start = cursor.chat_from
    if start is None:
        first = db.scalar(select(func.min(ConversationMessage.created_at)))
        start = first.astimezone(zone).date() if first else today
    # Yesterday stays open one more round: a message sent just before midnight can commit after it.
    chat_rows = _count_chat(db, zone, min(start, today))
    cursor.chat_from = today - timedelta(days=1)
    cursor.refreshed_at = now
    db.flush()
    return {"cases": folded, "chat_rows": chat_rows, "waiting": 0}


def rebuild(*, db: Session, settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """Fold the whole case history again; return what refresh returns. The chat's counts of
    past days are kept: their messages may have been erased since."""
    cursor = _cursor(db)
    cursor.last_event_id = 0
    cursor.generation = uuid.uuid4().hex
    db.execute(delete(ReportCase))
    db.execute(delete(ReportReferral))
    db.execute(delete(ReportHandover))
    db.flush()
    return refresh(db=db, settings=settings, now=now)


def refreshed_at(db: Session) -> datetime | None:
    """Return when the facts were last refreshed (None: never)."""
    return db.scalar(select(ReportCursor.refreshed_at).where(ReportCursor.id == CURSOR_ID))


def generation(db: Session) -> str | None:
    """Return the generation of the facts (a new one after each rebuild; None: never folded)."""
    return db.scalar(select(ReportCursor.generation).where(ReportCursor.id == CURSOR_ID))


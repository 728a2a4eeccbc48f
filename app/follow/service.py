"""The newcomer's view of their case ("follow my case").

- The case number and secret are checked with pauses for guessing: per case (app/cases/access.py
  `find_by_secret`, whoever asks) and per client address (the sign-in throttle of app/auth/service.py),
  so neither one secret nor case numbers one after another can be tried for long.
- A right pair gives a short-lived sealed token (kept in a cookie) that shows the case: the secret
  never travels in an address or comes back in a page.
- The case reads in plain words: where it is, what happens next and how long that usually takes (the
  category's deadlines of cases/, counted in the office's opening hours), and the messages our staff
  wrote to the client in the chat, machine-translated into the reader's language with the original.
  Notes are not shown: internal ones are for the office, shared ones are written to a partner.
- Every read is audited (app/cases/access.py `audit_client_view`), after the page is read and its
  messages translated without the database's write lock.

This module sits above the assistant and the cases (it reads the chat's messages of a case): nothing
below imports it.
"""

from __future__ import annotations

import hmac
import math
import re
from datetime import date, datetime, timedelta
from typing import Any

from babel.dates import get_day_names
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.assistant import service as chat_service
from app.assistant.models import Conversation, ConversationMessage
from app.auth import service as auth_service
from app.auth.enums import OrgKind
from app.auth.exceptions import AccountLocked
from app.cases import access
from app.cases.calendar import BusinessCalendar
from app.cases.content import case_content
from app.cases.deadlines import is_overdue
from app.cases.enums import LIVE_REFERRAL_STATES
from app.cases.exceptions import TooManyAttempts
from app.cases.models import CaseFile
from app.config import Settings
from app.crypto import seal, unseal
from app.db import utcnow
from app.errors import DomainError
from app.i18n import _, babel_locale, format_date, format_time, ngettext
from app.translation import service as translation_service

#: How long a right case number and secret show the case in one browser before they are asked again.
VIEW_FOR = timedelta(minutes=30)
#: What the sealed token of a view is for (a token sealed for anything else is refused).
TOKEN_PURPOSE = "follow_case"  # noqa: S105 - a label, not a secret
#: The newest messages shown.
MESSAGES_SHOWN = 50
#: A case number as people type it: any case, spaces or dashes between the parts, and in the
#: number part O for 0 and I or L for 1 (as in the secret).
_REFERENCE = re.compile(
    r"^([A-Z]{2,5})[\s\-\u2010-\u2015]*([0-9OIL]{4})[\s\-\u2010-\u2015]*([0-9OIL]{6,12})$"
)
_DIGIT_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})


class CodesNotRecognised(DomainError):
    """No case has this number and secret (never says which of the two is wrong)."""

    status = 400

    def public_message(self) -> str:
        return _("We could not find a case with this case number and secret code. Check both and try again.")


class FollowPaused(DomainError):
    """Too many wrong codes from this client address: checking pauses there for a while."""

    status = 429

    def __init__(self, minutes: int) -> None:
        super().__init__("paused")
        self.minutes = minutes

    def public_message(self) -> str:
        return ngettext(
            "Too many attempts. Please try again in %(num)d minute, or ask us in the chat.",
            "Too many attempts. Please try again in %(num)d minutes, or ask us in the chat.",
            self.minutes,
        )


def parse_reference(text: str) -> str | None:
    """Return the case number typed as text in its canonical form (KRK-2026-000123), or None."""
    match = _REFERENCE.match((text or "").strip().upper())
    if match is None:
        return None
    prefix, year, number = match.groups()
    return f"{prefix}-{year.translate(_DIGIT_LOOK_ALIKES)}-{number.translate(_DIGIT_LOOK_ALIKES)}"


def check(
    *, db: Session, settings: Settings, reference: str, secret: str, address: str, now: datetime | None = None
) -> CaseFile:
    """Return the case of reference and secret; raise CodesNotRecognised, TooManyAttempts (this case's
    secret was given wrong too often lately, from anywhere) or FollowPaused (too many wrong codes from
    this address). Failures are counted on the session: the caller commits even when this raises."""
    now = now or utcnow()
    limits = auth_service.throttle_limits(settings=settings, address=address, subject=("follow_case",))
    try:
        auth_service.refuse_if_paused(db=db, limits=limits, now=now)
        try:
            case = access.find_by_secret(db=db, reference=reference, secret=secret, now=now)
        except TooManyAttempts:
            auth_service.record_failure(db=db, limits=limits, settings=settings, now=now)
            raise
        if case is None:
            # Unknown numbers count like wrong secrets: the answers never tell which numbers exist.
            auth_service.record_failure(db=db, limits=limits, settings=settings, now=now)
            raise CodesNotRecognised()
    except AccountLocked as exc:
        raise FollowPaused(exc.minutes) from None
    auth_service.record_success(db=db, limits=limits)
    return case


def view_token(*, settings: Settings, case: CaseFile, now: datetime | None = None) -> str:
    """Return a sealed token that shows case for VIEW_FOR (bound to its secret: a new one ends it)."""
    value = {"case": case.id, "key": case.secret_hash[:16]}
    return seal(value, purpose=TOKEN_PURPOSE, settings=settings, now=now)


def case_of_token(
    *, db: Session, settings: Settings, token: str | None, now: datetime | None = None
) -> CaseFile | None:
    """Return the case a view token shows, or None when it is not one, is too old or its case is gone."""
    value = unseal(token, purpose=TOKEN_PURPOSE, max_age=VIEW_FOR, settings=settings, now=now)
    if value is None or not isinstance(value.get("case"), int):
        return None
    case = db.get(CaseFile, value["case"])
    if case is None or not hmac.compare_digest(case.secret_hash[:16], str(value.get("key", ""))):
        return None
    return case


# --- the case in plain words ---------------------------------------------------------------------


#: The four steps a newcomer sees, and the step of each status of the workflow (cases/README.md's
#: status ids are a contract; a status not listed here shows no step).
STEP_OF_STATUS = {
    "new": 0,
    "triaged": 1,
    "declined": 1,
    "referred": 1,
    "accepted": 2,
    "in_progress": 2,
    "waiting_on_client": 2,
    "resolved": 3,
    "closed": 3,
}


def _steps(status: str) -> list[dict[str, str]]:
    labels = [_("Received"), _("Being looked at"), _("Help under way"), _("Done")]
    current = STEP_OF_STATUS.get(status)
    if current is None:
        return []
    return [
        {"label": label, "state": "done" if index < current else "current" if index == current else "to_do"}
        for index, label in enumerate(labels)
    ]


def _partner_name(case: CaseFile) -> str | None:
    """Return the partner organisation working on or asked to take the case, if any."""
    referral = case.current_referral
    if referral is not None and referral.state in {state.value for state in LIVE_REFERRAL_STATES}:
        return referral.organisation.name
    if case.holder is not None and case.holder.kind == OrgKind.partner:
        return case.holder.name
    return None


def _wording(status: str, partner: str | None) -> tuple[str, str, str] | None:
    """Return (headline, where it is, what happens next) of status for the client, or None."""
    if status == "new":
        return (
            _("We have received your request"),
            _("It is waiting for a caseworker of the city office to read it."),
            _(
                "A caseworker will read your request and decide who can help you best: the city office "
                "or an organisation that works with the city."
            ),
        )
    if status == "triaged":
        return (
            _("A caseworker is looking at your request"),
            _("A caseworker of the city office has read your request."),
            _(
                "They decide who can help you best: the city office itself or an organisation that works "
                "with the city. If they need anything from you, they will contact you."
            ),
        )
    if status == "referred":
        return (
            _("A partner organisation is looking at it"),
            _(
                "We have asked %(organisation)s, an organisation that works with the city, "
                "to take your case.",
                organisation=partner,
            )
            if partner
            else _("We have asked an organisation that works with the city to take your case."),
            _(
                "The organisation tells us whether it can take your case. If it cannot, the city office "
                "looks for other help."
            ),
        )
    if status == "accepted":
        return (
            _("A partner organisation has taken your case"),
            _("%(organisation)s has taken your case.", organisation=partner)
            if partner
            else _("An organisation that works with the city has taken your case."),
            _("The organisation will contact you in the way you chose."),
        )
    if status == "declined":
        return (
            _("We are looking for other help"),
            _("The organisation we asked cannot take your case. The city office decides what to do next."),
            _("A caseworker looks for another way to help you and lets you know."),
        )
    if status == "in_progress":
        return (
            _("We are working on your case"),
            _("%(organisation)s is working on your case.", organisation=partner)
            if partner
            else _("The city office is working on your case."),
            _("If they need anything from you, they will contact you."),
        )
    if status == "waiting_on_client":
        return (
            _("We are waiting for your answer"),
            _("We need an answer or a document from you to go on."),
            _("Please answer the message we sent you, or write to us in the chat."),
        )
    if status == "resolved":
        return (
            _("Your case is resolved"),
            _("The work on your request is done."),
            _("If you still need help, write to us in the chat."),
        )
    if status == "closed":
        return (
            _("Your case is closed"),
            _("Your case is finished."),
            _("If you need help again, ask us in the chat or send a new request."),
        )
    return None


def hours_per_working_day(calendar: BusinessCalendar) -> float:
    """Return the office's average opening hours on a day it opens (8 for 08:00-16:00)."""
    days = [spans for spans in calendar.schedule.values() if spans]
    total = sum(
        (datetime.combine(date.min, closes) - datetime.combine(date.min, opens)).total_seconds()
        for spans in days
        for opens, closes in spans
    )
    return total / 3600 / len(days) if days else 8.0


def working_days(calendar: BusinessCalendar, hours: float) -> int:
    """Return office hours as the working days they take (at least one)."""
    return max(1, math.ceil(hours / hours_per_working_day(calendar) - 1e-9))


def opening_hours(calendar: BusinessCalendar) -> list[tuple[str, str]]:
    """Return (days, hours) rows of the office's week, days with the same hours in a row joined
    ("Monday – Friday", "08:00–16:00")."""
    names = get_day_names("wide", locale=babel_locale())
    rows: list[tuple[list[int], str]] = []
    for weekday in range(7):
        spans = calendar.schedule.get(weekday, [])
        if not spans:
            continue
        hours = ", ".join(f"{format_time(opens)}\u2013{format_time(closes)}" for opens, closes in spans)
        if rows and rows[-1][1] == hours and rows[-1][0][-1] == weekday - 1:
            rows[-1][0].append(weekday)
        else:
            rows.append(([weekday], hours))
    return [
        (names[days[0]] if len(days) == 1 else f"{names[days[0]]} \u2013 {names[days[-1]]}", hours)
        for days, hours in rows
    ]


def _timing(
    settings: Settings, case: CaseFile, now: datetime
) -> tuple[list[str], datetime | None, str | None]:
    """Return what the client can expect and when (sentences), the moment we aim to be done by (None:
    no deadline runs), and a word of apology when that moment has passed."""
    cc = case_content(settings)
    workflow = cc.workflow
    status = workflow.statuses.get(case.status)
    lines: list[str] = []
    if status is None:
        return lines, None, None
    category = cc.categories.get(case.category)
    if status.clock and category is not None and status.clock in category.deadlines:
        days = working_days(workflow.calendar, category.deadlines[status.clock])
        if status.clock == "first_response":
            lines.append(
                ngettext(
                    "A caseworker usually reads a new request within %(num)d working day.",
                    "A caseworker usually reads a new request within %(num)d working days.",
                    days,
                )
            )
        elif status.clock == "referral_answer":
            lines.append(
                ngettext(
                    "Organisations usually answer within %(num)d working day.",
                    "Organisations usually answer within %(num)d working days.",
                    days,
                )
            )
        else:
            lines.append(
                ngettext(
                    "Requests like yours usually take up to %(num)d working day of work.",
                    "Requests like yours usually take up to %(num)d working days of work.",
                    days,
                )
            )
        if is_overdue(case, now):
            return (
                lines,
                None,
                _(
                    "This is taking longer than it should. We are sorry for the wait. If it is urgent, "
                    "write to us in the chat."
                ),
            )
        return lines, case.due_at, None
    for transition in workflow.system_transitions():
        trigger = transition.trigger
        if (
            case.status not in transition.from_
            or trigger is None
            or trigger.kind != "after"
            or not trigger.days
        ):
            continue
        date = format_date(case.status_changed_at + timedelta(days=trigger.days), "long")
        if transition.to == "resolved":
            lines.append(
                _("If we do not hear from you by %(date)s, we will consider your case finished.", date=date)
            )
        elif transition.to == "closed":
            lines.append(_("On %(date)s your case closes by itself.", date=date))
    return lines, None, None


def staff_messages(*, db: Session, settings: Settings, case: CaseFile, language: str) -> list[dict[str, Any]]:
    """Return what our staff wrote to the client in the chats of case (the newest MESSAGES_SHOWN, oldest
    first), each as the client reads it in language: machine-translated, with the original."""
    query = (
        select(ConversationMessage)
        .join(Conversation, Conversation.id == ConversationMessage.conversation_id)
        .where(Conversation.case_id == case.id, ConversationMessage.author == "staff")
        .order_by(ConversationMessage.id.desc())
        .limit(MESSAGES_SHOWN)
    )
    found = list(reversed(db.scalars(query).all()))
    shown = []
    for message in found:
        view = chat_service.shown(settings=settings, message=message, language=language)
        if view["untranslated"]:
            # Translated now if it comes within the wait, and kept in the translation cache (where
            # `shown` finds it next time), not written: this page reads without the write lock.
            result = translation_service.translate_within(settings, message.text, message.language, language)
            if result is not None:
                view = {"text": result.text, "original": message.text, "machine": True, "untranslated": False}
        author = message.author_user.display_name if message.author_user else None
        shown.append({"at": message.created_at, "author": author, "language": message.language, **view})
    return shown


def record_view(*, db: Session, case: CaseFile, now: datetime | None = None) -> None:
    """Audit that the client read case (flushed with the caller's commit)."""
    access.audit_client_view(db=db, case=case, now=now)


def client_view(
    *, db: Session, settings: Settings, case: CaseFile, language: str, now: datetime | None = None
) -> dict[str, Any]:
    """Return the case as its client reads it in language (the current locale). Only reads (messages
    may wait for a machine translation): the caller audits the read with record_view."""
    now = now or utcnow()
    cc = case_content(settings)
    status = cc.workflow.statuses.get(case.status)
    wording = _wording(case.status, _partner_name(case))
    if wording is None:
        label = _(status.label) if status else case.status
        wording = (label, "", _("If you have a question, write to us in the chat."))
    headline, where, next_step = wording
    timing, aim, late = _timing(settings, case, now)
    category = cc.categories.get(case.category)
    return {
        "reference": case.reference,
        "category": _(category.label) if category else "",
        "opened_at": case.created_at,
        "changed_at": case.status_changed_at,
        "headline": headline,
        "where": where,
        "next": next_step,
        "timing": timing,
        "aim": aim,
        "late": late,
        "counts_working_days": bool(status and status.clock),
        "opening_hours": opening_hours(cc.workflow.calendar),
        "steps": _steps(case.status),
        "messages": staff_messages(db=db, settings=settings, case=case, language=language),
    }

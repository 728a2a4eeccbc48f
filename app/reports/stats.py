"""Figures per month from the statistics' facts (app/reports/facts.py): the dashboard's (exact, for
staff, within their organisation's scope) and the open-data release's (suppressed, public).

Durations are business hours of the office calendar (the deadlines' unit, cases/categories.yml).
Their median and 90th percentile are read from half-hour buckets counted in the database, so a
month of a million-case city is a few grouped queries: a figure is the end of the half hour in
which it falls ("answered within 3.5 office hours").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, case, cast, func, select
from sqlalchemy.orm import Session

from app.appointments.models import Appointment
from app.auth.enums import OrgKind
from app.auth.models import Organisation
from app.cases.content import case_content
from app.config import Settings
from app.db import utcnow
from app.forms.models import FormSubmission
from app.languages import LANGUAGES
from app.reports.facts import CURSOR_ID, month_of
from app.reports.models import ReportCase, ReportChatDay, ReportCursor, ReportHandover, ReportReferral
from app.reports.suppress import protect_family
from app.reports.tables import Column, Dataset, Kept, Value, is_month

#: Intents that mean the assistant could not answer the message.
UNANSWERED = frozenset({"nlu_fallback", "out_of_scope"})
#: Half-hour buckets: a duration's bucket is int(hours * BUCKETS_PER_HOUR).
BUCKETS_PER_HOUR = 2
#: Local hour bands of visits (start hour inclusive): morning, afternoon, evening.
HOUR_BANDS = (("morning", 0), ("afternoon", 12), ("evening", 16))
#: The steps of a referral that are counted, in the order they are shown.
REFERRAL_STEPS = ("referred", "accepted", "declined", "expired", "withdrawn", "completed", "returned", "recalled")
#: The longest range the dashboard shows at once.
MAX_MONTHS = 24


# --- periods --------------------------------------------------------------------------------------


def months(start: str, end: str) -> list[str]:
    """Return the months from start to end inclusive ('YYYY-MM'); empty when end is before start."""
    year, month = int(start[:4]), int(start[5:])
    found = []
    while f"{year:04d}-{month:02d}" <= end:
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def month_span(month: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Return the first instant of month and of the next one, in zone."""
    year, number = int(month[:4]), int(month[5:])
    start = datetime(year, number, 1, tzinfo=zone)
    after = datetime(year + 1, 1, 1, tzinfo=zone) if number == 12 else datetime(year, number + 1, 1, tzinfo=zone)
    return start, after


def last_complete_month(now: datetime, zone: ZoneInfo) -> str:
    """Return the month before now's local month."""
    first = now.astimezone(zone).date().replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


# --- what a figure is about -------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """Which figures: months start..end, and optionally one category, language, partner (id)."""

    start: str
    end: str
    category: str | None = None
    language: str | None = None
    partner: int | None = None

    @property
    def months(self) -> list[str]:
        """Return the months of the range."""
        return months(self.start, self.end)


@dataclass(frozen=True)
class Scope:
    """Whose figures a reader may see: the whole city (None) or one partner organisation's."""

    organisation_id: int | None = None

    def narrow(self, filters: Filters) -> Filters:
        """Return filters limited to the scope (a partner sees only its own referrals)."""
        if self.organisation_id is None:
            return filters
        return replace(filters, partner=self.organisation_id)


def filters_for(
    db: Session, settings: Settings, scope: Scope, *, start: str | None, end: str | None,
    category: str | None, language: str | None, partner: str | None, now: datetime,
) -> Filters:
    """Return the filters asked for, with anything unknown dropped and the range kept sensible."""
    cc = case_content(settings)
    zone = cc.workflow.calendar.zone
    last = end if is_month(end) else month_of(now, zone)
    first = start if is_month(start) and start <= last else last
    span = months(first, last)
    if len(span) > MAX_MONTHS:
        first = span[-MAX_MONTHS]
    partner_id = None
    if scope.organisation_id is None and partner:
        partner_id = db.scalar(select(Organisation.id).where(Organisation.slug == partner, Organisation.kind == OrgKind.partner))
    return Filters(
        first, last,
        category=category if category in cc.categories else None,
        language=language if language in LANGUAGES else None,
        partner=partner_id,
    )


def _referred_to(partner: int) -> Any:
    """Return the ids of the cases ever referred to partner (a subquery)."""
    return select(ReportReferral.case_id).where(ReportReferral.organisation_id == partner)


def _cases(filters: Filters, *conditions: Any) -> list[Any]:
    where = list(conditions)
    if filters.category:
        where.append(ReportCase.opened_category == filters.category)
    if filters.language:
        where.append(ReportCase.language == filters.language)
    if filters.partner is not None:
        where.append(ReportCase.case_id.in_(_referred_to(filters.partner)))
    return where


def _referrals(filters: Filters, *conditions: Any) -> list[Any]:
    where = list(conditions)
    if filters.category:
        where.append(ReportReferral.category == filters.category)
    if filters.language:
        where.append(ReportReferral.language == filters.language)
    if filters.partner is not None:
        where.append(ReportReferral.organisation_id == filters.partner)
    return where


# --- counts -----------------------------------------------------------------------------------------

#: The dimensions of new cases.
OPENED_BY = {
    "category": ReportCase.opened_category,
    "source": ReportCase.source,
    "language": ReportCase.language,
    "district": func.coalesce(ReportCase.district, "unknown"),
}


def opened(db: Session, filters: Filters, by: str) -> list[tuple[str, str, int]]:
    """Return (month, value, cases) of the cases opened in the range, by one dimension of OPENED_BY."""
    column = OPENED_BY[by]
    rows = db.execute(
        select(ReportCase.opened_month, column, func.count())
        .where(*_cases(filters, ReportCase.opened_month.between(filters.start, filters.end)))
        .group_by(ReportCase.opened_month, column)
    ).all()
    return sorted((month, str(value), int(n)) for month, value, n in rows)


def opened_cube(db: Session, filters: Filters) -> list[tuple[str, str, str, str, int]]:
    """Return (month, category, language, source, cases) of the cases opened in the range: one read
    gives the dashboard's months, categories, languages and sources."""
    rows = db.execute(
        select(ReportCase.opened_month, ReportCase.opened_category, ReportCase.language, ReportCase.source, func.count())
        .where(*_cases(filters, ReportCase.opened_month.between(filters.start, filters.end)))
        .group_by(ReportCase.opened_month, ReportCase.opened_category, ReportCase.language, ReportCase.source)
    ).all()
    return [(str(m), str(c), str(lang), str(s), int(n)) for m, c, lang, s, n in rows]


@dataclass
class Durations:
    """Durations of one group: how many, how many within the deadline, and half-hour buckets."""

    count: int = 0
    within: int = 0
    buckets: dict[int, int] = field(default_factory=dict)
    limit: float | None = None

    def percentile(self, share: float) -> float | None:
        """Return the end of the half hour within which share of the durations fall."""
        if not self.count:
            return None
        needed, seen = share * self.count, 0
        for bucket in sorted(self.buckets):
            seen += self.buckets[bucket]
            if seen >= needed:
                return (bucket + 1) / BUCKETS_PER_HOUR
        return None  # pragma: no cover - the buckets add up to count

    @property
    def within_percent(self) -> float | None:
        """Return the share within the deadline, in percent (None without a deadline)."""
        return round(100 * self.within / self.count, 1) if self.count and self.limit is not None else None


def _durations(db: Session, month_col: Any, key_col: Any, hours: Any, limit: Any, where: list[Any]) -> dict[tuple[str, str], Durations]:
    bucket = cast(hours * BUCKETS_PER_HOUR, Integer)
    within = func.sum(case((and_(limit.is_not(None), hours <= limit), 1), else_=0))
    rows = db.execute(
        select(month_col, key_col, bucket, func.count(), within, func.max(limit))
        .where(*where, hours.is_not(None))
        .group_by(month_col, key_col, bucket)
    ).all()
    found: dict[tuple[str, str], Durations] = defaultdict(Durations)
    for month, key, slot, n, inside, most in rows:
        group = found[(month, str(key))]
        group.count += int(n)
        group.within += int(inside or 0)
        group.buckets[int(slot)] = group.buckets.get(int(slot), 0) + int(n)
        group.limit = most if most is not None else group.limit
    return dict(sorted(found.items()))


def first_responses(db: Session, filters: Filters) -> dict[tuple[str, str], Durations]:
    """Return (month, category) -> business hours from opening to the first answer, in the range."""
    return _durations(
        db, ReportCase.first_response_month, ReportCase.first_response_category,
        ReportCase.first_response_hours, ReportCase.first_response_limit,
        _cases(filters, ReportCase.first_response_month.between(filters.start, filters.end)),
    )


def closures(db: Session, filters: Filters) -> dict[tuple[str, str], Durations]:
    """Return (month, category) -> business hours of the resolution clock at closing, in the range."""
    return _durations(
        db, ReportCase.closed_month, ReportCase.closed_category,
        ReportCase.resolution_hours, ReportCase.resolution_limit,
        _cases(filters, ReportCase.closed_month.between(filters.start, filters.end)),
    )


def outcomes(db: Session, filters: Filters) -> list[tuple[str, str, int]]:
    """Return (month, outcome, cases) of the cases closed in the range."""
    outcome = func.coalesce(ReportCase.outcome, "none")
    rows = db.execute(
        select(ReportCase.closed_month, outcome, func.count())
        .where(*_cases(filters, ReportCase.closed_month.between(filters.start, filters.end)))
        .group_by(ReportCase.closed_month, outcome)
    ).all()
    return sorted((month, str(value), int(n)) for month, value, n in rows)


def referral_steps(db: Session, filters: Filters) -> list[tuple[str, int, str, str, int]]:
    """Return (month, organisation id, step, decline reason or '', referrals) of referrals made,
    answered and ended in the range."""
    found: list[tuple[str, int, str, str, int]] = []
    made = db.execute(
        select(ReportReferral.referred_month, ReportReferral.organisation_id, func.count())
        .where(*_referrals(filters, ReportReferral.referred_month.between(filters.start, filters.end)))
        .group_by(ReportReferral.referred_month, ReportReferral.organisation_id)
    ).all()
    found += [(month, org, "referred", "", int(n)) for month, org, n in made]
    reason = func.coalesce(ReportReferral.decline_reason, "")
    answered = db.execute(
        select(ReportReferral.answered_month, ReportReferral.organisation_id, ReportReferral.answer, reason, func.count())
        .where(*_referrals(filters, ReportReferral.answered_month.between(filters.start, filters.end)))
        .group_by(ReportReferral.answered_month, ReportReferral.organisation_id, ReportReferral.answer, reason)
    ).all()
    found += [(month, org, str(answer), str(why), int(n)) for month, org, answer, why, n in answered]
    ended = db.execute(
        select(ReportReferral.ended_month, ReportReferral.organisation_id, ReportReferral.ended, func.count())
        .where(*_referrals(filters, ReportReferral.ended_month.between(filters.start, filters.end)))
        .group_by(ReportReferral.ended_month, ReportReferral.organisation_id, ReportReferral.ended)
    ).all()
    found += [(month, org, str(end), "", int(n)) for month, org, end, n in ended]
    order = {step: i for i, step in enumerate(REFERRAL_STEPS)}
    return sorted(found, key=lambda row: (row[0], row[1], order.get(row[2], 99), row[3]))


def referral_answers(db: Session, filters: Filters) -> dict[tuple[str, str], Durations]:
    """Return (month, organisation id) -> business hours a partner took to answer, in the range."""
    return _durations(
        db, ReportReferral.answered_month, ReportReferral.organisation_id,
        ReportReferral.answer_hours, ReportReferral.answer_limit,
        _referrals(
            filters, ReportReferral.answered_month.between(filters.start, filters.end),
            ReportReferral.answer.in_(("accepted", "declined", "expired")),
        ),
    )


def handovers(db: Session, filters: Filters) -> list[tuple[str, str, int]]:
    """Return (month, language, handovers) of chats handed over to a person in the range."""
    where = [ReportHandover.month.between(filters.start, filters.end)]
    if filters.language:
        where.append(ReportHandover.language == filters.language)
    if filters.category:
        where.append(ReportHandover.category == filters.category)
    if filters.partner is not None:
        where.append(ReportHandover.case_id.in_(_referred_to(filters.partner)))
    rows = db.execute(
        select(ReportHandover.month, ReportHandover.language, func.count())
        .where(*where)
        .group_by(ReportHandover.month, ReportHandover.language)
    ).all()
    return sorted((month, str(language), int(n)) for month, language, n in rows)


def chat(db: Session, filters: Filters) -> list[tuple[str, str, str, int]]:
    """Return (month, language, intent, messages) of newcomers' chat messages in the range."""
    where = [ReportChatDay.month.between(filters.start, filters.end)]
    if filters.language:
        where.append(ReportChatDay.language == filters.language)
    rows = db.execute(
        select(ReportChatDay.month, ReportChatDay.language, ReportChatDay.intent, func.sum(ReportChatDay.messages))
        .where(*where)
        .group_by(ReportChatDay.month, ReportChatDay.language, ReportChatDay.intent)
    ).all()
    return sorted((month, str(language), str(intent), int(n)) for month, language, intent, n in rows)


def chat_unanswered(db: Session, filters: Filters) -> list[tuple[str, int, int]]:
    """Return (language, messages, not understood) of newcomers' chat messages in the range."""
    where = [ReportChatDay.month.between(filters.start, filters.end)]
    if filters.language:
        where.append(ReportChatDay.language == filters.language)
    missed = func.sum(case((ReportChatDay.intent.in_(UNANSWERED), ReportChatDay.messages), else_=0))
    rows = db.execute(
        select(ReportChatDay.language, func.sum(ReportChatDay.messages), missed).where(*where).group_by(ReportChatDay.language)
    ).all()
    return sorted(((str(lang), int(n), int(u or 0)) for lang, n, u in rows), key=lambda row: (-row[1], row[0]))


def forms(db: Session, filters: Filters, zone: ZoneInfo) -> list[tuple[str, str, str, int]]:
    """Return (month, form id, language, submissions) of city forms sent in the range."""
    found = []
    for month in filters.months:
        start, after = month_span(month, zone)
        where = [FormSubmission.status == "submitted", FormSubmission.submitted_at >= start, FormSubmission.submitted_at < after]
        if filters.language:
            where.append(FormSubmission.language == filters.language)
        rows = db.execute(
            select(FormSubmission.form_id, FormSubmission.language, func.count())
            .where(*where)
            .group_by(FormSubmission.form_id, FormSubmission.language)
        ).all()
        found += [(month, str(form), str(language), int(n)) for form, language, n in rows]
    return sorted(found)


def hour_band(at: datetime, zone: ZoneInfo) -> tuple[str, str]:
    """Return (day type, hour band) of a local time: weekday/saturday/sunday, morning/afternoon/evening."""
    local = at.astimezone(zone)
    day = "saturday" if local.weekday() == 5 else "sunday" if local.weekday() == 6 else "weekday"
    band = [name for name, hour in HOUR_BANDS if local.hour >= hour][-1]
    return day, band


def visits(db: Session, filters: Filters, zone: ZoneInfo) -> list[tuple[str, str, str, str, int, int]]:
    """Return (month, place, day type, hour band, visits, attended) of visits (not cancelled) that
    started in the range."""
    start, _ = month_span(filters.start, zone)
    _, after = month_span(filters.end, zone)
    where = [Appointment.starts_at >= start, Appointment.starts_at < after, Appointment.status != "cancelled"]
    if filters.language:
        where.append(Appointment.language == filters.language)
    came = func.sum(case((Appointment.status == "checked_in", 1), else_=0))
    found: dict[tuple[str, str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    # Visits start on a few slot times a day: grouping by the start in the database leaves few rows,
    # which are then placed in local months and hour bands here (portable: no SQL time-zone functions).
    for at, place, n, attended in db.execute(
        select(Appointment.starts_at, Appointment.place_id, func.count(), came)
        .where(*where)
        .group_by(Appointment.starts_at, Appointment.place_id)
    ):
        day, band = hour_band(at, zone)
        cell = found[(month_of(at, zone), place, day, band)]
        cell[0] += int(n)
        cell[1] += int(attended or 0)
    return sorted((*key, n, came_) for key, (n, came_) in found.items())


def partner_names(db: Session) -> dict[int, tuple[str, str]]:
    """Return partner organisation id -> (slug, name)."""
    return {
        org_id: (slug, name)
        for org_id, slug, name in db.execute(
            select(Organisation.id, Organisation.slug, Organisation.name).where(Organisation.kind == OrgKind.partner)
        )
    }


# --- the open-data release ------------------------------------------------------------------------

def N_(message: str) -> str:  # noqa: N802 - gettext's name for "extract, translate later"
    """Return message: marks an English text for the catalogs, translated where it is shown."""
    return message


#: Every open data set: its title and description (English msgids, translated where shown).
CATALOGUE: dict[str, tuple[str, str]] = {
    "cases-by-category": (
        N_("New cases by category"),
        N_("Cases opened in the month by the category chosen when the case was opened: what newcomers come with."),
    ),
    "cases-by-source": (
        N_("New cases by how they were opened"),
        N_("Cases opened in the month through the assistant (chat), a city form, by a caseworker (staff) or by a partner's system (api)."),
    ),
    "cases-by-language": (
        N_("New cases by language"),
        N_("Cases opened in the month by the newcomer's language."),
    ),
    "cases-by-district": (
        N_("New cases by district"),
        N_("Cases opened in the month by the Kraków district the newcomer gave."),
    ),
    "response-times": (
        N_("Time to first answer and to closure"),
        N_(
            "For the cases first answered and the cases closed in the month, by category: the deadline, the median and "
            "the 90th percentile in office hours (to the half hour), and the share within the deadline."
        ),
    ),
    "case-outcomes": (N_("How cases ended"), N_("Cases resolved or closed in the month by outcome.")),
    "referrals": (
        N_("Referrals to partner organisations"),
        N_(
            "Referrals made to each partner in the month, and the answers (accepted, declined with the category of the "
            "reason, expired, withdrawn) and ends (completed, returned, recalled) in the month."
        ),
    ),
    "chat": (
        N_("Questions to the assistant"),
        N_("Newcomers' messages to the assistant in the month by language, and the share it could not answer."),
    ),
    "chat-topics": (
        N_("Topics newcomers ask about"),
        N_("Newcomers' messages to the assistant in the month by language and by the topic it recognised."),
    ),
    "chat-handovers": (
        N_("Chats handed over to a person"),
        N_("Chats in which the newcomer asked for a caseworker in the month, by language."),
    ),
    "form-submissions": (
        N_("City forms sent"),
        N_("City forms sent in the month by form and by the language they were filled in."),
    ),
    "appointments": (
        N_("Visits by place and time of day"),
        N_(
            "Visits booked at each place in the month (not cancelled) by weekday, Saturday or Sunday and by hour band "
            "(morning before 12:00, afternoon 12:00-16:00, evening from 16:00), and the share of people who came."
        ),
    ),
}


def _dataset(name: str, columns: tuple[Column, ...], rows: Iterable[tuple[Value, ...]]) -> Dataset:
    title, description = CATALOGUE[name]
    return Dataset(name, title, description, columns, tuple(rows))



def _protect(rows: Sequence[tuple[Any, ...]], threshold: int, group: int = 1) -> list[tuple[Value, ...]]:
    """Return rows with their last value (a count) suppressed within groups of their first `group` values."""
    return _protect_family([rows], threshold, group)[0]


def _protect_family(tables: Sequence[Sequence[tuple[Any, ...]]], threshold: int, group: int = 1) -> list[list[tuple[Value, ...]]]:
    """Return each table's rows with their last value suppressed; groups (the first `group` values)
    that share a total across the tables are protected together."""
    keys = sorted({tuple(row[:group]) for rows in tables for row in rows})
    published: list[dict[int, Value]] = [{} for _ in tables]
    for key in keys:
        members = [[i for i, row in enumerate(rows) if tuple(row[:group]) == key] for rows in tables]
        values = [[int(rows[i][-1]) for i in member] for rows, member in zip(tables, members, strict=True)]
        for table, member, shown in zip(published, members, protect_family(values, threshold), strict=True):
            table.update(zip(member, shown, strict=True))
    return [[(*row[:-1], published[t][i]) for i, row in enumerate(rows)] for t, rows in enumerate(tables)]


def _count(name: str, title: Any, description: Any) -> Column:
    return Column(name, "integer", str(title), str(description), count=True)


MONTH_COLUMN = Column("month", "string", "Month", "The month, YYYY-MM, in Kraków's time zone.")


def _durations_rows(found: dict[tuple[str, str], Durations], stage: str) -> list[tuple[Any, ...]]:
    return [
        (month, key, stage, d.limit, d.percentile(0.5), d.percentile(0.9), d.within_percent, d.count)
        for (month, key), d in found.items()
    ]


def release(*, db: Session, settings: Settings, period: str) -> list[Dataset]:
    """Return the open data sets of one month (counts of people suppressed below the threshold)."""
    cc = case_content(settings)
    zone = cc.workflow.calendar.zone
    threshold = settings.open_data_min_count
    filters = Filters(period, period)
    names = partner_names(db)

    by_dimension = {by: opened(db, filters, by) for by in OPENED_BY}
    protected = dict(zip(by_dimension, _protect_family(list(by_dimension.values()), threshold), strict=True))
    datasets = [
        _dataset(
            f"cases-by-{by}",
            (MONTH_COLUMN, Column(by, "string", by.capitalize(), _DIMENSIONS[by]), _count("cases", "Cases", "Cases opened.")),
            protected[by],
        )
        for by in OPENED_BY
    ]

    # Durations: a median or a percentile of fewer cases than the threshold would describe people.
    # Closures by category (here) and by outcome (case-outcomes) add up to the same month's total, so
    # their counts are protected together and both tables show the counts so protected.
    response_rows = _durations_rows(first_responses(db, filters), "first_response")
    closure_rows = _durations_rows(closures(db, filters), "closure")
    shown_responses = _protect([(row[0], row[1], row[-1]) for row in response_rows], threshold)
    shown_closures, shown_outcomes = _protect_family(
        [[(row[0], row[1], row[-1]) for row in closure_rows], outcomes(db, filters)], threshold
    )
    timing_rows: list[tuple[Any, ...]] = []
    for rows, shown in ((response_rows, shown_responses), (closure_rows, shown_closures)):
        for row, (*_key, count) in zip(rows, shown, strict=True):
            small = not isinstance(count, int)
            timing_rows.append((*row[:4], *((None, None, None) if small else row[4:7]), count))
    datasets.append(
        _dataset(
            "response-times",
            (
                MONTH_COLUMN,
                Column("category", "string", "Category", _DIMENSIONS["category"]),
                Column("stage", "string", "Stage", "first_response: from opening to the first answer; closure: the working time until the case was resolved or closed."),
                Column("deadline_hours", "number", "Deadline (office hours)", "The category's deadline for this stage, in office hours."),
                Column("median_hours", "number", "Median (office hours)", "Half of the cases took at most this long."),
                Column("p90_hours", "number", "90th percentile (office hours)", "Nine in ten cases took at most this long."),
                Column("within_deadline_percent", "number", "Within the deadline (%)", "The share of the cases within the deadline."),
                _count("cases", "Cases", "Cases answered (first_response) or closed (closure) in the month."),
            ),
            tuple(timing_rows),
        )
    )
    datasets.append(
        _dataset(
            "case-outcomes",
            (MONTH_COLUMN, Column("outcome", "string", "Outcome", "Why the case was resolved or closed."), _count("cases", "Cases", "Cases closed.")),
            tuple(shown_outcomes),
        )
    )
    steps = [
        (month, step, names.get(org, ("", ""))[0], names.get(org, ("", ""))[1], reason, n)
        for month, org, step, reason, n in referral_steps(db, filters)
    ]
    datasets.append(
        _dataset(
            "referrals",
            (
                MONTH_COLUMN,
                Column("step", "string", "Step", "referred, accepted, declined, expired, withdrawn, completed, returned or recalled."),
                Column("partner", "string", "Partner", "The partner organisation's identifier."),
                Column("partner_name", "string", "Partner name", "The partner organisation's name."),
                Column("decline_reason", "string", "Reason for declining", "For declined referrals: the category of the partner's reason."),
                _count("referrals", "Referrals", "Referrals."),
            ),
            tuple(_protect(steps, threshold, group=2)),
        )
    )
    messages: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    topics = []
    for month, language, intent, n in chat(db, filters):
        messages[(month, language)][0] += n
        messages[(month, language)][1] += n if intent in UNANSWERED else 0
        topics.append((month, language, intent, n))
    chat_rows = _protect([(month, language, total) for (month, language), (total, _u) in sorted(messages.items())], threshold)
    unanswered = {
        key: round(100 * u / total, 1) if total >= threshold else None for key, (total, u) in messages.items()
    }
    datasets.append(
        _dataset(
            "chat",
            (
                MONTH_COLUMN, Column("language", "string", "Language", _DIMENSIONS["language"]),
                Column("unanswered_percent", "number", "Not understood (%)", "The share of messages the assistant could not answer."),
                _count("messages", "Messages", "Messages from newcomers."),
            ),
            tuple((month, language, unanswered[(month, language)], shown) for month, language, shown in chat_rows),
        )
    )
    datasets.append(
        _dataset(
            "chat-topics",
            (
                MONTH_COLUMN, Column("language", "string", "Language", _DIMENSIONS["language"]),
                Column("topic", "string", "Topic", "The intent the assistant recognised (dialogues/domain.yml); nlu_fallback: not understood."),
                _count("messages", "Messages", "Messages from newcomers."),
            ),
            tuple(_protect(topics, threshold, group=2)),
        )
    )
    datasets.append(
        _dataset(
            "chat-handovers",
            (MONTH_COLUMN, Column("language", "string", "Language", _DIMENSIONS["language"]), _count("handovers", "Handovers", "Chats handed over.")),
            tuple(_protect(handovers(db, filters), threshold)),
        )
    )
    datasets.append(
        _dataset(
            "form-submissions",
            (
                MONTH_COLUMN, Column("form", "string", "Form", "The form's identifier (forms/)."),
                Column("language", "string", "Language", _DIMENSIONS["language"]),
                _count("submissions", "Forms sent", "Forms sent."),
            ),
            tuple(_protect(forms(db, filters, zone), threshold)),
        )
    )
    visit_rows = visits(db, filters, zone)
    shown_visits = _protect([row[:5] for row in visit_rows], threshold)
    datasets.append(
        _dataset(
            "appointments",
            (
                MONTH_COLUMN, Column("place", "string", "Place", "The place's identifier (appointments/places.yml)."),
                Column("day_type", "string", "Day", "weekday, saturday or sunday."),
                Column("hour_band", "string", "Hours", "morning, afternoon or evening."),
                Column("attended_percent", "number", "Came (%)", "The share of visits the person came to."),
                _count("visits", "Visits", "Visits booked and not cancelled."),
            ),
            tuple(
                (*shown[:4], round(100 * row[5] / row[4], 1) if isinstance(shown[4], int) else None, shown[4])
                for row, shown in zip(visit_rows, shown_visits, strict=True)
            ),
        )
    )
    return datasets


_DIMENSIONS = {
    "category": "The case category's identifier (cases/categories.yml).",
    "source": "How the case was opened: chat, form, staff (by a caseworker) or api (by a partner's system).",
    "language": "The newcomer's language (ISO 639-1).",
    "district": "Kraków's district (cases/routing.yml); unknown when not given.",
}


def published_months(db: Session, settings: Settings, now: datetime) -> list[str]:
    """Return the complete months with any case, newest first (the open-data page's periods)."""
    zone = case_content(settings).workflow.calendar.zone
    last = last_complete_month(now, zone)
    found = db.scalars(
        select(ReportCase.opened_month).where(ReportCase.opened_month <= last).distinct()
    ).all()
    return sorted(found, reverse=True)



# --- the dashboard --------------------------------------------------------------------------------


@dataclass
class Dashboard:
    """The figures of the staff dashboard for one scope and filters, summed over the months."""

    filters: Filters
    city: bool
    per_month: list[tuple[str, int]]
    by_category: list[tuple[str, int]]
    by_language: list[tuple[str, int]]
    by_source: list[tuple[str, int]]
    responses: dict[str, Durations]
    closures: dict[str, Durations]
    outcomes: list[tuple[str, int]]
    referrals: list[tuple[int, str, str, int]]
    answers: dict[int, Durations]
    chat: list[tuple[str, int, int]] = field(default_factory=list)
    handovers: int = 0
    visits: list[tuple[str, str, int, int]] = field(default_factory=list)


def _sum(rows: Iterable[tuple[Any, ...]]) -> list[tuple[Any, int]]:
    totals: dict[Any, int] = defaultdict(int)
    for row in rows:
        totals[row[1] if len(row) == 3 else row[1:-1]] += row[-1]
    return sorted(totals.items(), key=lambda item: (-item[1], str(item[0])))


def _merge(found: dict[tuple[str, str], Durations]) -> dict[str, Durations]:
    merged: dict[str, Durations] = defaultdict(Durations)
    for (_month, key), d in found.items():
        into = merged[key]
        into.count += d.count
        into.within += d.within
        into.limit = d.limit if d.limit is not None else into.limit
        for bucket, n in d.buckets.items():
            into.buckets[bucket] = into.buckets.get(bucket, 0) + n
    return dict(sorted(merged.items()))


@dataclass(frozen=True)
class _Month:
    """The raw figures of one month in one scope and filters (every row keyed by its month)."""

    cube: list[tuple[str, str, str, str, int]]
    responses: dict[tuple[str, str], Durations]
    closures: dict[tuple[str, str], Durations]
    outcomes: list[tuple[str, str, int]]
    referrals: list[tuple[str, int, str, str, int]]
    answers: dict[tuple[str, str], Durations]
    chat: list[tuple[str, int, int]]
    handovers: list[tuple[str, str, int]]
    visits: list[tuple[str, str, str, str, int, int]]


def _read_month(db: Session, filters: Filters, zone: ZoneInfo, city: bool) -> _Month:
    return _Month(
        cube=opened_cube(db, filters),
        responses=first_responses(db, filters),
        closures=closures(db, filters),
        outcomes=outcomes(db, filters),
        referrals=referral_steps(db, filters),
        answers=referral_answers(db, filters),
        chat=chat_unanswered(db, filters) if city else [],
        handovers=handovers(db, filters) if city else [],
        visits=visits(db, filters, zone) if city else [],
    )


#: Figures of settled months, by (generation of the facts, month, filters, scope). A settled month
#: (over for two days: the chat's last day and late commits are in) never changes until the facts
#: are rebuilt, which gives a new generation; so a year's dashboard reads only the current month.
_SETTLED: Kept[_Month] = Kept(2048)
SETTLES_AFTER = timedelta(days=2)


def _month_figures(db: Session, filters: Filters, zone: ZoneInfo, city: bool, generation: str | None, now: datetime) -> _Month:
    _start, after = month_span(filters.start, zone)
    if generation is None or now < after + SETTLES_AFTER:
        return _read_month(db, filters, zone, city)
    key = (generation, filters.start, filters.category, filters.language, filters.partner, city)
    return _SETTLED.get(key, lambda: _read_month(db, filters, zone, city))


def dashboard(
    *, db: Session, settings: Settings, scope: Scope, filters: Filters, now: datetime | None = None
) -> Dashboard:
    """Return the dashboard's figures: the whole city's for the office, a partner's own otherwise."""
    filters = scope.narrow(filters)
    zone = case_content(settings).workflow.calendar.zone
    city = scope.organisation_id is None
    generation = db.scalar(select(ReportCursor.generation).where(ReportCursor.id == CURSOR_ID))
    parts = [
        _month_figures(db, replace(filters, start=month, end=month), zone, city, generation, now or utcnow())
        for month in filters.months
    ]
    cube = [row for part in parts for row in part.cube]
    per_month: dict[str, int] = defaultdict(int)
    for month, _category, _language, _source, n in cube:
        per_month[month] += n
    board = Dashboard(
        filters=filters,
        city=city,
        per_month=[(month, per_month.get(month, 0)) for month in filters.months],
        by_category=_sum((m, c, n) for m, c, _l, _s, n in cube),
        by_language=_sum((m, lang, n) for m, _c, lang, _s, n in cube),
        by_source=_sum((m, source, n) for m, _c, _l, source, n in cube),
        responses=_merge({k: d for part in parts for k, d in part.responses.items()}),
        closures=_merge({k: d for part in parts for k, d in part.closures.items()}),
        outcomes=_sum(row for part in parts for row in part.outcomes),
        referrals=[(org, step, reason, n) for (org, step, reason), n in _sum(
            row for part in parts for row in part.referrals
        )],
        answers={int(key): d for key, d in _merge({k: d for part in parts for k, d in part.answers.items()}).items()},
    )
    if city:
        languages: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for part in parts:
            for language, n, missed in part.chat:
                languages[language][0] += n
                languages[language][1] += missed
        board.chat = sorted(((lang, n, u) for lang, (n, u) in languages.items()), key=lambda row: (-row[1], row[0]))
        board.handovers = sum(n for part in parts for _m, _l, n in part.handovers)
        bands: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for part in parts:
            for _month, _place, day, band, n, came in part.visits:
                bands[(day, band)][0] += n
                bands[(day, band)][1] += came
        order = {name: i for i, name in enumerate(("weekday", "saturday", "sunday"))}
        board.visits = sorted(
            ((day, band, n, came) for (day, band), (n, came) in bands.items()),
            key=lambda row: (order[row[0]], [b for b, _h in HOUR_BANDS].index(row[1])),
        )
    return board

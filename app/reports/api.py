"""The dashboard's figures in /api/v1 for an organisation's systems: an office token gets the whole
city's, a partner's token only its own organisation's (the same scope as the staff dashboard)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Security
from pydantic import BaseModel, Field

from app.auth.deps import ApiPrincipal
from app.auth.enums import OrgKind
from app.cases.api import RESPONSES, bearer
from app.db import utcnow
from app.deps import AppSettings, DbSession
from app.reports import stats
from app.reports.tables import MONTH

router = APIRouter(prefix="/api/v1", tags=["reports"], dependencies=[Security(bearer)], responses=RESPONSES)

MONTH_PATTERN = MONTH.pattern


class Count(BaseModel):
    """How many, of one value (a month, category, language, source or outcome)."""

    key: str
    count: int


class Duration(BaseModel):
    """Office hours taken (to the half hour), of one category or partner, against its deadline."""

    key: str
    count: int
    median_hours: float | None
    p90_hours: float | None
    deadline_hours: float | None
    within_deadline_percent: float | None


class ReferralCount(BaseModel):
    """Referrals of one partner at one step (declined: with the reason's category)."""

    partner: str
    step: str
    decline_reason: str
    count: int


class ChatLanguage(BaseModel):
    """Newcomers' messages to the assistant in one language, and how many it could not answer."""

    language: str
    messages: int
    unanswered: int


class VisitBand(BaseModel):
    """Visits (not cancelled) on one kind of day in one hour band, and how many people came."""

    day_type: str = Field(description="weekday, saturday or sunday")
    hour_band: str = Field(description="morning (before 12:00), afternoon (12:00-16:00) or evening (from 16:00)")
    visits: int
    attended: int


class Figures(BaseModel):
    """The figures of the months asked for, within the caller's scope."""

    start: str = Field(description="first month, YYYY-MM")
    end: str = Field(description="last month, YYYY-MM")
    scope: str = Field(description="'city', or the slug of the partner whose figures these are")
    per_month: list[Count]
    by_category: list[Count]
    by_language: list[Count]
    by_source: list[Count]
    first_responses: list[Duration]
    closures: list[Duration]
    outcomes: list[Count]
    referrals: list[ReferralCount]
    referral_answers: list[Duration]
    chat: list[ChatLanguage] = Field(description="the office's scope only")
    handovers: int = Field(description="chats handed over to a person (the office's scope only)")
    visits: list[VisitBand] = Field(description="the office's scope only")


def _duration(key: str, d: stats.Durations) -> Duration:
    return Duration(
        key=key, count=d.count, median_hours=d.percentile(0.5), p90_hours=d.percentile(0.9),
        deadline_hours=d.limit, within_deadline_percent=d.within_percent,
    )


@router.get("/reports/figures", response_model=Figures, summary="Figures of the integration programme")
def figures(
    db: DbSession,
    settings: AppSettings,
    principal: ApiPrincipal,
    start: Annotated[str | None, Query(alias="from", pattern=MONTH_PATTERN, description="first month, YYYY-MM")] = None,
    end: Annotated[str | None, Query(alias="to", pattern=MONTH_PATTERN, description="last month, YYYY-MM; default this month")] = None,
    category: Annotated[str | None, Query(max_length=40, pattern=r"^[a-z_]+$")] = None,
    language: Annotated[str | None, Query(max_length=10, pattern=r"^[a-z]{2,3}$")] = None,
    partner: Annotated[str | None, Query(max_length=80, pattern=r"^[a-z0-9-]+$", description="office only: one partner's slug")] = None,
) -> Figures:
    """Return counts and durations of the months from..to (at most 24), as on the staff dashboard."""
    scope = stats.Scope(None if principal.organisation_kind is OrgKind.office else principal.organisation_id)
    filters = stats.filters_for(db, settings, scope, start=start, end=end, category=category, language=language, partner=partner, now=utcnow())
    board = stats.dashboard(db=db, settings=settings, scope=scope, filters=filters)
    names = stats.partner_names(db)
    return Figures(
        start=filters.start, end=filters.end,
        scope="city" if board.city else names.get(principal.organisation_id, ("", ""))[0],
        per_month=[Count(key=k, count=n) for k, n in board.per_month],
        by_category=[Count(key=k, count=n) for k, n in board.by_category],
        by_language=[Count(key=k, count=n) for k, n in board.by_language],
        by_source=[Count(key=k, count=n) for k, n in board.by_source],
        first_responses=[_duration(k, d) for k, d in board.responses.items()],
        closures=[_duration(k, d) for k, d in board.closures.items()],
        outcomes=[Count(key=k, count=n) for k, n in board.outcomes],
        referrals=[
            ReferralCount(partner=names.get(org, (str(org), ""))[0], step=step, decline_reason=reason, count=n)
            for org, step, reason, n in board.referrals
        ],
        referral_answers=[_duration(names.get(org, (str(org), ""))[0], d) for org, d in board.answers.items()],
        chat=[ChatLanguage(language=lang, messages=n, unanswered=u) for lang, n, u in board.chat],
        handovers=board.handovers,
        visits=[VisitBand(day_type=d, hour_band=b, visits=n, attended=c) for d, b, n, c in board.visits],
    )

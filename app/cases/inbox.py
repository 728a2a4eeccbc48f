"""The inbox: the cases a principal may see, filtered, searched, sorted and paged, and its counts."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import and_, exists, false, func, literal_column, select
from sqlalchemy.orm import Session

from app.auth.models import Organisation
from app.auth.permissions import Principal
from app.cases.access import REFERENCE, visible_cases
from app.cases.models import CaseFile, Referral
from app.cases.schemas import InboxFilter
from app.db import utcnow

SORTS = {
    "-updated": (CaseFile.updated_at.desc(), CaseFile.id.desc()),
    "updated": (CaseFile.updated_at.asc(), CaseFile.id.asc()),
    "due": (CaseFile.due_at.asc().nulls_last(), CaseFile.id.asc()),
    "-created": (CaseFile.created_at.desc(), CaseFile.id.desc()),
    "reference": (CaseFile.reference.asc(),),
}


#: Above this many matches a search walks the inbox order instead of sorting every match.
SEARCH_CANDIDATES = 2000


def search_condition(db: Session, text: str):  # type: ignore[no-untyped-def]
    """Return the SQL condition for a free-text search: prefix full-text on PostgreSQL, LIKE on SQLite.

    On PostgreSQL a rare term is answered from the GIN index and sorted; a common one (more than
    SEARCH_CANDIDATES matches) is tested row by row along the inbox's index order, which finds a
    page of matches quickly. (`search_vector || ''` hides the GIN index from the planner there.)
    """
    words = [w for w in re.split(r"\s+", text.strip().lower()) if w][:6]
    if not words:
        return None
    if REFERENCE.match(text.strip().upper()):
        return CaseFile.reference == text.strip().upper()
    if db.get_bind().dialect.name == "postgresql":
        cleaned = [re.sub(r"[^\w]", " ", w).split() for w in words]
        terms = " & ".join(f"{part}:*" for parts in cleaned for part in parts)
        if not terms:
            return None
        match = literal_column("case_file.search_vector").op("@@")(func.to_tsquery("simple", terms))
        # The planner cannot estimate prefix matches, so fetch the candidates first: when they are
        # few, the page is sorted from exactly those ids.
        candidates = db.scalars(select(CaseFile.id).where(match).limit(SEARCH_CANDIDATES + 1)).all()
        if len(candidates) <= SEARCH_CANDIDATES:
            return CaseFile.id.in_(candidates) if candidates else false()
        unindexed = literal_column("(case_file.search_vector || ''::tsvector)")
        return unindexed.op("@@")(func.to_tsquery("simple", terms))
    return and_(*[CaseFile.search_text.like(f"%{w.replace('%', '').replace('_', '')}%") for w in words])


def list_for(
    *, db: Session, principal: Principal, filters: InboxFilter, now: datetime | None = None
) -> tuple[list[CaseFile], bool]:
    """Return one page of the cases principal may see, and whether a next page exists."""
    now = now or utcnow()
    query = visible_cases(principal)
    if filters.status:
        query = query.where(CaseFile.status == filters.status)
    else:
        query = query.where(CaseFile.status != "closed")
    if filters.category:
        query = query.where(CaseFile.category == filters.category)
    if filters.language:
        query = query.where(CaseFile.language == filters.language)
    if filters.overdue:
        query = query.where(CaseFile.due_at.is_not(None), CaseFile.due_at <= now)
    if filters.mine and principal.user_id:
        query = query.where(CaseFile.assignee_id == principal.user_id)
    if filters.partner:
        partner_id = select(Organisation.id).where(Organisation.slug == filters.partner).scalar_subquery()
        query = query.where(
            exists().where(
                Referral.id == CaseFile.current_referral_id,
                Referral.organisation_id == partner_id,
            )
        )
    if filters.query:
        condition = search_condition(db, filters.query)
        if condition is not None:
            query = query.where(condition)
    per_page = max(1, min(filters.per_page, 10_000))
    page = max(1, filters.page)
    query = (
        query.order_by(*SORTS.get(filters.sort, SORTS["-updated"]))
        .offset((page - 1) * per_page)
        .limit(per_page + 1)
    )
    rows = list(db.scalars(query).unique().all())
    return rows[:per_page], len(rows) > per_page


def counts_for(*, db: Session, principal: Principal, now: datetime | None = None) -> dict[str, int]:
    """Return how many visible cases are open, new, overdue, assigned to principal, awaiting an answer."""
    now = now or utcnow()
    visible = visible_cases(principal).where(CaseFile.status.not_in(["resolved", "closed"])).subquery()
    row = db.execute(
        select(
            func.count(),
            func.count().filter(visible.c.status == "new"),
            func.count().filter(visible.c.due_at.is_not(None), visible.c.due_at <= now),
            func.count().filter(visible.c.assignee_id == principal.user_id)
            if principal.user_id
            else func.count().filter(False),
            func.count().filter(visible.c.status == "referred"),
        ).select_from(visible)
    ).one()
    return dict(zip(("open", "new", "overdue", "mine", "referred"), (int(v or 0) for v in row), strict=True))

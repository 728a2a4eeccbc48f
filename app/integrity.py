"""`witaj db check` and `witaj db backup`: that the database still says what its history says, and a
consistent copy of it.

The check: every case's current state equals the projection of its events; every foreign key points
at a row that exists; the history tables (case events, audit entries) are still append-only (the
database's own triggers refuse UPDATE and DELETE on them) and every case's history starts with its
opening.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, and_, func, select, text
from sqlalchemy.orm import Session

from app.cases import events
from app.cases.models import CaseEvent, CaseFile
from app.db import Base

#: The history tables: the database refuses UPDATE and DELETE on them (migration 0002).
APPEND_ONLY = ("case_event", "audit_entry")
#: Cases read at once while comparing states with their events.
BATCH = 500


@dataclass(frozen=True)
class Problem:
    """One thing the check found wrong: where (a table, a case reference) and what."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def check(*, db: Session) -> list[Problem]:
    """Return every problem found (none: the database is consistent with its history)."""
    return [*_append_only(db), *_foreign_keys(db), *_projections(db)]


def _append_only(db: Session) -> list[Problem]:
    dialect = db.get_bind().dialect.name
    problems = []
    for table in APPEND_ONLY:
        if dialect == "sqlite":
            names = set(
                db.scalars(
                    text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :table"),
                    {"table": table},
                ).all()
            )
            missing = {f"{table}_no_update", f"{table}_no_delete"} - names
        else:
            enabled = db.scalars(
                text(
                    "SELECT tgname FROM pg_trigger WHERE tgrelid = CAST(:table AS regclass) AND tgenabled <> 'D' "
                    "AND NOT tgisinternal"
                ),
                {"table": table},
            ).all()
            missing = {f"{table}_append_only"} - set(enabled)
        if missing:
            problems.append(
                Problem(
                    table, f"is no longer append-only: the trigger(s) {', '.join(sorted(missing))} are gone"
                )
            )
    return problems


def _foreign_keys(db: Session) -> list[Problem]:
    problems = []
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_key_constraints:
            parent = fk.referred_table
            pairs = list(zip(fk.columns, fk.elements, strict=True))
            orphans = db.scalar(
                select(func.count())
                .select_from(table.outerjoin(parent, and_(*[col == el.column for col, el in pairs])))
                .where(and_(*[col.is_not(None) for col, _el in pairs]), pairs[0][1].column.is_(None))
            )
            if orphans:
                names = ", ".join(col.name for col, _el in pairs)
                problems.append(Problem(table.name, f"{orphans} row(s) point at no {parent.name} ({names})"))
    return problems


def _projections(db: Session) -> list[Problem]:
    problems = []
    last_id = 0
    while True:
        cases = db.scalars(
            select(CaseFile).where(CaseFile.id > last_id).order_by(CaseFile.id).limit(BATCH)
        ).all()
        if not cases:
            return problems
        last_id = cases[-1].id
        for case in cases:
            first = db.scalar(
                select(CaseEvent.kind).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
            )
            if first != "created":
                problems.append(
                    Problem(case.reference, "its history does not start with the case being opened")
                )
                continue
            projected = events.project(db=db, case_id=case.id)
            state = events.snapshot(case)
            differing = sorted(key for key, value in state.items() if projected.get(key) != value)
            if differing:
                problems.append(
                    Problem(
                        case.reference,
                        f"its state differs from the projection of its events in: {', '.join(differing)}",
                    )
                )
        db.expunge_all()  # a large database is read a batch at a time


def backup(*, engine: Engine, target: Path) -> Path:
    """Write a consistent copy of a SQLite database to target (SQLite's online backup: the app may
    keep running); raise ValueError for another database (PostgreSQL: use pg_dump, see the README)."""
    if engine.dialect.name != "sqlite":
        raise ValueError(
            "witaj db backup copies SQLite databases; for PostgreSQL use pg_dump (see the README)"
        )
    target = Path(target)
    if target.exists():
        raise ValueError(f"{target} exists; choose a new file")
    target.parent.mkdir(parents=True, exist_ok=True)
    with engine.connect() as conn:
        source = conn.connection.dbapi_connection
        destination = sqlite3.connect(target)
        try:
            source.backup(destination)  # type: ignore[union-attr]
        finally:
            destination.close()
    return target

"""`witaj db check` finds a database that no longer says what its history says; `witaj db backup`
makes a copy that restores and checks clean."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import func, select, text

from app import integrity
from app.auth import service as auth_service
from app.auth.enums import OrgKind, Role
from app.cases import flows
from app.cases.events import Actor
from app.cases.models import CaseEvent, CaseFile
from app.cases.schemas import CaseIn, ClientIn, TransitionIn
from app.db import build_engine, session_factory


@pytest.fixture
def with_cases(fresh_engine, settings):
    """Return a session factory on a database with real commits and two cases, one triaged."""
    factory = session_factory(fresh_engine, write=True)
    with factory() as db:
        office = auth_service.ensure_organisation(db=db, slug=settings.office_slug, name="GUP", kind=OrgKind.office)
        user = auth_service.create_user(
            db=db, email="w@example.org", display_name="W", password="long enough password", role=Role.caseworker,
            organisation=office,
        )
        db.commit()
        actor = Actor.of(auth_service.principal_of(user))
        for name in ("Olena", "Ivan"):
            case, _ = flows.open_case(
                db=db, settings=settings, client=ClientIn(display_name=name, preferred_language="uk"),
                case=CaseIn(category="job_search", subject="Praca"), actor=actor,
            )
        flows.transition(db=db, settings=settings, case=case, request=TransitionIn(name="triage"), actor=actor)
    return factory


def test_a_consistent_database_checks_clean(with_cases):
    with with_cases() as db:
        assert integrity.check(db=db) == []


def test_the_check_finds_a_state_its_events_do_not_explain_and_a_history_no_longer_append_only(with_cases, backend):
    with with_cases() as db:
        db.execute(text("UPDATE case_file SET status = 'closed', priority = 'urgent' WHERE id = (SELECT min(id) FROM case_file)"))
        if backend == "sqlite":
            db.execute(text("DROP TRIGGER audit_entry_no_delete"))
        else:
            db.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_append_only"))
        db.commit()
        found = [str(problem) for problem in integrity.check(db=db)]
    with with_cases() as db:
        reference = db.scalar(select(CaseFile.reference).order_by(CaseFile.id))
    assert f"{reference}: its state differs from the projection of its events in: priority, status" in found
    assert any(problem.startswith("audit_entry: is no longer append-only") for problem in found)
    assert len(found) == 2


def test_the_check_finds_rows_that_point_at_nothing(tmp_path):
    """On SQLite foreign keys are only as good as `PRAGMA foreign_keys`; a tool that wrote without it
    leaves rows that point at nothing."""
    from alembic import command

    from app.migrations import alembic_config

    engine = build_engine(f"sqlite:///{tmp_path / 'orphans.db'}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(connection=conn), "head")
    raw = sqlite3.connect(tmp_path / "orphans.db")  # foreign keys are off unless asked for
    raw.execute(
        "INSERT INTO case_note (case_id, author_org_id, visibility, body, created_at) "
        "VALUES (424242, 1, 'internal', 'x', '2026-01-01')"
    )
    raw.commit()
    raw.close()
    with session_factory(engine)() as db:
        found = [str(problem) for problem in integrity.check(db=db)]
    assert "case_note: 1 row(s) point at no case_file (case_id)" in found
    assert "case_note: 1 row(s) point at no organisation (author_org_id)" in found


def test_a_backup_restores_and_checks_clean(with_cases, backend, tmp_path):
    engine = with_cases.kw["bind"]
    if backend != "sqlite":
        with pytest.raises(ValueError, match="pg_dump"):
            integrity.backup(engine=engine, target=tmp_path / "copy.db")
        return
    copy = integrity.backup(engine=engine, target=tmp_path / "copy.db")
    restored = build_engine(f"sqlite:///{copy}")
    with session_factory(restored)() as db, with_cases() as live:
        assert integrity.check(db=db) == []
        for model in (CaseFile, CaseEvent):
            assert db.scalar(select(func.count()).select_from(model)) == live.scalar(select(func.count()).select_from(model))
    with pytest.raises(ValueError, match="exists"):
        integrity.backup(engine=engine, target=copy)  # never overwrites

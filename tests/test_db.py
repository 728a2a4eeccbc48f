"""Migrations from empty, and database behaviour that must be the same on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

from alembic import command
from sqlalchemy import inspect, text

from app.db import Base, build_engine
from app.migrations import alembic_config
from app.migrations_check import current_revision, pending_migrations
from tests.conftest import PG_URL, url_for_backend


def _fresh_engine(backend: str):
    """Return an engine on an empty database (a new file, or a new PostgreSQL schema) and a cleanup."""
    if backend == "sqlite":
        engine = build_engine(url_for_backend("sqlite", f"migrate-{uuid.uuid4().hex}"))
        return engine, engine.dispose
    schema = f"witaj_migrate_{uuid.uuid4().hex[:8]}"
    admin = build_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = build_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})

    def cleanup() -> None:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return engine, cleanup


def test_migrations_from_empty_to_head_and_back(backend):
    engine, cleanup = _fresh_engine(backend)
    try:
        assert current_revision(engine) is None
        assert pending_migrations(engine)
        with engine.begin() as conn:
            command.upgrade(alembic_config(connection=conn), "head")
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        assert pending_migrations(engine) == []
        with engine.begin() as conn:
            command.downgrade(alembic_config(connection=conn), "base")
        assert set(inspect(engine).get_table_names()) & set(Base.metadata.tables) == set()
    finally:
        cleanup()


def test_models_match_the_migrations(engine):
    """Autogenerate finds nothing to add: the migrations describe exactly the models."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        from app.migrations import include_object

        context = MigrationContext.configure(conn, opts={"compare_type": False, "include_object": include_object})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    engine = build_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_foreign_keys_are_enforced(db, make_org):
    import pytest
    from sqlalchemy.exc import IntegrityError

    from app.auth.models import User

    db.add(User(email="ghost@example.org", display_name="G", password_hash="x", role="caseworker", organisation_id=999999))
    with pytest.raises(IntegrityError):
        db.flush()
    db.rollback()

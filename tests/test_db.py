"""Migrations from empty, and database behaviour that must be the same on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from app.db import Base, build_engine
from app.migrations import alembic_config
from app.migrations_check import current_revision, pending_migrations
from tests.conftest import empty_database


def test_migrations_from_empty_to_head_and_back(backend):
    with empty_database(backend) as engine:
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

"""Where the database stands against the migrations in app/migrations."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from app.migrations import alembic_config


def current_revision(engine: Engine) -> str | None:
    """Return the database's Alembic revision, or None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def pending_migrations(engine: Engine) -> list[str]:
    """Return the revisions not yet applied, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    current = current_revision(engine)
    pending = [rev.revision for rev in script.iterate_revisions("heads", current)]
    return list(reversed(pending))

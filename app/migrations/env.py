"""Alembic environment: runs migrations on the configured database (or a given connection)."""

from __future__ import annotations

from alembic import context

from app.config import get_settings
from app.db import build_engine
from app.migrations import include_object
from app.models import METADATA

config = context.config
target_metadata = METADATA


def _configure(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )


def run_migrations_online() -> None:
    """Run migrations on an open connection, or on one made from sqlalchemy.url / settings."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        url = get_settings().database_url
    engine = build_engine(url)
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `witaj db upgrade` against a database")
run_migrations_online()

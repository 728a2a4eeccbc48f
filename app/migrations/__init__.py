"""Alembic migrations; `alembic_config()` builds the configuration without an ini file."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent

#: Indexes that exist only in migrations (PostgreSQL-specific expressions, not in the models).
MIGRATION_ONLY_INDEXES = frozenset({"ix_case_file_search"})
#: Columns that exist only on PostgreSQL (a generated tsvector), not in the models.
MIGRATION_ONLY_COLUMNS = frozenset({"search_vector"})


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Return False for what autogenerate must not compare (the migration-only objects above)."""
    if not reflected:
        return True
    return not ((type_ == "index" and name in MIGRATION_ONLY_INDEXES) or (type_ == "column" and name in MIGRATION_ONLY_COLUMNS))


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """Return an Alembic Config for url (or an open connection), wherever the package is installed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option(
        "file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d_%%(rev)s_%%(slug)s"
    )
    config.set_main_option("timezone", "UTC")
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database of engine up to revision, in one transaction."""
    _migrate(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database of engine down to revision, in one transaction."""
    _migrate(engine, command.downgrade, revision)


def _migrate(engine: Engine, step: object, revision: str) -> None:
    # On SQLite, Alembic changes a table by copying it and dropping the old one; with foreign keys
    # on, dropping a table that other rows point at fails. They are off while migrating (the pragma
    # only takes effect outside a transaction), checked before the commit, and on again after.
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        raw = conn.connection.dbapi_connection
        if sqlite:
            raw.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with conn.begin():
                step(alembic_config(connection=conn), revision)  # type: ignore[operator]
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"the migration left {len(broken)} row(s) pointing at nothing: {broken[:5]}")
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]

"""Alembic migrations; `alembic_config()` builds the configuration without an ini file."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from sqlalchemy import Connection

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

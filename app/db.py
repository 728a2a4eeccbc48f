"""Database engine, sessions and the declarative Base, identical on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from app.config import ConfigError, Settings, get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Witaj stores only timezone-aware timestamps")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base of every table; constraint names are explicit so migrations are stable."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    # Let SQLAlchemy, not the sqlite3 module, issue BEGIN: otherwise SAVEPOINTs and
    # transactional DDL (migrations) misbehave under pysqlite's implicit transactions.
    dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _sqlite_begin(conn: object) -> None:
    # Writers start with BEGIN IMMEDIATE: they queue for SQLite's single write lock (busy_timeout)
    # instead of failing with "database is locked" when a read snapshot cannot be upgraded.
    mode = conn.get_execution_options().get("witaj_begin", "DEFERRED")  # type: ignore[attr-defined]
    conn.exec_driver_sql(f"BEGIN {mode}")  # type: ignore[attr-defined]


def build_engine(url: str, **kwargs: object) -> Engine:
    """Return an engine for url, with SQLite put in WAL mode with foreign keys on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False})
        engine = create_engine(url, **kwargs)  # type: ignore[arg-type]
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "psycopg":
        # No server-side prepared statements: a generic plan cannot see the search terms or
        # filter values, and picks sequential scans where the value-specific plan uses an index.
        connect_args = dict(kwargs.pop("connect_args", None) or {})  # type: ignore[arg-type]
        connect_args.setdefault("prepare_threshold", None)
        kwargs["connect_args"] = connect_args
    return create_engine(url, **kwargs)  # type: ignore[arg-type]


def safe_url(url: str) -> str:
    """Return url with any password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def check_connection(engine: Engine) -> None:
    """Raise ConfigError with one clear line when the database cannot be reached."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ConfigError(
            f"cannot reach the database at {safe_url(str(engine.url))}: {reason}. "
            "Check WITAJ_DATABASE_URL and that the server is running."
        ) from None


@lru_cache
def _engine_for(url: str) -> Engine:
    return build_engine(url)


def get_engine(settings: Settings | None = None) -> Engine:
    """Return the process-wide engine for the configured database."""
    return _engine_for((settings or get_settings()).database_url)


def session_factory(engine: Engine, *, write: bool = False) -> sessionmaker[Session]:
    """Return a session factory bound to engine; `write` sessions take SQLite's write lock up front."""
    bind = engine.execution_options(witaj_begin="IMMEDIATE") if write else engine
    return sessionmaker(bind=bind, expire_on_commit=False, autoflush=True)


def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """Yield a session that is closed afterwards (the caller commits)."""
    factory = session_factory(engine or get_engine())
    with factory() as session:
        yield session

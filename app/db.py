"""Database engine, sessions and the declarative Base, identical on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: processes meet through SQLite's busy_timeout only
    fcntl = None  # type: ignore[assignment]

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


#: The largest id, version or count a request may name: what an Integer column holds on both
#: databases (PostgreSQL's int4). A bigger number from a form or URL is refused with a 422, not sent
#: to the database (SQLite overflows past 2^63, PostgreSQL past 2^31).
MAX_INT = 2**31 - 1


def parse_id(text: str) -> int | None:
    """Return text as a positive whole number a database can hold, or None (digits of other scripts,
    such as "²" or "٣", are not numbers here)."""
    value = text.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        return None
    number = int(value)
    return number if 0 < number <= MAX_INT else None


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


SQLITE_BUSY_SECONDS = 5.0  # how long a writer waits for SQLite's write lock before "database is locked"


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    # Let SQLAlchemy, not the sqlite3 module, issue BEGIN: otherwise SAVEPOINTs and
    # transactional DDL (migrations) misbehave under pysqlite's implicit transactions.
    dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
    cursor.close()


class _WriterQueue:
    """One SQLite database's write lock, taken before BEGIN IMMEDIATE.

    SQLite lets one writer at a time; a writer that finds the lock taken waits in SQLite's busy
    handler, which sleeps 1, 2, 5, 10 ... 100 ms between tries, so under load the lock stands idle
    while waiters sleep (measured with bench/chat.py: p95 340 ms, max 1.8 s with 8 chats at once).
    Writers queue here instead and start the moment the previous one commits or rolls back: the
    threads of one process on a lock, the processes (several workers, the CLI) on an advisory
    lock on `<database>.writers` (flock, released by the kernel if a process dies). SQLite's own
    lock stays the rule; busy_timeout still covers writers that do not come through here.
    """

    def __init__(self, dialect: object, timeout: float, lock_path: str | None) -> None:
        self.lock = threading.Lock()
        self.timeout = timeout
        self.lock_path = lock_path if fcntl is not None else None
        self.fd: int | None = None
        self.holders: set[int] = set()  # the sqlite3 connections holding the lock
        for name in ("do_commit", "do_rollback", "do_close"):
            original = getattr(dialect, name)
            setattr(dialect, name, self._then_release(original))

    @staticmethod
    def _raw(connection: object) -> int:
        return id(getattr(connection, "dbapi_connection", connection))

    def _then_release(self, original: Any) -> Any:
        def wrapped(dbapi_connection: object) -> None:
            try:
                original(dbapi_connection)
            finally:
                self.release(dbapi_connection)

        return wrapped

    def release(self, dbapi_connection: object) -> None:
        key = self._raw(dbapi_connection)
        if key in self.holders:
            self.holders.discard(key)
            if self.fd is not None:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            self.lock.release()

    def _lock_other_processes(self) -> None:
        if self.lock_path is None:
            return
        if self.fd is None:
            self.fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked")) from None
                time.sleep(0.0005)  # another process writes; one thread per process polls


    def begin(self, conn: Any) -> None:
        # Writers start with BEGIN IMMEDIATE: they queue for SQLite's single write lock instead of
        # failing with "database is locked" when a read snapshot cannot be upgraded.
        # BEGIN goes straight to the sqlite3 connection: through SQLAlchemy's statement machinery it
        # cost ~25 times as much (two transactions per chat turn).
        mode = conn.get_execution_options().get("witaj_begin", "DEFERRED")
        raw = conn.connection.dbapi_connection
        if mode != "IMMEDIATE":
            _begin(raw, mode)
            return
        if not self.lock.acquire(timeout=self.timeout):
            raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked (writer queue timeout)"))
        try:
            self._lock_other_processes()
        except BaseException:
            self.lock.release()
            raise
        self.holders.add(id(raw))
        try:
            _begin(raw, "IMMEDIATE")
        except BaseException:
            self.release(raw)
            raise


def _begin(dbapi_connection: Any, mode: str) -> None:
    try:
        dbapi_connection.execute(f"BEGIN {mode}")
    except sqlite3.Error as exc:  # raised as SQLAlchemy would have: callers catch its exceptions
        raise OperationalError(f"BEGIN {mode}", {}, exc) from exc


def build_engine(url: str, **kwargs: object) -> Engine:
    """Return an engine for url, with SQLite put in WAL mode with foreign keys on."""
    parsed = make_url(url)
    # SQL parameters are what people typed (messages, notes, contact details): an error's text and
    # the engine's log lines must never carry them.
    kwargs["hide_parameters"] = True
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False})
        engine = create_engine(url, **kwargs)  # type: ignore[arg-type]
        event.listen(engine, "connect", _sqlite_pragmas)
        lock_path = f"{database}.writers" if database and database != ":memory:" else None
        queue = _WriterQueue(engine.dialect, timeout=SQLITE_BUSY_SECONDS, lock_path=lock_path)
        event.listen(engine, "begin", queue.begin)
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


@contextmanager
def committed(db: Session) -> Iterator[Session]:
    """Commit what the block wrote, or roll all of it back when it raises (for the use cases that own
    a transaction: flows, routes and commands)."""
    try:
        yield db
        db.commit()
    except BaseException:
        db.rollback()
        raise


def ping(db: Session) -> None:
    """Ask the database for one row; raise SQLAlchemyError when it does not answer."""
    db.execute(text("SELECT 1"))


@lru_cache
def _engine_for(url: str) -> Engine:
    return build_engine(url)


def get_engine(settings: Settings | None = None) -> Engine:
    """Return the process-wide engine for the configured database."""
    return _engine_for((settings or get_settings()).database_url)


#: Execution options for a write session's first transaction when it only reads (pass them to
#: `session.connection(execution_options=READ_FIRST)` before its first statement): on SQLite it
#: begins DEFERRED, without the write lock; the next transaction takes the lock as usual.
READ_FIRST = {"witaj_begin": "DEFERRED"}


def session_factory(engine: Engine, *, write: bool = False) -> sessionmaker[Session]:
    """Return a session factory bound to engine; `write` sessions take SQLite's write lock up front."""
    bind = engine.execution_options(witaj_begin="IMMEDIATE") if write else engine
    return sessionmaker(bind=bind, expire_on_commit=False, autoflush=True)


def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """Yield a session that is closed afterwards (the caller commits)."""
    factory = session_factory(engine or get_engine())
    with factory() as session:
        yield session

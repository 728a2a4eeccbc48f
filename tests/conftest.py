"""Shared fixtures: a migrated database per backend (SQLite always, PostgreSQL when
WITAJ_TEST_DATABASE_URL is set), each test in a rolled-back transaction, and an app client."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

# Settings are read from the environment once: fix them before the app is imported.
_TMP = Path(tempfile.mkdtemp(prefix="witaj-tests-"))
os.environ["WITAJ_ENVIRONMENT"] = "test"
os.environ["WITAJ_SECRET_KEY"] = "test-secret-key-that-is-long-enough-0123456789"
os.environ["WITAJ_DATABASE_URL"] = f"sqlite:///{_TMP / 'default.db'}"
# argostranslate reads its folders once per process: the app and the tiny test models share one.
os.environ["WITAJ_ARGOS_DATA_DIR"] = str(_TMP / "argos")
os.environ.pop("WITAJ_LOCALES", None)
# Tests of other features sign admins and supervisors in with a password; the second factor's own
# tests (tests/auth/test_two_factor*.py) set the roles that require it themselves.
os.environ["WITAJ_TWO_FACTOR_ROLES"] = ""
os.environ.pop("WITAJ_DEFAULT_LOCALE", None)

import anyio.to_thread  # noqa: E402
import pytest  # noqa: E402
from alembic import command  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app.config import get_settings  # noqa: E402
from app.db import Base, build_engine  # noqa: E402
from app.deps import get_db, get_write_db  # noqa: E402
from app.main import create_app  # noqa: E402
from app.migrations import alembic_config  # noqa: E402

PG_URL = os.environ.get("WITAJ_TEST_DATABASE_URL")

# Shared fixtures of the domains (world, open_case, ...).
pytest_plugins = ["tests.cases.fixtures", "tests.translation.fixtures", "tests.browser"]


def backends() -> list[str]:
    """Return the database backends this run tests on."""
    return ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Only the backends that are there: no skipped PostgreSQL tests on a laptop without one.
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", backends(), scope="session")


def sqlite_url(name: str) -> str:
    """Return the URL of a SQLite file named name in this process's temporary folder."""
    return f"sqlite:///{_TMP / (name + '.db')}"


def suite_schema() -> str:
    """Return the PostgreSQL schema of this test process: each pytest-xdist worker has its own."""
    return f"witaj_suite_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


@pytest.fixture(scope="session")
def engine(backend: str) -> Iterator[Engine]:
    """Return an engine on a database migrated to head with the real migrations: a SQLite file, or on
    PostgreSQL a schema of this process's own, made anew (tables, functions, triggers) for the run."""
    if backend == "sqlite":
        eng = build_engine(sqlite_url("suite"))
    else:
        schema = suite_schema()
        admin = build_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        eng = build_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    with eng.begin() as conn:
        command.upgrade(alembic_config(connection=conn), "head")
    yield eng
    eng.dispose()
    if backend == "postgresql":
        admin = build_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def empty_database(backend: str) -> Iterator[Engine]:
    """Yield an engine on a new, empty database: a SQLite file, or a PostgreSQL schema dropped after."""
    import uuid

    if backend == "sqlite":
        eng = build_engine(sqlite_url(f"fresh-{uuid.uuid4().hex}"))
        try:
            yield eng
        finally:
            eng.dispose()
        return
    schema = f"witaj_fresh_{uuid.uuid4().hex[:8]}"
    admin = build_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng = build_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def fresh_engine(backend: str) -> Iterator[Engine]:
    """Return an engine on a new, migrated database whose commits are real: for tests of several
    connections at once."""
    with empty_database(backend) as eng:
        with eng.begin() as conn:
            command.upgrade(alembic_config(connection=conn), "head")
        yield eng


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """Return a session inside a transaction that is rolled back after the test.

    Code under test may commit: commits end SAVEPOINTs inside the outer transaction.
    """
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def settings():
    """Return the test settings."""
    return get_settings()


@pytest.fixture
def app(engine: Engine, db: Session, settings) -> Iterator[Any]:
    """Return the app, its requests served by the test's session."""
    application = create_app(settings, engine, check_db=False)

    def _db() -> Iterator[Session]:
        yield db

    application.dependency_overrides[get_db] = _db
    application.dependency_overrides[get_write_db] = _db
    # The messengers' answers are sent on the app's sending threads, with the test's session (the
    # client below waits for them after each request, so the session is never used twice at once).
    application.state.channel_sessions = lambda: nullcontext(db)
    yield application
    application.state.channel_sender.wait()


class Settled:
    """The app, as a test client calls it: a request returns (and a redirect is followed) only once
    the messengers' answers it queued are sent, so the test's session is never used twice at once."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            await anyio.to_thread.run_sync(self.app.state.channel_sender.wait)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    """Return a client of the app (cookies kept between requests)."""
    with TestClient(Settled(app), base_url="http://testserver") as c:
        yield c


CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    """Return the CSRF token embedded in a page."""
    match = CSRF_INPUT.search(html)
    assert match, "page has no csrf_token field"
    return match.group(1)


def writes_within(engine: Engine, statement: str, seconds: float) -> bool:
    """Return whether a write session of engine runs statement and commits within seconds, from
    another thread (a writer that finds the write lock held waits SQLite's 5 s busy timeout)."""
    import threading

    from app.db import session_factory

    done: list[bool] = []

    def attempt() -> None:
        with session_factory(engine, write=True)() as db:
            db.execute(text(statement))
            db.commit()
            done.append(True)

    writer = threading.Thread(target=attempt)
    writer.start()
    writer.join(seconds)
    return bool(done)


@pytest.fixture
def make_org(db: Session):
    """Return a factory of organisations."""
    from app.auth import service
    from app.auth.enums import OrgKind

    counter = {"n": 0}

    def factory(kind: OrgKind = OrgKind.office, slug: str | None = None, name: str | None = None):
        counter["n"] += 1
        slug = slug or f"{kind.value}-{counter['n']}"
        return service.ensure_organisation(db=db, slug=slug, name=name or slug.title(), kind=kind)

    return factory


@pytest.fixture
def make_user(db: Session, make_org):
    """Return a factory of users: make_user(role, org=None, password=...) -> (user, password)."""
    from app.auth import service
    from app.auth.enums import OrgKind, Role

    counter = {"n": 0}

    def factory(role: Role = Role.caseworker, org=None, password: str = "correct horse battery"):
        counter["n"] += 1
        if org is None:
            kind = OrgKind.partner if role in (Role.partner_staff, Role.partner_admin) else OrgKind.office
            org = make_org(kind)
        user = service.create_user(
            db=db,
            email=f"user{counter['n']}@example.org",
            display_name=f"User {counter['n']}",
            password=password,
            role=role,
            organisation=org,
        )
        db.commit()
        return user, password

    return factory


@pytest.fixture
def login(client: TestClient):
    """Return a function that signs a user in through the real form; returns the response."""

    def do(email: str, password: str, locale: str = "en"):
        page = client.get(f"/{locale}/staff/login")
        return client.post(
            f"/{locale}/staff/login",
            data={"email": email, "password": password, "csrf_token": csrf_from(page.text)},
            follow_redirects=False,
        )

    return do


__all__ = ["Base", "csrf_from"]

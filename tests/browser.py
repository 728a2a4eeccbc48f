"""A live Witaj server and Debian's Chromium driven by Playwright, for browser tests.

Registered in tests/conftest.py's pytest_plugins: the `browser` fixture (one Chromium for the whole
run) and the module-scoped `site` fixture (a live server on a fresh database). A module changes what
its site holds by overriding the `site_spec` fixture. Browser tests run after all the others.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select

from app.auth import service as auth_service
from app.auth.enums import OrgKind, Role
from app.auth.models import Organisation
from app.config import get_settings
from app.db import build_engine, session_factory
from app.demo import load_demo
from app.main import create_app
from app.migrations import alembic_config

CHROMIUM = os.environ.get("WITAJ_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def require_chromium() -> None:
    """Skip (or fail, where WITAJ_REQUIRE_BROWSER is set, as in CI) without Chromium."""
    if shutil.which(CHROMIUM) or os.path.exists(CHROMIUM):
        return
    message = f"Chromium not found at {CHROMIUM}: apt-get install chromium (.ci/run does)"
    if os.environ.get("WITAJ_REQUIRE_BROWSER"):
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def live_server(app) -> Iterator[str]:
    """Serve app with uvicorn on a free loopback port; yield its base URL."""
    import uvicorn

    ready = threading.Event()  # set once the server listens, or has given up

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            try:
                await super().startup(sockets=sockets)
            finally:
                ready.set()

    def run() -> None:
        try:
            server.run()
        finally:
            ready.set()

    port = free_port()
    server = Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if not ready.wait(timeout=20) or not server.started:
        server.should_exit = True
        raise RuntimeError("the test server did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def chromium() -> Iterator[object]:
    """Yield a Playwright Browser running Debian's Chromium (never a downloaded one)."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def collect_console_errors(page, expected_statuses: tuple[int, ...] = ()) -> list[str]:
    """Return a list that fills with console errors (CSP violations, script errors, failed loads)."""
    errors: list[str] = []
    expected = tuple(f"status of {status} " for status in expected_statuses)

    def on_console(msg) -> None:
        if msg.type == "error" and not any(e in msg.text for e in expected):
            errors.append(msg.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Browser tests run last (in their usual order): while Playwright's sync API is open, and the one
    # Chromium stays open for the rest of the run, it marks the main thread's asyncio loop as
    # running, so asyncio.run() in any later test would refuse to start.
    items[:] = sorted(items, key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Return Debian's Chromium, launched once for the run."""
    with chromium() as launched:
        yield launched


@dataclass(frozen=True)
class SiteSpec:
    """What a module's site holds besides a migrated database and the city office of the settings."""

    #: (e-mail, password) of Kasia, a caseworker of the office; None: no staff account.
    caseworker: tuple[str, str] | None = None
    #: Settings that differ from the suite's.
    settings: Mapping[str, Any] = field(default_factory=dict)
    #: Load the demo content (`witaj demo load`: partners, their staff, cases in every state).
    demo: bool = False
    #: More staff: (e-mail, password, role, organisation slug); the office's slug for the office.
    #: A partner's organisation must exist: load the demo, which holds every partner of partners/.
    accounts: tuple[tuple[str, str, Role, str], ...] = ()


@pytest.fixture(scope="module")
def site_spec() -> SiteSpec:
    """Return what the module's site holds; override this fixture in a module to change it."""
    return SiteSpec()


@pytest.fixture(scope="module")
def site(site_spec: SiteSpec, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Serve a fresh migrated SQLite database as site_spec says; yield the base URL."""
    settings = get_settings().model_copy(update=dict(site_spec.settings))
    engine = build_engine(f"sqlite:///{tmp_path_factory.mktemp('site') / 'site.db'}")
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(connection=conn), "head")
        with session_factory(engine)() as db:
            office = auth_service.ensure_organisation(
                db=db, slug=settings.office_slug, name=settings.office_name, kind=OrgKind.office
            )
            if site_spec.demo:
                load_demo(db=db, settings=settings)
            if site_spec.caseworker is not None:
                email, password = site_spec.caseworker
                auth_service.create_user(
                    db=db,
                    email=email,
                    display_name="Kasia",
                    password=password,
                    role=Role.caseworker,
                    organisation=office,
                )
            for email, password, role, slug in site_spec.accounts:
                organisation = db.scalar(select(Organisation).where(Organisation.slug == slug))
                assert organisation is not None, f"no organisation {slug} on the test site"
                auth_service.create_user(
                    db=db, email=email, display_name=email.split("@")[0].title(), password=password,
                    role=role, organisation=organisation,
                )
            db.commit()
        with live_server(create_app(settings, engine)) as base:
            yield base
    finally:
        engine.dispose()

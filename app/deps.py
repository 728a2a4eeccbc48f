"""Annotated dependencies every route uses: DbSession (WriteDbSession for reads that are audited),
AppSettings, Locale (the signed-in principal's are in app/auth/deps.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.config import Settings
from app.i18n import get_locale

# Dependencies that touch no database are `async def`: FastAPI runs a plain `def` dependency in
# its thread pool, a hand-off that costs more than the work itself.


async def app_settings(request: Request) -> Settings:
    """Return the settings the app was created with."""
    return request.app.state.settings


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_db(request: Request) -> AsyncIterator[Session]:
    """Yield a database session for one request; closed (and rolled back if uncommitted) afterwards.

    Requests that change state get a write session, so concurrent writers queue instead of failing.
    The dependency is async on purpose: making a session touches no database, so it costs no trip
    to the thread pool; only a session left inside a transaction is closed there (its ROLLBACK is I/O).
    """
    state = request.app.state
    factory = state.session_factory if request.method in SAFE_METHODS else state.write_session_factory
    async for session in _session_of(factory):
        yield session


async def get_write_db(request: Request) -> AsyncIterator[Session]:
    """Yield a write session whatever the method: for pages that read and then record the read (an
    audit entry). On SQLite a transaction that began as a read cannot take the write lock once another
    writer has committed meanwhile ("database is locked"); a write session queues for the lock first."""
    async for session in _session_of(request.app.state.write_session_factory):
        yield session


async def _session_of(factory: sessionmaker[Session]) -> AsyncIterator[Session]:
    session = factory()
    try:
        yield session
    finally:
        if session.in_transaction():
            with anyio.CancelScope(shield=True):  # a cancelled request still ends its transaction
                await run_in_threadpool(session.close)
        else:
            session.close()


AppSettings = Annotated[Settings, Depends(app_settings)]
DbSession = Annotated[Session, Depends(get_db)]
WriteDbSession = Annotated[Session, Depends(get_write_db)]


async def locale_dep() -> str:
    """Return the request's locale."""
    return get_locale()


Locale = Annotated[str, Depends(locale_dep)]

"""Annotated dependencies: DbSession, AppSettings, CurrentPrincipal, StaffPrincipal, require_role(...)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

import anyio
from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.auth import service as auth_service
from app.auth.enums import Role
from app.auth.permissions import Principal
from app.config import Settings
from app.errors import LoginRequired, PermissionDenied
from app.i18n import get_locale

SESSION_COOKIE = "witaj_session"


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


def current_principal(request: Request, db: DbSession, settings: AppSettings) -> Principal | None:
    """Return the signed-in staff principal, or None for a visitor."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    user = auth_service.session_user(db=db, token=request.cookies.get(SESSION_COOKIE, ""), settings=settings)
    principal = auth_service.principal_of(user) if user else None
    request.state.principal = principal
    return principal


async def staff_principal(principal: Annotated[Principal | None, Depends(current_principal)]) -> Principal:
    """Return the signed-in staff principal; raise LoginRequired for a visitor."""
    if principal is None:
        raise LoginRequired()
    return principal


CurrentPrincipal = Annotated[Principal | None, Depends(current_principal)]
StaffPrincipal = Annotated[Principal, Depends(staff_principal)]


def require_role(*roles: Role) -> Callable[[Principal], Principal]:
    """Return a dependency that lets through only principals with one of roles."""

    async def check(principal: StaffPrincipal) -> Principal:
        if principal.role not in roles:
            raise PermissionDenied("role")
        return principal

    return check


async def locale_dep() -> str:
    """Return the request's locale."""
    return get_locale()


Locale = Annotated[str, Depends(locale_dep)]


def api_principal(request: Request, db: DbSession) -> Principal:
    """Return the principal of the request's `Authorization: Bearer` API token; raise LoginRequired."""
    header = request.headers.get("authorization", "")
    scheme, _sep, value = header.partition(" ")
    principal = None
    if scheme.lower() == "bearer" and value:
        principal = auth_service.token_principal(db=db, value=value.strip())
    if principal is None:
        raise LoginRequired()
    request.state.principal = principal
    return principal


ApiPrincipal = Annotated[Principal, Depends(api_principal)]

"""Who is asking: the signed-in staff principal (session cookie), an API token's principal, and
require_role(...); each raises LoginRequired or PermissionDenied, which app/errors.py turns into the
sign-in page, a 401 for the API, or a 403."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.auth.enums import Role
from app.auth.permissions import Action, Principal, require
from app.deps import SAFE_METHODS, AppSettings, DbSession, WriteDbSession
from app.errors import LoginRequired, PermissionDenied

SESSION_COOKIE = "witaj_session"
#: A browser whose password was right and whose second factor is still to come; never a session.
PENDING_COOKIE = "witaj_pending"


def current_principal(
    request: Request, db: DbSession, write: WriteDbSession, settings: AppSettings
) -> Principal | None:
    """Return the signed-in staff principal, or None for a visitor."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    token = request.cookies.get(SESSION_COOKIE, "")
    found = auth_service.live_session(db=db, token=token, settings=settings)
    if found is not None and auth_service.touch_due(found.last_seen_at):
        _write_apart(request, db, write, lambda session: auth_service.touch_session(db=session, token=token))
    principal = auth_service.principal_of(found.user) if found is not None else None
    request.state.principal = principal
    return principal


def _write_apart(request: Request, db: Session, write: Session, change: Callable[[Session], None]) -> None:
    """Write change in a transaction of its own and commit it. On SQLite a read cannot become a write
    once another writer has committed since it began ("database is locked" under chat load): a page
    that only reads writes the touch through a write session, which queues for the lock first; a
    request that changes state already holds one."""
    session = db if request.method not in SAFE_METHODS else write
    change(session)
    session.commit()


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


def require_action(action: Action) -> Callable[[Principal], Principal]:
    """Return a dependency that lets through only principals who may do action to their own
    organisation's data (a whole router of pages: the cases need view_cases)."""

    async def check(principal: StaffPrincipal) -> Principal:
        require(principal, action, principal.organisation_id)
        return principal

    return check


def api_principal(request: Request, db: DbSession, write: WriteDbSession) -> Principal:
    """Return the principal of the request's `Authorization: Bearer` API token; raise LoginRequired."""
    header = request.headers.get("authorization", "")
    scheme, _sep, value = header.partition(" ")
    principal = None
    if scheme.lower() == "bearer" and value:
        token = auth_service.live_token(db=db, value=value.strip())
        if token is not None:
            if auth_service.touch_due(token.last_used_at):
                token_id = token.id
                _write_apart(request, db, write, lambda session: auth_service.touch_token(db=session, token_id=token_id))
            principal = auth_service.principal_of_token(token)
    if principal is None:
        raise LoginRequired()
    request.state.principal = principal
    return principal


ApiPrincipal = Annotated[Principal, Depends(api_principal)]

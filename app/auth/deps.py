"""Who is asking: the signed-in staff principal (session cookie), an API token's principal, and
require_role(...); each raises LoginRequired or PermissionDenied, which app/errors.py turns into the
sign-in page, a 401 for the API, or a 403."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from app.auth import service as auth_service
from app.auth.enums import Role
from app.auth.permissions import Principal
from app.deps import AppSettings, DbSession
from app.errors import LoginRequired, PermissionDenied

SESSION_COOKIE = "witaj_session"


def current_principal(request: Request, db: DbSession, settings: AppSettings) -> Principal | None:
    """Return the signed-in staff principal, or None for a visitor."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    user = auth_service.session_user(db=db, token=request.cookies.get(SESSION_COOKIE, ""), settings=settings)
    if db.dirty:  # the session's last_seen_at moved on (once a minute): keep it
        db.commit()
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


def api_principal(request: Request, db: DbSession) -> Principal:
    """Return the principal of the request's `Authorization: Bearer` API token; raise LoginRequired."""
    header = request.headers.get("authorization", "")
    scheme, _sep, value = header.partition(" ")
    principal = None
    if scheme.lower() == "bearer" and value:
        principal = auth_service.token_principal(db=db, value=value.strip())
        if db.dirty:  # the token's last_used_at moved on (once a minute): keep it
            db.commit()
    if principal is None:
        raise LoginRequired()
    request.state.principal = principal
    return principal


ApiPrincipal = Annotated[Principal, Depends(api_principal)]

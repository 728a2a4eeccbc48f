"""Imports every domain's tables so Base.metadata is complete (for Alembic and tests)."""

from app.auth.models import Organisation, User, UserSession

__all__ = ["Organisation", "User", "UserSession"]

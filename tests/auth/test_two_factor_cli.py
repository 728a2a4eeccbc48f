"""`witaj users reset-two-factor`: the way out for a lost phone (and lost recovery codes), audited, with
one clear line; and the migration of the second factor on a database with data, both ways."""

from __future__ import annotations

import pyotp
from click.testing import CliRunner
from sqlalchemy import func, select

from app import integrity, migrations
from app.auth import service
from app.auth import two_factor as second_factor
from app.auth.enums import OrgKind, PendingStep, Role
from app.auth.models import PendingSignIn, RecoveryCode, TwoFactor, User, UserSession
from app.cases.models import AuditEntry
from app.cli import main
from app.db import build_engine, session_factory
from app.demo import load_demo

EMAIL = "anna@example.org"
PASSWORD = "long enough password"  # noqa: S105 - a test account


def enrol(db, settings, user):
    two_factor = second_factor.begin_enrolment(db=db, user=user, settings=settings)
    totp = pyotp.TOTP(second_factor.secret_of(two_factor, settings))
    second_factor.confirm_enrolment(db=db, user=user, code=totp.now(), address="office", settings=settings)


def test_reset_two_factor_removes_it_ends_the_sessions_and_is_audited(tmp_path, settings):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = build_engine(url)
    migrations.upgrade(engine)
    with session_factory(engine, write=True)() as db:
        office = service.ensure_organisation(db=db, slug="office", name="Office", kind=OrgKind.office)
        user = service.create_user(
            db=db,
            email=EMAIL,
            display_name="Anna",
            password=PASSWORD,
            role=Role.admin,
            organisation=office,
        )
        enrol(db, settings, user)
        service.start_session(db=db, user=user, settings=settings)
        db.commit()
        user_id = user.id
    runner = CliRunner()
    env = {"WITAJ_DATABASE_URL": url, "WITAJ_TWO_FACTOR_ROLES": "admin,supervisor"}
    result = runner.invoke(main, ["users", "reset-two-factor", "--email", "Anna@Example.org"], env=env)
    assert result.exit_code == 0, result.output
    assert (
        result.output == f"two-factor sign-in reset for {EMAIL}: they set it up again at their next sign-in\n"
    )
    with session_factory(engine)() as db:
        assert db.get(TwoFactor, user_id) is None
        assert db.scalar(select(func.count()).select_from(RecoveryCode)) == 0
        assert db.scalar(select(func.count()).select_from(PendingSignIn)) == 0
        revoked = db.scalars(select(UserSession.revoked_at)).all()
        assert revoked and all(revoked)  # every session of the user ended
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "two_factor_reset")).one()
        assert entry.detail == {"user_id": user_id} and entry.actor_kind == "system"
    unknown = runner.invoke(main, ["users", "reset-two-factor", "--email", "nobody@example.org"], env=env)
    assert unknown.exit_code == 2 and "no user with e-mail address" in unknown.output
    engine.dispose()


def test_the_migration_goes_down_and_up_on_a_database_with_second_factors(fresh_engine, settings):
    """0007 adds tables only: down to 0006 and up again keeps every user and case, and the second
    factor starts empty (users whose role requires it set it up again)."""
    factory = session_factory(fresh_engine, write=True)
    with factory() as db:
        load_demo(db=db, settings=settings)
        for user in db.scalars(select(User)).all():
            enrol(db, settings, user)
            second_factor.start_pending(db=db, user=user, step=PendingStep.code)
        db.commit()
        users = db.scalar(select(func.count()).select_from(User))
        assert db.scalar(select(func.count()).select_from(TwoFactor)) == users
    migrations.downgrade(fresh_engine, "0006")
    with fresh_engine.connect() as conn:
        assert not fresh_engine.dialect.has_table(conn, "user_two_factor")
    migrations.upgrade(fresh_engine)
    with factory() as db:
        assert db.scalar(select(func.count()).select_from(User)) == users
        assert db.scalar(select(func.count()).select_from(TwoFactor)) == 0
        assert integrity.check(db=db) == []
        admin = db.scalar(select(User).where(User.role == Role.admin))
        enrol(db, settings, admin)
        db.commit()
        assert second_factor.enabled(db=db, user=admin)

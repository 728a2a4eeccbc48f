"""The `witaj` command: serve, db, i18n, users, demo, jobs, tokens, webhooks, and each domain's own
commands (cases, partners, dialogues, mt, forms)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click
import uvicorn
from babel.support import Translations
from jinja2 import TemplateSyntaxError
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app import i18n_tools, integrity, migrations
from app.appointments import content as appointment_content
from app.appointments.cli import appointments as appointments_commands
from app.assistant.cli import channels as channels_commands
from app.assistant.cli import dialogues as dialogues_commands
from app.assistant.data import load_dialogues
from app.assistant.knowledge import load_knowledge
from app.auth import service as auth_service
from app.auth import two_factor as second_factor
from app.auth.enums import OrgKind, Role
from app.auth.models import Organisation, User
from app.cases import access as case_access
from app.cases.cli import cases as cases_commands
from app.cases.content import case_content, check_time_zone
from app.cases.models import CaseFile
from app.cli_helpers import checked_engine, clear_errors, fail, settings_or_exit
from app.config import Settings
from app.content import ContentError, ContentErrors
from app.db import safe_url, session_factory
from app.demo import load_demo
from app.errors import InvalidInput
from app.forms import service as forms_service
from app.forms.cli import forms as forms_commands
from app.i18n import set_locale
from app.jobs import run_once
from app.languages import KNOWN_LOCALES
from app.migrations_check import current_revision, pending_migrations
from app.partners import service as partner_service
from app.partners.cli import partners as partners_commands
from app.reports.cli import reports as reports_commands
from app.translation.base import TranslationError
from app.translation.cli import mt as mt_commands
from app.translation.service import get_service
from app.web import environment
from app.webhooks import service as webhook_service

log = logging.getLogger("witaj")


def migrated_engine(settings: Settings) -> Engine:
    """Return the engine after checking the database answers and is migrated to the newest revision."""
    engine = checked_engine(settings)
    pending = pending_migrations(engine)
    if pending:
        fail(f"the database is not up to date ({len(pending)} migration(s) pending): run `witaj db upgrade`")
    return engine


def write_session(settings: Settings) -> Session:
    """Return a write session on the checked, migrated database, for commands that change data."""
    return session_factory(migrated_engine(settings), write=True)()


@click.group()
@click.version_option(package_name="witaj")
def main() -> None:
    """Witaj: the city's assistant, case tracker and forms for newcomers."""
    # Messages from services (validation errors) follow the shell's language, English by default.
    lang = (os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES") or os.environ.get("LANG") or "").split("_")[0]
    set_locale(lang if lang in KNOWN_LOCALES else "en")


# --- serve -------------------------------------------------------------------------------------


@main.command()
@click.option("--host", default=None, help="Address to listen on (default: WITAJ_HOST).")
@click.option("--port", default=None, type=int, help="Port (default: WITAJ_PORT).")
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(min=1),
    help="Server processes (default: WITAJ_WORKERS, 1). More use more cores; each runs the jobs loop.",
)
@clear_errors
def serve(host: str | None, port: int | None, reload: bool, workers: int | None) -> None:
    """Check configuration and database, then serve the app."""
    settings = settings_or_exit()
    _check_content(settings)
    with write_session(settings) as session:
        # The office owns every new case: it exists from the first start, staff users or not.
        auth_service.ensure_organisation(
            db=session, slug=settings.office_slug, name=settings.office_name, kind=OrgKind.office, rename=False
        )
        session.commit()
    click.echo(get_service(settings).describe())
    click.echo(f"Witaj serves on http://{host or settings.host}:{port or settings.port}")
    uvicorn.run(
        "app.main:app_factory",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        reload=reload,
        workers=None if reload else (workers or settings.workers),
        proxy_headers=True,
        # Off unless asked for: request lines can carry personal data (search queries, case
        # references), and formatting one costs about a tenth of a chat turn's CPU.
        access_log=settings.access_log,
    )


def _check_content(settings: Settings) -> None:
    """Stop with every content error (file:line: message) before serving broken content: the content
    folders, and every template and compiled catalog, which would otherwise fail only when the page
    that uses them is first shown."""
    problems: list[ContentError] = []
    for check in (
        case_content,
        check_time_zone,
        partner_service.directory,
        appointment_content.catalogue,
        lambda s: load_dialogues(s.content_dir / "dialogues"),
        load_knowledge,
        forms_service.forms,
    ):
        try:
            check(settings)
        except ContentErrors as exc:
            problems.extend(exc.errors)
        except ContentError as exc:
            problems.append(exc)
    problems.extend(_template_problems(settings))
    problems.extend(_catalog_problems(settings))
    if problems:
        click.echo(str(ContentErrors(problems)), err=True)
        fail(
            "content is broken; fix the lines above "
            "(witaj cases validate, witaj partners validate, witaj appointments validate, witaj dialogues validate, witaj forms validate, "
            "witaj i18n compile)"
        )


def _template_problems(settings: Settings) -> list[ContentError]:
    """Return a file:line problem for every template that does not compile (syntax, unknown filter)."""
    env = environment(str(settings.template_path))
    problems = []
    for name in env.list_templates(extensions=["html"]):
        try:
            env.get_template(name)
        except TemplateSyntaxError as exc:
            problems.append(ContentError(settings.template_path / name, exc.lineno or 0, exc.message or str(exc)))
    return problems


#: Problems of an incomplete catalog shown at start-up (the rest: `witaj i18n check --locale ...`).
SHOWN_CATALOG_PROBLEMS = 5


def _catalog_problems(settings: Settings) -> list[ContentError]:
    """Return a problem for every enabled locale (WITAJ_LOCALES) whose catalog is not complete (as
    `witaj i18n check` says: missing, fuzzy, placeholders, plural forms) or whose compiled catalog
    (.mo) cannot be read: a half-translated language is refused, never shown half in English."""
    problems = []
    for code in settings.locales:
        mine = i18n_tools.check(settings.locale_path, [code])
        for problem in mine[:SHOWN_CATALOG_PROBLEMS]:
            detail = f" ({problem.detail})" if problem.detail else ""
            message = f"{problem.kind}: {problem.msgid[:60]!r}{detail}"
            problems.append(ContentError(problem.path, problem.line, message))
        if mine:
            hidden = len(mine) - SHOWN_CATALOG_PROBLEMS
            more = f" ({hidden} more)" if hidden > 0 else ""
            message = (
                f"locale {code} is enabled (WITAJ_LOCALES) but its catalog is not complete{more}: finish it "
                f"(witaj i18n check --locale {code}) or leave {code} out of WITAJ_LOCALES"
            )
            problems.append(ContentError(mine[0].path, 0, message))
    for code in settings.locales:
        path = settings.locale_path / code / "LC_MESSAGES" / "messages.mo"
        if not path.exists():
            continue  # the .po is read instead
        try:
            with path.open("rb") as fp:
                Translations(fp)
        except Exception as exc:  # noqa: BLE001 - any unreadable catalog stops start-up with its name
            problems.append(ContentError(path, 0, f"not a compiled catalog ({type(exc).__name__}): run witaj i18n compile"))
    return problems


# --- db ----------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.argument("revision", default="head")
@clear_errors
def db_upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: head)."""
    settings = settings_or_exit()
    migrations.upgrade(checked_engine(settings), revision)
    click.echo(f"database {safe_url(settings.database_url)} is at {revision}")


@db.command("downgrade")
@click.argument("revision")
@clear_errors
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (use 'base' for empty)."""
    migrations.downgrade(checked_engine(settings_or_exit()), revision)


@db.command("current")
@clear_errors
def db_current() -> None:
    """Print the database's migration revision."""
    engine = checked_engine(settings_or_exit())
    click.echo(current_revision(engine) or "empty")
    pending = pending_migrations(engine)
    if pending:
        click.echo(f"pending: {', '.join(pending)}")


@db.command("check")
@clear_errors
def db_check() -> None:
    """Check that every case's state equals the projection of its events, that foreign keys hold and
    that the history tables are still append-only; print each problem and exit 1 if any."""
    engine = migrated_engine(settings_or_exit())
    with session_factory(engine)() as session:
        problems = integrity.check(db=session)
        cases = session.scalar(select(func.count()).select_from(CaseFile)) or 0
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        click.echo(f"{len(problems)} problem(s)", err=True)
        sys.exit(1)
    click.echo(f"ok: {cases} cases match their history; foreign keys hold; history tables are append-only")


@db.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@clear_errors
def db_backup(target: Path) -> None:
    """Copy a SQLite database to TARGET while it runs (PostgreSQL: use pg_dump, see the README)."""
    try:
        written = integrity.backup(engine=checked_engine(settings_or_exit()), target=target)
    except ValueError as exc:
        fail(str(exc))
    click.echo(f"backed up to {written}; check it with WITAJ_DATABASE_URL=sqlite:///{written.resolve()} witaj db check")


# --- i18n --------------------------------------------------------------------------------------


@main.group()
def i18n() -> None:
    """Translation catalogs in locales/."""


def _locales_dir() -> Path:
    return settings_or_exit().locale_path


@i18n.command("extract")
@clear_errors
def i18n_extract() -> None:
    """Extract every translatable string into locales/messages.pot."""
    settings = settings_or_exit()
    template = i18n_tools.extract(settings.content_dir, settings.locale_path)
    click.echo(f"{len(template)} messages written to {settings.locale_path / 'messages.pot'}")


@i18n.command("update")
@click.option("--locale", "locales", multiple=True, help="Only this locale (repeatable).")
@clear_errors
def i18n_update(locales: tuple[str, ...]) -> None:
    """Merge messages.pot into every locale's .po file."""
    for path in i18n_tools.update(_locales_dir(), locales or KNOWN_LOCALES):
        click.echo(f"updated {path}")


@i18n.command("compile")
@clear_errors
def i18n_compile() -> None:
    """Build the .mo files from the .po files."""
    written = i18n_tools.compile_catalogs(_locales_dir())
    click.echo(f"compiled {len(written)} catalogs")


@i18n.command("check")
@click.option("--locale", "locales", multiple=True, help="Only this locale (repeatable).")
@clear_errors
def i18n_check(locales: tuple[str, ...]) -> None:
    """Fail on untranslated or fuzzy messages, differing placeholders or missing plural forms."""
    settings = settings_or_exit()
    chosen = locales or tuple(settings.locales)
    problems = i18n_tools.check(settings.locale_path, chosen)
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        click.echo(f"{len(problems)} problem(s) in {', '.join(chosen)}", err=True)
        sys.exit(1)
    click.echo(f"complete: {', '.join(chosen)}")


@i18n.command("pretranslate")
@click.option("--locale", "locale", required=True, help="The locale to fill, e.g. uk.")
@clear_errors
def i18n_pretranslate(locale: str) -> None:
    """Fill empty messages of a locale with machine translations marked fuzzy, for human review."""
    settings = settings_or_exit()
    if locale not in KNOWN_LOCALES:
        fail(f"unknown locale {locale!r}; choose from {', '.join(KNOWN_LOCALES)}")
    service = get_service(settings)

    def translate(text: str, source: str, target: str) -> tuple[str, str] | None:
        try:
            result = service.translate(text, source, target)
        except TranslationError:
            return None
        return (result.text, f"{result.engine} {result.model_version}") if result.machine else None

    filled, skipped = i18n_tools.pretranslate(settings.locale_path, locale, translate)
    click.echo(f"{locale}: {filled} message(s) machine-translated and marked fuzzy, {skipped} left empty")
    if filled:
        click.echo("review them (they are fuzzy), then run `witaj i18n check`")


# --- users -------------------------------------------------------------------------------------


@main.group()
def users() -> None:
    """Staff accounts."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--name", "display_name", required=True, help="Display name.")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--org", "org_slug", default=None, help="Organisation slug (default: the city office).")
@click.option("--password", default=None, help="Password; a random one is generated and printed when left out.")
@clear_errors
def users_create(email: str, display_name: str, role: str, org_slug: str | None, password: str | None) -> None:
    """Create a staff user."""
    settings = settings_or_exit()
    generated = password is None
    password = password or auth_service.generate_password()
    with write_session(settings) as session:
        if org_slug is None:
            org = auth_service.ensure_organisation(
                db=session, slug=settings.office_slug, name=settings.office_name, kind=OrgKind.office
            )
        else:
            found = auth_service.get_organisation(db=session, slug=org_slug)
            if found is None:
                fail(f"no organisation with slug {org_slug!r} (load partners with `witaj demo load` first)")
            org = found
        try:
            user = auth_service.create_user(
                db=session, email=email, display_name=display_name, password=password, role=Role(role), organisation=org
            )
        except InvalidInput as exc:
            fail("; ".join(f"{k}: {v}" for k, v in exc.field_errors.items()))
        session.commit()
        click.echo(f"created {user.email} ({user.role.value}) in {org.name}")
        if generated:
            click.echo(f"password (shown once): {password}")


@users.command("reset-two-factor")
@click.option("--email", required=True)
@clear_errors
def users_reset_two_factor(email: str) -> None:
    """Remove a user's second factor and recovery codes (a lost phone) and end their sessions."""
    settings = settings_or_exit()
    with write_session(settings) as session:
        user = session.scalar(select(User).where(User.email == auth_service.normalise_email(email)))
        if user is None:
            fail(f"no user with e-mail address {email!r}")
        had = second_factor.reset(db=session, user=user)
        case_access.audit(db=session, principal=None, action="two_factor_reset", detail={"user_id": user.id})
        session.commit()
        # The log line names the account by id only: logs must carry no personal data.
        log.info("second factor reset for user %s", user.id)
    if not had:
        click.echo(f"{user.email} had no second factor; their sessions were ended anyway")
    elif second_factor.required(user=user, settings=settings):
        click.echo(f"two-factor sign-in reset for {user.email}: they set it up again at their next sign-in")
    else:
        click.echo(f"two-factor sign-in reset for {user.email}: they sign in with their password only")


# --- demo --------------------------------------------------------------------------------------


@main.group()
def demo() -> None:
    """Demo content for trying Witaj out."""


@demo.command("load")
@clear_errors
def demo_load() -> None:
    """Create the city office, the demo partners and demo staff users (passwords printed once)."""
    settings = settings_or_exit()
    with write_session(settings) as session:
        report = load_demo(db=session, settings=settings)
        session.commit()
    for line in report:
        click.echo(line)


# --- jobs, tokens, webhooks -------------------------------------------------------------------------


@main.group()
def jobs() -> None:
    """Periodic work (the app also runs it every WITAJ_JOBS_INTERVAL_SECONDS)."""


@jobs.command("run")
@clear_errors
def jobs_run() -> None:
    """Fire due workflow timers (escalation, auto-close) and post due webhooks, once."""
    settings = settings_or_exit()
    counts = run_once(engine=migrated_engine(settings), settings=settings)
    click.echo(", ".join(f"{k}: {v}" for k, v in counts.items()))


def _organisation(session: Session, slug: str) -> Organisation:
    org = auth_service.get_organisation(db=session, slug=slug)
    if org is None:
        fail(f"no organisation with slug {slug!r}")
    return org


@main.group()
def tokens() -> None:
    """API tokens of organisations, for /api/v1."""


@tokens.command("create")
@click.option("--org", "org_slug", required=True, help="Organisation slug.")
@click.option("--name", required=True, help="What the token is for, e.g. 'CRM'.")
@clear_errors
def tokens_create(org_slug: str, name: str) -> None:
    """Create an API token; its value is printed once."""
    with write_session(settings_or_exit()) as session:
        token, value = auth_service.create_api_token(db=session, organisation=_organisation(session, org_slug), name=name)
        session.commit()
        click.echo(f"token {token.prefix}… for {org_slug} (shown once): {value}")


@main.group()
def webhooks() -> None:
    """Signed webhooks to partners' systems."""


@webhooks.command("add")
@click.option("--org", "org_slug", required=True, help="Organisation slug.")
@click.option("--url", required=True, help="Where to post (https://...).")
@clear_errors
def webhooks_add(org_slug: str, url: str) -> None:
    """Register an endpoint; its signing secret is printed once."""
    settings = settings_or_exit()
    with write_session(settings) as session:
        try:
            endpoint, secret = webhook_service.create_endpoint(
                db=session, settings=settings, organisation_id=_organisation(session, org_slug).id, url=url
            )
        except InvalidInput as exc:
            fail("; ".join(exc.field_errors.values()))
        session.commit()
        click.echo(f"endpoint {endpoint.id} for {org_slug}; signing secret (shown once): {secret}")


main.add_command(cases_commands)
main.add_command(partners_commands)
main.add_command(appointments_commands)
main.add_command(reports_commands)
main.add_command(dialogues_commands)
main.add_command(channels_commands)
main.add_command(mt_commands)
main.add_command(forms_commands)


if __name__ == "__main__":
    main()

"""The `witaj` command: users, demo content, and one clear line when the database is unreachable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.auth.models import Organisation, User
from app.db import build_engine, session_factory, utcnow

ROOT = Path(__file__).resolve().parent.parent


def run_witaj(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_unreachable_database_stops_with_one_clear_line():
    env = {"WITAJ_DATABASE_URL": "postgresql+psycopg://witaj:secret@127.0.0.1:1/nothing"}
    result = run_witaj("db", "upgrade", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot reach the database" in lines[0] and "WITAJ_DATABASE_URL" in lines[0]
    assert "secret" not in lines[0]  # the password is never printed


def test_broken_config_stops_with_one_clear_line():
    result = run_witaj("serve", env={"WITAJ_TIME_ZONE": "Nowhere/Else"})
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "WITAJ_TIME_ZONE" in result.stderr


def test_migrate_demo_and_users_on_a_fresh_database(tmp_path):
    from click.testing import CliRunner

    from app.cli import main

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {"WITAJ_DATABASE_URL": url}
    assert run_witaj("db", "upgrade", env=env).returncode == 0  # the installed command, once
    # The rest in this process (each `witaj` process spends a second and a half importing the app).
    runner = CliRunner()

    def witaj(*args: str):
        return runner.invoke(main, list(args), env=env)

    first = witaj("demo", "load")
    assert first.exit_code == 0, first.output
    assert "passwords are shown only this once" in first.stdout
    assert "caseworker@witaj.example" in first.stdout
    second = witaj("demo", "load")
    assert "passwords are shown only this once" not in second.stdout and "password unchanged" in second.stdout

    created = witaj("users", "create", "--email", "Nowa@Example.org", "--name", "Nowa", "--role", "caseworker")
    assert created.exit_code == 0, created.output
    assert "password (shown once):" in created.stdout
    duplicate = witaj("users", "create", "--email", "nowa@example.org", "--name", "N", "--role", "caseworker")
    assert duplicate.exit_code == 2 and "already exists" in duplicate.stderr

    # The demo cases' month published twice for a city's portal: the same bytes, a valid package.
    month = utcnow().astimezone(ZoneInfo("Europe/Warsaw")).strftime("%Y-%m")
    for out in ("a", "b"):
        published = witaj("reports", "publish", "--period", month, "--out", str(tmp_path / out))
        assert published.exit_code == 0, published.output
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert {"datapackage.json", "catalog.rdf", "cases-by-category.csv"} <= set(files)
    assert all((tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes() for name in files)
    assert "chat" in (tmp_path / "a" / "cases-by-source.csv").read_text()
    refused = witaj("reports", "publish", "--period", "2026-13", "--out", str(tmp_path / "c"))
    assert refused.exit_code == 2 and "--period must be a month" in refused.stderr

    engine = build_engine(url)
    with session_factory(engine)() as session:
        office = session.scalar(select(Organisation).where(Organisation.slug == "gup-krakow"))
        assert office is not None and office.kind.value == "office"
        user = session.scalar(select(User).where(User.email == "nowa@example.org"))
        assert user.organisation_id == office.id
        partners = session.scalars(select(Organisation).where(Organisation.kind == "partner")).all()
        partner_files = list((ROOT / "partners").glob("*.yml"))
        assert len(partners) == len(partner_files)
    engine.dispose()


def test_serve_refuses_an_unmigrated_database(tmp_path):
    from click.testing import CliRunner

    from app import cli

    # In this process (the installed command's own start is tested above): no second import of the app.
    result = CliRunner().invoke(cli.main, ["serve"], env={"WITAJ_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"})
    assert result.exit_code == 2 and "witaj db upgrade" in result.stderr


def test_serve_refuses_a_broken_template_or_catalog_before_it_serves(tmp_path):
    """Templates and compiled catalogs are checked at start-up, each problem at its file and line,
    instead of failing when someone first opens the page that uses them."""
    import shutil

    from click.testing import CliRunner

    from app.cli import main

    templates = Path(shutil.copytree(ROOT / "templates", tmp_path / "templates"))
    page = templates / "partners" / "directory.html"
    lines = page.read_text(encoding="utf-8").splitlines()
    lines.insert(2, "{% if unclosed %}")
    lines.append("{{ 'x'|no_such_filter }}")
    page.write_text("\n".join(lines) + "\n", encoding="utf-8")
    locales = Path(shutil.copytree(ROOT / "locales", tmp_path / "locales"))
    (locales / "uk" / "LC_MESSAGES" / "messages.mo").write_bytes(b"\xde\x12\x04\x95 not a catalog")
    env = {"WITAJ_TEMPLATES_DIR": str(templates), "WITAJ_LOCALES_DIR": str(locales)}
    result = CliRunner().invoke(main, ["serve", "--port", "1"], env=env)
    assert result.exit_code == 2, result.output
    assert f"{page}:" in result.output and "content is broken" in result.output
    assert f"{locales / 'uk' / 'LC_MESSAGES' / 'messages.mo'}:0: not a compiled catalog" in result.output


def test_serve_refuses_an_enabled_locale_whose_catalog_is_not_complete(tmp_path, monkeypatch):
    """A half-translated language is refused at start-up with its file and line (WITAJ_LOCALES picks
    the languages a city shows); left out of WITAJ_LOCALES, the rest starts."""
    import shutil

    from babel.messages.pofile import read_po, write_po
    from click.testing import CliRunner

    from app import cli

    locales = Path(shutil.copytree(ROOT / "locales", tmp_path / "locales"))
    po = locales / "es" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as handle:
        catalog = read_po(handle, locale="es")
    emptied = [m for m in catalog if m.id and not m.pluralizable][:7]
    for message in emptied:
        message.string = ""
    with po.open("wb") as handle:
        write_po(handle, catalog, width=0)
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert CliRunner().invoke(cli.main, ["db", "upgrade"], env={"WITAJ_DATABASE_URL": url}).exit_code == 0
    served = []
    monkeypatch.setattr(cli.uvicorn, "run", lambda *args, **kwargs: served.append(kwargs))
    env = {"WITAJ_DATABASE_URL": url, "WITAJ_LOCALES_DIR": str(locales), "WITAJ_LOCALES": "pl,es,en"}
    result = CliRunner().invoke(cli.main, ["serve", "--port", "1"], env=env)
    assert result.exit_code == 2 and not served, result.output
    assert "locale es is enabled (WITAJ_LOCALES) but its catalog is not complete (2 more)" in result.output
    first = next(m for m in read_po(po.open("rb"), locale="es") if m.id == emptied[0].id)
    assert f"{po}:{first.lineno}: untranslated: {emptied[0].id[:60]!r}" in result.output
    env["WITAJ_LOCALES"] = "pl,en"
    result = CliRunner().invoke(cli.main, ["serve", "--port", "1"], env=env)
    assert result.exit_code == 0, result.output
    assert served


def test_serve_creates_the_office_on_a_fresh_install(tmp_path, monkeypatch):
    """A fresh install where no staff user exists yet still hands chats over: the office that owns
    new cases exists from the first start."""
    from click.testing import CliRunner

    from app import cli
    from app.config import get_settings

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert CliRunner().invoke(cli.main, ["db", "upgrade"], env={"WITAJ_DATABASE_URL": url}).exit_code == 0
    served = []
    monkeypatch.setattr(cli.uvicorn, "run", lambda *args, **kwargs: served.append(kwargs))
    result = CliRunner().invoke(cli.main, ["serve", "--port", "1"], env={"WITAJ_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert served
    engine = build_engine(url)
    with engine.connect() as conn:
        office = conn.execute(select(Organisation.slug, Organisation.kind)).all()
    engine.dispose()
    assert office == [(get_settings().office_slug, "office")]

"""`witaj cases ...`: check the case content in cases/ (workflow, categories, routing)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from app.cases import service
from app.cases.content import ContentErrors, load_case_content
from app.config import ConfigError, Settings, load_settings
from app.content import ContentError


def settings_or_exit() -> Settings:
    """Return the settings, or print the configuration error and exit with status 2."""
    try:
        return load_settings()
    except ConfigError as exc:
        click.echo(f"witaj: {exc}", err=True)
        sys.exit(2)


def _shown(path: str) -> str:
    # Relative to the working directory when possible, so editors and terminals can open the file.
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path


def exit_with(problems: ContentErrors, what: str) -> NoReturn:
    """Print every problem as `file:line: message` and a count on stderr, then exit with status 1."""
    for error in problems.errors:
        click.echo(f"{_shown(error.path)}:{error.line}: {error.message}", err=True)
    click.echo(f"{len(problems.errors)} problem(s) in {what}", err=True)
    sys.exit(1)


@click.group("cases")
def cases() -> None:
    """The case tracker's content: cases/workflow.yml, categories.yml, routing.yml."""


@cases.command("validate")
def validate() -> None:
    """Check cases/*.yml and print every problem with its file and line."""
    settings = settings_or_exit()
    folder = settings.content_dir / "cases"
    try:
        content = load_case_content(folder)
        service.check_settings(settings)
    except ContentErrors as exc:
        exit_with(exc, str(folder))
    except ContentError as exc:
        exit_with(ContentErrors([exc]), str(folder))
    workflow = content.workflow
    click.echo(
        f"ok: {len(content.categories)} categories, {len(workflow.statuses)} statuses, "
        f"{len(workflow.transitions)} transitions"
    )

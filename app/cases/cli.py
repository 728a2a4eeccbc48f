"""`witaj cases ...`: check the case content in cases/ (workflow, categories, routing)."""

from __future__ import annotations

import click

from app.cases.content import check_time_zone, load_case_content
from app.cli_helpers import exit_with, settings_or_exit
from app.content import ContentError, ContentErrors


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
        check_time_zone(settings)
    except ContentErrors as exc:
        exit_with(exc, str(folder))
    except ContentError as exc:
        exit_with(ContentErrors([exc]), str(folder))
    workflow = content.workflow
    click.echo(
        f"ok: {len(content.categories)} categories, {len(workflow.statuses)} statuses, "
        f"{len(workflow.transitions)} transitions"
    )

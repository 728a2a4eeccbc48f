"""`witaj forms ...`: check the city forms in forms/ and export them as XLSForms."""

from __future__ import annotations

from pathlib import Path

import click

from app.cases.content import load_case_content
from app.cli_helpers import exit_with, settings_or_exit
from app.config import Settings
from app.content import ContentErrors
from app.forms.content import FormDef, load_forms
from app.forms.xlsform import write_xlsform


@click.group("forms")
def forms() -> None:
    """The city forms: forms/<form-id>.yml."""


def _load(settings: Settings) -> dict[str, FormDef]:
    folder = settings.content_dir / "forms"
    try:
        cc = load_case_content(settings.content_dir / "cases")
        return load_forms(folder, categories=cc.categories, districts=cc.districts)
    except ContentErrors as exc:
        exit_with(exc, str(folder))


@forms.command("validate")
def validate() -> None:
    """Check forms/*.yml and print every problem with its file and line."""
    loaded = _load(settings_or_exit())
    fields = sum(len(form.fields) for form in loaded.values())
    click.echo(f"ok: {len(loaded)} forms, {fields} fields")


@forms.command("export-xlsform")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--form", "form_ids", multiple=True, help="Only this form (repeatable).")
def export_xlsform(folder: Path, form_ids: tuple[str, ...]) -> None:
    """Write each form as FOLDER/<form-id>.xlsx, an XLSForm with one label column per language."""
    settings = settings_or_exit()
    loaded = _load(settings)
    unknown = [f for f in form_ids if f not in loaded]
    if unknown:
        raise click.UsageError(f"no such form: {', '.join(unknown)} (known: {', '.join(sorted(loaded))})")
    folder.mkdir(parents=True, exist_ok=True)
    for form_id in form_ids or sorted(loaded):
        path = write_xlsform(loaded[form_id], folder / f"{form_id}.xlsx", locales=settings.locales)
        click.echo(f"wrote {path}")

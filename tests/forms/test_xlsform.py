"""`witaj forms export-xlsform`: every form converts with pyxform, with a label column per language."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from pyxform.xls2xform import convert

from app.cli import main
from app.config import get_settings
from app.forms import service
from tests.forms.answers import ANSWERS

LANGUAGES = ["Polski (pl)", "Українська (uk)", "Русский (ru)", "English (en)", "Беларуская (be)"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("xlsform")
    result = CliRunner().invoke(main, ["forms", "export-xlsform", str(folder)])
    assert result.exit_code == 0, result.output
    return folder


@pytest.mark.parametrize("form_id", sorted(ANSWERS))
def test_each_exported_form_converts_with_pyxform(exported, form_id):
    path = exported / f"{form_id}.xlsx"
    warnings: list[str] = []
    result = convert(xlsform=str(path), warnings=warnings, validate=False)
    xml = result.xform
    version = service.get_form(settings=get_settings(), form_id=form_id).version
    assert f'id="{form_id}"' in xml and f'version="{version}"' in xml
    for language in LANGUAGES:
        assert (
            f'<translation lang="{language}"' in xml
            or f'<translation default="true()" lang="{language}"' in xml
        )
    sheet = load_workbook(path)["survey"]
    header = [cell.value for cell in sheet[1]]
    for language in LANGUAGES:
        assert f"label::{language}" in header
    assert "relevant" in header and "constraint" in header


def test_skip_logic_and_labels_survive_the_export(exported):
    xml = convert(xlsform=str(exported / "pomoc-organizacji.xlsx"), validate=False).xform
    assert "relevant=\" /data/sprawa/rodzaj_pomocy  = 'psychologiczna'\"" in xml
    assert "Jakiej pomocy potrzebujesz?" in xml and "Якої допомоги ви потребуєте?" in xml
    assert "What kind of help do you need?" in xml and "Якая дапамога вам патрэбна?" in xml


def test_one_form_only_and_unknown_forms(tmp_path):
    runner = CliRunner()
    one = runner.invoke(main, ["forms", "export-xlsform", str(tmp_path), "--form", "pismo-ogolne"])
    assert one.exit_code == 0 and [p.name for p in tmp_path.iterdir()] == ["pismo-ogolne.xlsx"]
    unknown = runner.invoke(main, ["forms", "export-xlsform", str(tmp_path), "--form", "nope"])
    assert unknown.exit_code == 2 and "no such form: nope" in unknown.output


def test_a_date_asked_in_three_boxes_is_exported_without_a_calendar(exported):
    """The date of birth is asked as day, month and year on the web (`appearance: no-calendar`);
    ODK Collect and KoboToolbox get the same appearance, and other dates keep their calendar."""
    sheet = load_workbook(exported / "gup-rejestracja.xlsx")["survey"]
    header = [cell.value for cell in sheet[1]]
    rows = {row[header.index("name")]: dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["data_urodzenia"]["type"] == "date" and rows["data_urodzenia"]["appearance"] == "no-calendar"
    assert rows["pobyt_wazny_do"]["type"] == "date" and not rows["pobyt_wazny_do"]["appearance"]
    xml = convert(xlsform=str(exported / "gup-rejestracja.xlsx"), validate=False).xform
    assert 'appearance="no-calendar"' in xml

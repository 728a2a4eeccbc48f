"""forms/*.yml: the shipped forms load, and every broken form is reported with file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cases.content import load_case_content
from app.cli import main
from app.config import PROJECT_ROOT
from app.content import ContentErrors
from app.forms.content import FIELD_TYPES, load_forms

CASES = load_case_content(PROJECT_ROOT / "cases")
FORM_IDS = [
    "biblioteka-karta",
    "gup-rejestracja",
    "kurs-jezyka-polskiego",
    "pismo-ogolne",
    "pomoc-organizacji",
    "program-kulturalny",
]

GOOD = """\
id: sample
version: 1
title: Formularz
category: other
client:
  name: [imie]
sections:
  - id: s
    title: Sekcja
    fields:
      - name: imie
        type: text
        label: Imię
        required: true
"""


def more(fields: str) -> str:
    """Return GOOD with more fields (written without indentation) in its one section."""
    return GOOD + textwrap.indent(textwrap.dedent(fields), " " * 6)


def load(tmp_path: Path, text: str, name: str = "sample.yml"):
    (tmp_path / name).write_text(text, encoding="utf-8")
    return load_forms(tmp_path, categories=CASES.categories, districts=CASES.districts)


def errors_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ContentErrors) as caught:
        load(tmp_path, text)
    return [f"{Path(e.path).name}:{e.line}: {e.message}" for e in caught.value.errors]


def test_shipped_forms_load():
    forms = load_forms(PROJECT_ROOT / "forms", categories=CASES.categories, districts=CASES.districts)
    assert sorted(forms) == FORM_IDS
    used = {f.type for form in forms.values() for f in form.fields.values()}
    assert used == set(FIELD_TYPES)  # the reference forms use every kind of question
    for form in forms.values():
        assert form.client.get("name"), form.id
        assert any(f.relevant for f in form.fields.values()) or any(s.relevant for s in form.sections), (
            form.id
        )


def test_a_good_minimal_form(tmp_path):
    form = load(tmp_path, GOOD)["sample"]
    assert form.fields["imie"].required and form.version == 1


def test_every_problem_is_reported_with_its_line(tmp_path):
    broken = (
        more(
            """\
              - name: imie
                type: colour
                label: Kolor
              - name: wiek
                type: number
                label: Wiek
                relevant: ${nieznane} = 'x'
                constraints:
                  - pattern: '[0-9]+'
                    message: Tylko cyfry.
              - name: jezyki
                type: multiselect
                label: Języki
                choices:
                  - {value: pl, label: polski}
                  - {value: uk, label: ukraiński}
              - name: inny
                type: text
                label: Inny
                relevant: selected(${jezyki}, 'de') and ${wiek} =
        """
        )
        .replace("version: 1", "version: zero")
        .replace("category: other", "category: unknown")
    )
    found = errors_of(tmp_path, broken)
    text = "\n".join(found)
    assert "sample.yml:2: `version` must be a whole number" in text
    assert "sample.yml:4: `category` is 'unknown'" in text
    assert "field name 'imie' is used twice (first on line 11)" in text
    assert "`type` is 'colour'" in text
    assert "${nieznane} is not a field above this one" in text
    assert "a number field cannot have a `pattern` constraint" in text
    assert "unexpected the end at column" in text
    for line in found:
        assert int(line.split(":")[1]) > 0


def test_texts_are_plain_but_expressions_may_compare(tmp_path):
    """Labels, hints, choices and messages are plain text (issue 11); `<` in an expression is an operator."""
    form = more(
        """\
              - name: wiek
                type: number
                label: Wiek <small>(lata)</small>
                help: <script>alert(1)</script>
                constraints:
                  - expression: . < 150
                    message: Wiek musi być < 150.
              - name: dzieci
                type: select
                label: Dzieci
                placeholder: 'x" hx-post="/pl/staff/cases/x/notes'
                choices:
                  - {value: mniej, label: dzieci < 6 lat}
                  - {value: wiecej, label: <a href="/x">6 lat i więcej</a>}
              - name: uwagi
                type: text
                label: Uwagi
                relevant: ${wiek}<18
                constraints:
                  - max_length: 10
                    message: Za długie</b>
        """
    )
    found = errors_of(tmp_path, form)
    lines = form.splitlines()

    def at(marker: str) -> str:
        return f"sample.yml:{next(n for n, line in enumerate(lines, start=1) if marker in line)}"

    # Only the five texts with markup; the `<` of prose and of expressions is no problem.
    assert [line.split(": ", 1)[0] for line in found] == [
        at("<small>"),
        at("<script>"),
        at("hx-post"),  # the placeholder, which a page puts in an attribute
        at("<a href"),
        at("</b>"),
    ], "\n".join(found)
    assert all("content is plain text" in line for line in found)
    assert f"{at('<small>')}: `label` contains markup '<small>'" in "\n".join(found)


def test_expression_checks(tmp_path):
    form = more(
        """\
              - name: jezyki
                type: multiselect
                label: Języki
                choices:
                  - {value: pl, label: polski}
                  - {value: uk, label: ukraiński}
              - name: a
                type: text
                label: A
                relevant: selected(${jezyki}, 'de')
              - name: b
                type: yesno
                label: B
                relevant: ${a} = .
              - name: c
                type: text
                label: C
                relevant: ${b} = 'tak'
              - name: d
                type: date
                label: D
                constraints:
                  - expression: ${d} > today()
                    message: Zła data.
                  - max: tomorrow
                    message: Zła data.
        """
    )
    text = "\n".join(errors_of(tmp_path, form))
    assert "'de' is not a choice of ${jezyki}" in text
    assert "`.` (this field's answer) is only allowed in a constraint" in text
    assert "'tak' is not a choice of ${b}" in text
    assert "write this field's own answer as `.`" in text
    assert "a date limit is a date" in text


def test_id_must_match_the_file_and_yaml_errors_have_lines(tmp_path):
    assert any(
        "`id` is 'sample' but the file is other.yml" in e for e in _errors_named(tmp_path, GOOD, "other.yml")
    )
    assert any(
        e.startswith("sample.yml:5: not valid YAML")
        for e in errors_of(tmp_path, GOOD.replace("title: Formularz", "title: ["))
    )


def _errors_named(tmp_path, text, name):
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(ContentErrors) as caught:
        load_forms(tmp_path, categories=CASES.categories, districts=CASES.districts)
    return [e.message for e in caught.value.errors]


def test_cli_validate(tmp_path, monkeypatch):
    runner = CliRunner()
    ok = runner.invoke(main, ["forms", "validate"])
    assert ok.exit_code == 0, ok.output
    assert "ok: 6 forms" in ok.output
    content = tmp_path / "content"
    (content / "forms").mkdir(parents=True)
    import shutil

    shutil.copytree(PROJECT_ROOT / "cases", content / "cases")
    (content / "forms" / "sample.yml").write_text(GOOD.replace("type: text", "type: txt"), encoding="utf-8")
    monkeypatch.setenv("WITAJ_CONTENT_DIR", str(content))
    broken = runner.invoke(main, ["forms", "validate"])
    assert broken.exit_code == 1
    assert "sample.yml:12: `type` is 'txt'" in broken.output
    assert "1 problem(s)" in broken.output


def test_a_date_may_be_asked_without_a_calendar(tmp_path):
    """`appearance: no-calendar` (XLSForm's word) asks a date people know in three boxes; it is only
    for dates, and the shipped forms ask every date of birth that way."""
    good = load(
        tmp_path,
        more(
            """\
            - name: urodzony
              type: date
              label: Data urodzenia
              appearance: no-calendar
            """
        ),
    )
    assert good["sample"].fields["urodzony"].date_in_parts
    found = "\n".join(
        errors_of(
            tmp_path,
            more(
                """\
                - name: kiedy
                  type: date
                  label: Kiedy
                  appearance: calendar
                - name: uwagi
                  type: text
                  label: Uwagi
                  appearance: no-calendar
                """
            ),
        )
    )
    assert found == "sample.yml:18: `appearance` is 'calendar'; allowed: no-calendar\nsample.yml:22: a text field has no `appearance`"
    shipped = load_forms(PROJECT_ROOT / "forms", categories=CASES.categories, districts=CASES.districts)
    births = [form.fields["data_urodzenia"] for form in shipped.values() if "data_urodzenia" in form.fields]
    assert len(births) == 3 and all(f.date_in_parts for f in births)

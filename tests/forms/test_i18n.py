"""Form strings in the catalogs: Polish is their source language, every other locale translates them."""

from __future__ import annotations

import shutil

from app import i18n_tools
from app.config import PROJECT_ROOT
from app.forms.coverage import coverage, part_of

LOCALES = PROJECT_ROOT / "locales"
PESEL = "Numer PESEL składa się z 11 cyfr."


def test_update_fills_polish_from_the_form_and_leaves_english_to_translate(tmp_path):
    folder = tmp_path / "locales"
    shutil.copytree(LOCALES, folder)
    pot = folder / "messages.pot"
    pot.write_text(
        pot.read_text(encoding="utf-8") + '\nmsgctxt "form"\nmsgid "Nowe pytanie"\nmsgstr ""\n'
        '\nmsgid "A new interface text"\nmsgstr ""\n',
        encoding="utf-8",
    )
    i18n_tools.update(folder, ["pl", "en", "uk"])
    pl = i18n_tools.read_catalog(folder / "pl/LC_MESSAGES/messages.po", "pl")
    en = i18n_tools.read_catalog(folder / "en/LC_MESSAGES/messages.po", "en")
    uk = i18n_tools.read_catalog(folder / "uk/LC_MESSAGES/messages.po", "uk")
    assert pl.get("Nowe pytanie", context="form").string == "Nowe pytanie"
    assert en.get("Nowe pytanie", context="form").string == ""  # not English: to be translated
    assert en.get("A new interface text").string == "A new interface text"
    assert pl.get("A new interface text").string == "" and uk.get("Nowe pytanie", context="form").string == ""
    problems = {(p.kind, p.msgid) for p in i18n_tools.check(folder, ["pl", "en", "uk"])}
    assert ("untranslated", "Nowe pytanie") in problems
    assert ("untranslated", "A new interface text") in problems


def test_check_refuses_a_polish_form_text_changed_in_the_catalog(tmp_path):
    folder = tmp_path / "locales"
    shutil.copytree(LOCALES, folder)
    po = folder / "pl/LC_MESSAGES/messages.po"
    text = po.read_text(encoding="utf-8")
    entry = f'msgid "{PESEL}"\nmsgstr '
    changed = text.replace(f'{entry}"{PESEL}"', f'{entry}"PESEL ma 11 cyfr."')
    assert changed != text
    po.write_text(changed, encoding="utf-8")
    problems = i18n_tools.check(folder, ["pl"])
    assert [(p.kind, p.msgid) for p in problems] == [("source-changed", PESEL)]
    assert problems[0].line > 0


def test_check_covers_form_strings_in_other_locales(tmp_path):
    folder = tmp_path / "locales"
    shutil.copytree(LOCALES, folder)
    po = folder / "be/LC_MESSAGES/messages.po"
    text = po.read_text(encoding="utf-8")
    start = text.index(f'msgid "{PESEL}"')
    end = text.index("\n\n", start)
    po.write_text(text[:start] + f'msgid "{PESEL}"\nmsgstr ""' + text[end:], encoding="utf-8")
    problems = i18n_tools.check(folder, ["be"])
    assert [(p.kind, p.msgid) for p in problems] == [("untranslated", PESEL)]
    report = coverage(folder, ["pl", "be"])
    forms_cell = report.rows[1].cells[2]
    assert forms_cell.translated == forms_cell.total - 1 and not forms_cell.complete
    assert report.rows[1].missing == [{"part": "forms", "msgid": PESEL}]
    assert all(cell.complete for cell in report.rows[0].cells)


def test_parts_of_witaj():
    assert part_of([("forms/gup-rejestracja.yml", 3)], "form") == "forms"
    assert part_of([("dialogues/domain.yml", 10)], None) == "dialogues"
    assert part_of([("templates/base.html", 1), ("dialogues/domain.yml", 2)], None) == "interface"

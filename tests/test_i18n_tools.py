"""The catalog check (`witaj i18n check`), extraction and compilation."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from click.testing import CliRunner

from app import i18n_tools
from app.cli import main
from app.config import PROJECT_ROOT
from app.languages import KNOWN_LOCALES

LOCALES = PROJECT_ROOT / "locales"


def test_shipped_catalogs_are_complete():
    problems = i18n_tools.check(LOCALES, KNOWN_LOCALES)
    assert problems == [], "\n".join(map(str, problems))


def test_pot_is_up_to_date_with_the_sources(tmp_path):
    """Every translatable string in code and templates is in the committed messages.pot."""
    fresh = i18n_tools.extract(PROJECT_ROOT, tmp_path)
    committed = i18n_tools.read_catalog(LOCALES / "messages.pot")
    assert {m.id if isinstance(m.id, str) else m.id[0] for m in fresh if m.id} == {
        m.id if isinstance(m.id, str) else m.id[0] for m in committed if m.id
    }


def _broken_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "locales"
    shutil.copytree(LOCALES, folder)
    return folder / "uk" / "LC_MESSAGES" / "messages.po"


def _replace_msgstr(text: str, msgid: str, new_block: str) -> str:
    start = text.index(f'msgid "{msgid}"')
    end = text.index("\n\n", start)
    return text[:start] + new_block + text[end:]


def test_check_reports_each_kind_of_problem_with_file_and_line(tmp_path):
    po = _broken_copy(tmp_path)
    text = po.read_text(encoding="utf-8")
    text = _replace_msgstr(text, "Sign in", 'msgid "Sign in"\nmsgstr ""')
    text = _replace_msgstr(text, "Dashboard", '#, fuzzy\nmsgid "Dashboard"\nmsgstr "Панель"')
    text = _replace_msgstr(
        text, "Enter at least %(min)s characters.", 'msgid "Enter at least %(min)s characters."\nmsgstr "Введіть щонайменше %(max)s символів."'
    )
    plural_id = "Too many failed attempts. Sign-in is locked for %(num)d minute."
    text = _replace_msgstr(
        text,
        plural_id,
        f'msgid "{plural_id}"\nmsgid_plural "Too many failed attempts. Sign-in is locked for %(num)d minutes."\n'
        'msgstr[0] "Заблоковано на %(num)d хвилину."\nmsgstr[1] "Заблоковано на %(num)d хвилини."\nmsgstr[2] ""',
    )
    po.write_text(text, encoding="utf-8")

    problems = i18n_tools.check(po.parents[2], ["uk"])
    kinds = {(p.kind, p.msgid[:20]) for p in problems}
    assert ("untranslated", "Sign in") in kinds
    assert ("fuzzy", "Dashboard") in kinds
    assert ("placeholders", "Enter at least %(min") in kinds
    assert ("missing-plural", plural_id[:20]) in kinds
    lines = po.read_text(encoding="utf-8").splitlines()
    for problem in problems:
        assert problem.path.endswith("uk/LC_MESSAGES/messages.po")
        assert lines[problem.line - 1].startswith("msgid"), problem


def test_check_refuses_a_translation_that_adds_markup(tmp_path):
    """Pages escape translations; a msgstr may still not add a tag or an htmx/event attribute (issue 11)."""
    po = _broken_copy(tmp_path)
    text = po.read_text(encoding="utf-8")
    text = _replace_msgstr(
        text,
        "Sign in",
        'msgid "Sign in"\nmsgstr "<a hx-post=\\"/uk/staff/cases/x/notes\\" hx-trigger=\\"load\\">Увійти</a>"',
    )
    text = _replace_msgstr(text, "Dashboard", 'msgid "Dashboard"\nmsgstr "Панель hx-get=/uk/staff"')
    plural_id = "Too many failed attempts. Sign-in is locked for %(num)d minute."
    text = _replace_msgstr(
        text,
        plural_id,
        f'msgid "{plural_id}"\nmsgid_plural "Too many failed attempts. Sign-in is locked for %(num)d minutes."\n'
        'msgstr[0] "Заблоковано на %(num)d хвилину."\nmsgstr[1] "Заблоковано на %(num)d хвилини."\n'
        'msgstr[2] "Заблоковано на %(num)d хвилин.<img src=x onerror=alert(1)>"',
    )
    # A "<" that HTML reads as text is no markup: "менше < 6" stays allowed.
    text = _replace_msgstr(text, "Cases", 'msgid "Cases"\nmsgstr "Справи (< 6 місяців)"')
    po.write_text(text, encoding="utf-8")

    problems = [p for p in i18n_tools.check(po.parents[2], ["uk"]) if p.kind == "markup"]
    assert {p.msgid for p in problems} == {"Sign in", "Dashboard", plural_id}, "\n".join(map(str, problems))
    lines = po.read_text(encoding="utf-8").splitlines()
    for problem in problems:
        assert problem.path.endswith("uk/LC_MESSAGES/messages.po")
        assert lines[problem.line - 1].startswith("msgid"), problem
    shown = str(next(p for p in problems if p.msgid == "Sign in"))
    assert re.match(r".+messages\.po:\d+: markup: 'Sign in' \(msgstr adds '<a hx-post=", shown), shown


def test_check_allows_markup_a_msgid_has(tmp_path):
    po = _broken_copy(tmp_path)
    text = po.read_text(encoding="utf-8")
    po.write_text(
        text + '\nmsgid "Read <strong>this</strong>"\nmsgstr "Прочитайте <strong>це</strong>"\n',
        encoding="utf-8",
    )
    problems = i18n_tools.check_catalog(po, "uk")
    assert [p for p in problems if p.kind == "markup"] == []


def test_check_reports_wrong_plural_header(tmp_path):
    po = _broken_copy(tmp_path)
    text = po.read_text(encoding="utf-8")
    start = text.index('"Plural-Forms:')
    end = text.index("\\n\"\n", start) + 4
    text = text[:start] + '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n' + text[end:]
    po.write_text(text, encoding="utf-8")
    problems = i18n_tools.check(po.parents[2], ["uk"])
    assert any(p.kind == "plural-forms" for p in problems)


def test_check_reports_messages_missing_from_a_catalog(tmp_path):
    po = _broken_copy(tmp_path)
    text = po.read_text(encoding="utf-8")
    po.write_text(_replace_msgstr(text, "Sign in", ""), encoding="utf-8")
    problems = i18n_tools.check(po.parents[2], ["uk"])
    assert [(p.kind, p.msgid) for p in problems] == [("missing", "Sign in")]


def test_cli_check_exit_status(tmp_path, monkeypatch):
    po = _broken_copy(tmp_path)
    text = po.read_text(encoding="utf-8")
    po.write_text(_replace_msgstr(text, "Sign in", 'msgid "Sign in"\nmsgstr ""'), encoding="utf-8")
    runner = CliRunner()
    from app import cli

    monkeypatch.setattr(cli, "settings_or_exit", lambda: _settings_with(po.parents[2]))
    broken = runner.invoke(main, ["i18n", "check", "--locale", "uk"])
    assert broken.exit_code == 1
    assert "untranslated: 'Sign in'" in broken.output
    fine = runner.invoke(main, ["i18n", "check", "--locale", "pl"])
    assert fine.exit_code == 0, fine.output


def _settings_with(locales_dir: Path):
    from app.config import load_settings

    return load_settings(locales_dir=locales_dir)


def test_update_keeps_translations_and_adds_new_messages(tmp_path):
    folder = tmp_path / "locales"
    shutil.copytree(LOCALES, folder)
    pot = folder / "messages.pot"
    pot.write_text(pot.read_text(encoding="utf-8") + '\nmsgid "A brand new message"\nmsgstr ""\n', encoding="utf-8")
    i18n_tools.update(folder, ["uk", "en"])
    uk = i18n_tools.read_catalog(folder / "uk/LC_MESSAGES/messages.po", "uk")
    assert uk.get("A brand new message").string == ""
    assert uk.get("Sign in").string not in ("", "Sign in")
    en = i18n_tools.read_catalog(folder / "en/LC_MESSAGES/messages.po", "en")
    assert en.get("A brand new message").string == "A brand new message"


def test_registered_sources_are_extracted(tmp_path):
    content = tmp_path / "content"
    (content / "extra").mkdir(parents=True)
    (content / "extra" / "page.html").write_text("<p>{% trans %}Only in extra{% endtrans %}</p>", encoding="utf-8")
    source = i18n_tools.Source("extra", [("**.html", "jinja2.ext:babel_extract")], {"**.html": {"trimmed": "true"}})
    i18n_tools.register_source(source)
    try:
        catalog = i18n_tools.extract(content, tmp_path / "out")
    finally:
        i18n_tools.EXTRACTORS.remove(source)
    assert catalog.get("Only in extra") is not None
    assert (tmp_path / "out" / "messages.pot").exists()


def test_compile_builds_mo_files(tmp_path):
    folder = tmp_path / "locales"
    shutil.copytree(LOCALES, folder)
    written = i18n_tools.compile_catalogs(folder, ["pl"])
    assert written and Path(written[0]).stat().st_size > 100


def test_pretranslate_fills_empty_messages_fuzzy_and_keeps_placeholders(tmp_path, argos_dir):
    """With the real argostranslate and a tiny en->uk model: filled, marked fuzzy, never complete."""
    from app.config import get_settings
    from app.translation.service import get_service

    folder = tmp_path / "locales"
    shutil.copytree(LOCALES, folder)
    po = folder / "uk" / "LC_MESSAGES" / "messages.po"
    text = po.read_text(encoding="utf-8")
    text = _replace_msgstr(text, "Dashboard", 'msgid "Dashboard"\nmsgstr ""')
    text = _replace_msgstr(text, "Hello, %(name)s.", 'msgid "Hello, %(name)s."\nmsgstr ""')
    po.write_text(text, encoding="utf-8")
    service = get_service(get_settings())

    def translate(message, source, target):
        result = service.translate(message, source, target)
        return (result.text, f"{result.engine} {result.model_version}")

    filled, skipped = i18n_tools.pretranslate(folder, "uk", translate)
    assert (filled, skipped) == (2, 0)
    catalog = i18n_tools.read_catalog(po, "uk")
    hello = catalog.get("Hello, %(name)s.")
    assert hello.fuzzy and "%(name)s" in hello.string and any("machine-translated" in c for c in hello.user_comments)
    problems = i18n_tools.check(folder, ["uk"])
    assert {(p.kind, p.msgid) for p in problems} == {("fuzzy", "Dashboard"), ("fuzzy", "Hello, %(name)s.")}


def test_pretranslate_skips_a_translation_that_loses_a_placeholder(tmp_path):
    folder = tmp_path / "locales"
    shutil.copytree(LOCALES, folder)
    po = folder / "be" / "LC_MESSAGES" / "messages.po"
    po.write_text(_replace_msgstr(po.read_text(encoding="utf-8"), "Hello, %(name)s.", 'msgid "Hello, %(name)s."\nmsgstr ""'), encoding="utf-8")
    filled, skipped = i18n_tools.pretranslate(folder, "be", lambda text, s, t: ("Прывітанне", "test"))
    assert (filled, skipped) == (0, 1)
    assert i18n_tools.read_catalog(po, "be").get("Hello, %(name)s.").string == ""

"""`witaj dialogues check-answers`: translations, links and review dates of the assistant's answers,
on the shipped content and on copies that break one rule each."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.assistant.answer_checks import AnswerReport, check_answers, link_problem, links
from app.assistant.cli import dialogues
from app.assistant.knowledge import AnswerPolicy, read_answers
from app.config import PROJECT_ROOT
from app.content import load_yaml

LOCALES = ("pl", "uk", "en")
TODAY = "2026-12-04"
OUT_OF_SCOPE_LINK = "https://www.krakow.pl\n"  # the end of utter_out_of_scope, in every catalog


def run(args: list[str], env: dict[str, str]):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(dialogues, ["check-answers", "--today", TODAY, *args], env=env)


def domain_line(folder: Path, *key: str | int) -> int:
    return load_yaml(folder / "dialogues" / "domain.yml").line(*key)


def po(folder: Path, code: str) -> Path:
    return folder / "locales" / code / "LC_MESSAGES" / "messages.po"


def msgid_line(path: Path, start: str) -> int:
    """Return the line of the msgid that starts with start (a wrapped msgid starts on the next line)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if line.startswith("msgid ") and (line[6:].startswith(f'"{start}') or (
            line == 'msgid ""' and lines[number].startswith(f'"{start}')
        )):
            return number
    raise AssertionError(f"no msgid {start!r} in {path}")


def replace(path: Path, old: str, new: str, *, count: int | None = 1) -> None:
    text = path.read_text(encoding="utf-8")
    if count is not None:
        assert text.count(old) == count, (path, old, text.count(old))
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture
def content(tmp_path: Path) -> Path:
    """A content folder: a copy of dialogues/ and of three catalogs, the rest of the shipped content."""
    shutil.copytree(PROJECT_ROOT / "dialogues", tmp_path / "dialogues")
    for code in LOCALES:
        shutil.copytree(PROJECT_ROOT / "locales" / code, tmp_path / "locales" / code)
    for folder in ("cases", "partners", "appointments", "forms", "templates"):
        (tmp_path / folder).symlink_to(PROJECT_ROOT / folder)
    return tmp_path


@pytest.fixture
def env(content: Path) -> dict[str, str]:
    return {"WITAJ_CONTENT_DIR": str(content), "WITAJ_LOCALES": ",".join(LOCALES), "WITAJ_CHAT_LINK_HOSTS": ""}


def test_the_shipped_answers_have_no_errors_and_all_wait_for_a_first_review():
    env = {"WITAJ_CONTENT_DIR": str(PROJECT_ROOT)}
    responses = load_yaml(PROJECT_ROOT / "dialogues" / "domain.yml").data["responses"]
    result = run([], env)
    assert result.exit_code == 0, result.output
    summary = result.output.splitlines()[-1]
    assert summary.startswith(f"{len(responses)} responses (")
    assert summary.endswith(f"0 error(s), {len(responses)} due for review")
    assert "utter_greet: never reviewed" in result.output


def test_a_response_missing_from_the_catalogs_is_reported_at_its_line(content: Path, env: dict[str, str]):
    replace(content / "dialogues" / "domain.yml", "Hello! I'm Witaj,", "Hi! I'm Witaj,")
    line = domain_line(content, "responses", "utter_greet", 0, "text")
    result = run([], env)
    assert result.exit_code == 1
    assert (
        f"dialogues/domain.yml:{line}: utter_greet: the text has no translation in pl, uk, en (not in the catalog"
        in result.output
    )
    assert "1 error(s)" in result.output.splitlines()[-1]


def test_a_fuzzy_or_empty_translation_is_reported_at_its_catalog_line(content: Path, env: dict[str, str]):
    uk, pl = po(content, "uk"), po(content, "pl")
    fuzzy_line = msgid_line(uk, "Hello! I'm Witaj,")
    lines = uk.read_text(encoding="utf-8").splitlines()
    lines.insert(fuzzy_line - 1, "#, fuzzy")
    uk.write_text("\n".join(lines) + "\n", encoding="utf-8")
    empty_line = msgid_line(pl, "Which language would you like to use?")
    lines = pl.read_text(encoding="utf-8").splitlines()
    assert lines[empty_line].startswith("msgstr ")
    lines[empty_line] = 'msgstr ""'
    pl.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = run([], env)
    assert result.exit_code == 1
    assert f"{uk}:{fuzzy_line + 1}: utter_greet (uk): the translation is fuzzy" in result.output
    assert f"{pl}:{empty_line}: utter_ask_language (pl): not translated (empty msgstr)" in result.output


def test_a_translation_that_loses_a_placeholder_is_reported(content: Path, env: dict[str, str]):
    uk = po(content, "uk")
    line = msgid_line(uk, "Case {case_reference}: {case_status}")
    replace(uk, '"Звернення {case_reference}: {case_status}\\n"', '"Звернення {case_ref}: {case_status}\\n"')
    result = run(["--locale", "uk"], env)
    assert result.exit_code == 1
    assert (
        f"{uk}:{line}: utter_case_status (uk): the placeholders differ: msgid has "
        "['{case_reference}', '{case_status}', '{case_updated_at}'], msgstr has "
        "['{case_ref}', '{case_status}', '{case_updated_at}']"
    ) in result.output


def test_an_http_link_in_the_english_text_and_a_changed_link_in_a_translation(content: Path, env: dict[str, str]):
    # The English answer (and, to keep the catalogs in step, each catalog's msgid and msgstr) gets http://.
    replace(content / "dialogues" / "domain.yml", 'see https://www.krakow.pl"', 'see http://www.krakow.pl"')
    for code in LOCALES:
        replace(po(content, code), 'https://www.krakow.pl"\n', 'http://www.krakow.pl"\n', count=2)
    # A translator points the Ukrainian answer elsewhere.
    uk = po(content, "uk")
    replace(uk, 'шукайте на http://www.krakow.pl"', 'шукайте на https://krakow.pl.evil.example"')

    result = run([], env)
    assert result.exit_code == 1
    line = domain_line(content, "responses", "utter_out_of_scope", 0, "text")
    assert (
        f"dialogues/domain.yml:{line}: utter_out_of_scope: the link 'http://www.krakow.pl' must start with https://"
        in result.output
    )
    uk_line = msgid_line(uk, "Sorry, I can't help with that.")
    assert (
        f"{uk}:{uk_line}: utter_out_of_scope (uk): the link 'https://krakow.pl.evil.example' points to "
        "krakow.pl.evil.example, which is not in `allowed_hosts` of dialogues/answers.yml"
    ) in result.output
    pl = po(content, "pl")
    pl_line = msgid_line(pl, "Sorry, I can't help with that.")
    assert f"{pl}:{pl_line}: utter_out_of_scope (pl): the link 'http://www.krakow.pl'" in result.output
    assert "(en): the link" not in result.output  # English's msgstr is its msgid, checked at domain.yml
    assert result.output.splitlines()[-1].endswith("3 error(s), 0 due for review") or "3 error(s)" in result.output


def test_a_host_left_out_of_allowed_hosts(content: Path, env: dict[str, str]):
    replace(content / "dialogues" / "answers.yml", "  - krakowculture.pl", "")
    result = run(["--locale", "en"], env)
    assert result.exit_code == 1
    for name in ("utter_events_found", "utter_events_none"):
        line = domain_line(content, "responses", name, 0, "text")
        assert (
            f"dialogues/domain.yml:{line}: {name}: the link 'https://karnet.krakowculture.pl' points to "
            "karnet.krakowculture.pl, which is not in `allowed_hosts`"
        ) in result.output


def test_an_old_review_date_is_due_and_fails_only_with_strict(content: Path, env: dict[str, str]):
    answers = content / "dialogues" / "answers.yml"
    replace(answers, "reviewed: {}", 'reviewed:\n  utter_greet: "2025-06-01"\n  utter_menu: "2026-11-30"')
    line = load_yaml(answers).line("reviewed", "utter_greet")
    result = run(["--locale", "en"], env)
    assert result.exit_code == 0, result.output  # --locale en: English alone is complete
    assert (
        f"dialogues/answers.yml:{line}: utter_greet: last reviewed 2025-06-01, 551 days ago (review after 365 days)"
        in result.output
    )
    assert "utter_menu" not in result.output  # reviewed four days ago
    assert run(["--locale", "en", "--strict"], env).exit_code == 1


def check(content: Path, *, today: date = date(2026, 12, 4), **options: object) -> AnswerReport:
    folder = content / "dialogues"
    names = load_yaml(folder / "domain.yml").data["responses"]
    policy = read_answers(folder / "answers.yml", responses=names)
    return check_answers(folder, content / "locales", ("en",), policy, today=today, **options)  # type: ignore[arg-type]


def test_max_age_days_overrides_the_content_and_a_date_after_today_is_an_error(content: Path):
    answers = content / "dialogues" / "answers.yml"
    replace(answers, "reviewed: {}", 'reviewed:\n  utter_greet: "2025-06-01"\n  utter_menu: "2027-01-01"')
    due = [error.message for error in check(content).due]
    assert any(message.startswith("utter_greet: last reviewed 2025-06-01") for message in due)
    assert not any(message.startswith("utter_greet") for message in [e.message for e in check(content, max_age_days=600).due])
    assert [error.message for error in check(content).errors] == [
        "utter_menu: reviewed on 2027-01-01, which is after today (2026-12-04)"
    ]


def test_a_broken_answers_file_is_reported_by_check_answers_and_validate(content: Path, env: dict[str, str]):
    answers = content / "dialogues" / "answers.yml"
    replace(answers, "  - gov.pl ", "  - https://gov.pl ")
    replace(answers, "reviewed: {}", 'reviewed:\n  utter_nothing: "2026-01-01"\n  utter_greet: "2026-02-30"')
    doc = load_yaml(answers)
    expected = [
        f"dialogues/answers.yml:{doc.line('allowed_hosts', 1)}: 'https://gov.pl' is not a host name",
        f"dialogues/answers.yml:{doc.line('reviewed', 'utter_nothing')}: 'utter_nothing' is no response",
        f"dialogues/answers.yml:{doc.line('reviewed', 'utter_greet')}: '2026-02-30' is not a date",
    ]
    for args in (["check-answers"], ["validate"]):
        result = CliRunner().invoke(dialogues, args, env=env)
        assert result.exit_code == 1, result.output
        for line in expected:
            assert line in result.output


def test_an_unknown_locale_is_refused(env: dict[str, str]):
    result = run(["--locale", "de"], env)
    assert result.exit_code == 2
    assert "not an enabled locale: de" in result.output


def test_a_host_the_web_chat_does_not_link_gets_a_note(content: Path):
    report = check(content, chat_link_hosts=("krakow.pl", "gov.pl"))
    assert report.notes == (
        "allowed host krakowculture.pl is not covered by WITAJ_CHAT_LINK_HOSTS (krakow.pl, gov.pl): "
        "the web chat shows its addresses as text",
    )
    assert check(content, chat_link_hosts=("krakow.pl", "gov.pl", "krakowculture.pl")).notes == ()


POLICY = AnswerPolicy(allowed_hosts=("krakow.pl", "gov.pl"))


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("https://www.biblioteka.krakow.pl/a?b=c#d", None),
        ("www.krakow.pl", None),  # read as https://www.krakow.pl, as the chat links it
        ("http://www.krakow.pl", "must start with https://"),
        ("ftp://krakow.pl", "must start with https://"),
        ("https://krakow.pl.evil.example", "not in `allowed_hosts`"),
        ("https://evilkrakow.pl", "not in `allowed_hosts`"),
        ("https://krakow.pl@evil.example", "user name or a port"),
        ("https://krakow.pl:8443/x", "user name or a port"),
        ("https://krakow.pl/\u202eexe.txt", "invisible or control character U+202E"),
        ("https://kraków.pl", "no valid host name"),
        ("https://[::1", "not well formed"),
    ],
)
def test_link_rules(address: str, problem: str | None):
    found = link_problem(address, POLICY)
    assert (found is None) if problem is None else (problem in (found or ""))


def test_links_leave_out_the_sentence_punctuation():
    assert links("See https://mops.krakow.pl. Or (https://www.gov.pl/web/ua), www.krakow.pl!") == [
        "https://mops.krakow.pl",
        "https://www.gov.pl/web/ua",
        "www.krakow.pl",
    ]
    # Punctuation of another script glued to an address is read as part of it, as the chat reads it.
    assert links("https://mops.krakow.pl। अधिक") == ["https://mops.krakow.pl।"]

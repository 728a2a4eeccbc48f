"""dialogues/lexicon/<language>.yml: the words of each language the assistant reads besides its
intents (days, months, audiences, follow-up cues, "no"). One file a language, checked with file and
line like every dialogues file; a city adds a language's words without touching Python."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from app.assistant.content.lexicon import read_lexicon
from app.assistant.when import find_audience, find_when
from app.content import ContentError
from app.languages import KNOWN_LOCALES

ROOT = Path(__file__).resolve().parents[2]
#: A Wednesday.
TODAY = date(2026, 12, 2)


@pytest.fixture(scope="module")
def shipped():
    errors: list[ContentError] = []
    lexicon = read_lexicon(ROOT / "dialogues", errors)
    assert errors == []
    return lexicon


def write(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / "lexicon"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_every_locale_has_its_words(shipped):
    assert set(KNOWN_LOCALES) <= set(shipped.languages)


#: (language, message, first day, last day, evening) for the languages added after the first five.
NEWER = [
    ("es", "¿hay algo para niños el sábado por la tarde?", date(2026, 12, 5), date(2026, 12, 5), True),
    ("tr", "cumartesi çocuklar için etkinlik var mı", date(2026, 12, 5), date(2026, 12, 5), False),
    ("vi", "cuối tuần này có sự kiện gì cho trẻ em không", date(2026, 12, 5), date(2026, 12, 6), False),
    ("ka", "ამ შაბათს ბავშვებისთვის რამე ღონისძიება არის?", date(2026, 12, 5), date(2026, 12, 5), False),
    # "კვირას" is Sunday, but inside "the weekend" and "this week" it is part of them
    ("ka", "რა ღონისძიებებია შაბათ-კვირას ბავშვებისთვის?", date(2026, 12, 5), date(2026, 12, 6), False),
    ("ka", "ამ კვირას რა ღონისძიებებია ბავშვებისთვის?", date(2026, 12, 2), date(2026, 12, 6), False),
    ("ka", "კვირას რა ღონისძიებებია ბავშვებისთვის?", date(2026, 12, 6), date(2026, 12, 6), False),
    ("hi", "शनिवार को बच्चों के लिए कोई कार्यक्रम है?", date(2026, 12, 5), date(2026, 12, 5), False),
    ("hi", "shanivar ko bachchon ke liye koi program hai?", date(2026, 12, 5), date(2026, 12, 5), False),
    ("ar", "هل يوجد نشاط للأطفال يوم السبت؟", date(2026, 12, 5), date(2026, 12, 5), False),
]


@pytest.mark.parametrize(
    ("text", "first", "last", "evening"), [case[1:] for case in NEWER if case[0] in KNOWN_LOCALES]
)
def test_days_and_audiences_in_the_new_languages(shipped, text, first, last, evening):
    when = find_when(text, TODAY, shipped)
    assert when is not None, text
    assert (when.first, when.last) == (first, last)
    assert when.evening is evening
    found = find_audience(text, shipped)
    assert found is not None and found[0] == "children", text


def test_a_language_added_by_a_file_alone(tmp_path):
    folder = write(
        tmp_path,
        "eo.yml",
        "version: 1\nweekdays:\n  saturday: [sabato, sabaton]\naudiences:\n  children: [infan*]\n"
        "no_answers: [ne]\n",
    )
    errors: list[ContentError] = []
    lexicon = read_lexicon(folder, errors)
    assert errors == [] and lexicon.languages == ["eo"]
    when = find_when("ĉu estas io por infanoj sabate aŭ sabaton?", TODAY, lexicon)
    assert when is not None and when.first == date(2026, 12, 5)
    assert find_audience("por infanoj", lexicon)[0] == "children"
    assert "ne" in lexicon.no_answers


def test_mistakes_are_reported_at_their_file_and_line(tmp_path):
    folder = write(
        tmp_path,
        "xx.yml",
        "version: 1\n"
        "weekdays:\n"
        "  funday: [fun]\n"  # line 3: no such day
        "no_answers: [no, nope]\n"  # line 4: YAML reads a bare no as false
        "evening: ['*']\n"  # line 5: no letters
        "colours: [red]\n",  # line 6: no such section
    )
    write(tmp_path, "notes.yml", "not: [a, language]\n")  # not <code>.yml: not read
    errors: list[ContentError] = []
    lexicon = read_lexicon(folder, errors)
    path = str(folder / "lexicon" / "xx.yml")
    by_line = {error.line: error.message for error in errors if error.path == path}
    assert len(errors) == len(by_line) == 4, [str(e) for e in errors]
    assert "funday" in by_line[3]
    assert 'quote words YAML reads as true/false ("no"' in by_line[4]
    assert "letters besides" in by_line[5]
    assert "colours" in by_line[6]
    assert lexicon.languages == ["xx"]


def test_a_file_that_is_no_yaml_is_reported(tmp_path):
    folder = write(tmp_path, "yy.yml", "version: 1\nweekdays: [unclosed\n")
    errors: list[ContentError] = []
    read_lexicon(folder, errors)
    assert len(errors) == 1 and errors[0].path.endswith("yy.yml") and errors[0].line >= 2

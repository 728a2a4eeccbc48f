"""dialogues/: the shipped data validates, and each kind of mistake is reported at its file and line."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest

from app.assistant.data import (
    DialogueData,
    extract_responses,
    load_dialogues,
    parse_annotations,
    parse_payload,
)
from app.assistant.knowledge import read_events
from app.cases.content import load_case_content
from app.config import PROJECT_ROOT
from app.content import ContentError, ContentErrors
from app.languages import KNOWN_LOCALES, PLANNED_LOCALES

DIALOGUES = PROJECT_ROOT / "dialogues"
LANGUAGES = KNOWN_LOCALES
REQUIRED_INTENTS = (
    "greet goodbye thank affirm deny change_language labour_register job_search work_permit training_courses "
    "library_card library_branches cultural_events polish_course legal_help housing_help psychological_help "
    "fill_form case_status appointment human_handoff out_of_scope"
).split()


@pytest.fixture(scope="module")
def data() -> DialogueData:
    return load_dialogues(DIALOGUES)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """Return a writable copy of the shipped dialogues/ folder."""
    return Path(shutil.copytree(DIALOGUES, tmp_path / "dialogues"))


def edit(folder: Path, file: str, old: str, new: str, *, count: int = 1) -> None:
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {file}: the test no longer matches the content"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def line_of(folder: Path, file: str, marker: str, *, after: str | None = None) -> int:
    """Return the number of the first line of file that contains marker (after the line with `after`)."""
    started = after is None
    for number, line in enumerate((folder / file).read_text(encoding="utf-8").splitlines(), start=1):
        if not started:
            started = after in line
            continue
        if marker in line:
            return number
    raise AssertionError(f"{marker!r} not in {file}")


def problems(folder: Path) -> list[ContentError]:
    with pytest.raises(ContentErrors) as info:
        load_dialogues(folder)
    return info.value.errors


def find(errors: list[ContentError], file: str, text: str) -> ContentError:
    """Return the one problem in file whose message contains text."""
    found = [e for e in errors if e.path.endswith(file) and text in e.message]
    assert len(found) == 1, "\n".join(str(e) for e in errors)
    return found[0]


# --- the shipped data ----------------------------------------------------------------------------


def test_shipped_dialogues_validate_with_every_language_and_required_intent(data: DialogueData):
    assert data.languages == LANGUAGES
    assert set(REQUIRED_INTENTS) <= set(data.domain.intents)
    for language in LANGUAGES:
        intents = {example.intent for example in data.examples[language]}
        assert intents == set(data.domain.intents), language
    assert {"case_form", "case_status_form", "appointment_form", "appointment_move_form"} == set(data.domain.forms)
    assert data.rules and data.stories and data.tests


def test_examples_keep_their_entities_with_canonical_values(data: DialogueData):
    inform = [e for e in data.examples["uk"] if e.intent == "inform" and e.entities]
    district = next(e for e in inform if "Новій Гуті" in e.text)
    span = district.entities[0]
    assert district.text[span.start : span.end] == "Новій Гуті"
    assert (span.entity, span.value) == ("district", "Nowa Huta")
    assert "[" not in district.text
    assert Path(district.path).name == "basics.yml" and district.line > 1


def test_regexes_lookups_and_synonyms_come_from_common_yml(data: DialogueData):
    assert any(re.search(p, "KRK-2026-000123") for p in data.regexes["case_reference"])
    assert "Nowa Huta" in data.lookups["district"]
    assert data.synonyms["nowej hucie"] == "Nowa Huta"
    assert data.synonyms["po ukraińsku"] == "uk"
    # Every planned language is a value (a city enables them by configuration; a language not enabled
    # gets the question which language, with the enabled ones as buttons).
    assert data.canonical_values("language") == frozenset(PLANNED_LOCALES)
    assert "Stare Miasto" in (data.canonical_values("district") or ())


def test_rules_stories_and_tests_are_read_as_steps(data: DialogueData):
    submit = next(r for r in data.rules if r.name == "submit the case form")
    assert [(s.kind, s.name) for s in submit.condition] == [("active_loop", "case_form")]
    assert [s.kind for s in submit.steps] == ["action", "active_loop", "slot_was_set", "action"]
    assert submit.steps[2].value == {"requested_slot": None}
    story = next(s for s in data.stories if s.name.startswith("library card, then"))
    branch = story.steps[3]  # after library_card, utter_library_card, action_offer_city_form
    assert (branch.kind, branch.name, branch.entities) == (
        "intent",
        "library_branches",
        (("district", "Nowa Huta"),),
    )
    test = next(s for s in data.tests if s.name.startswith("ru - library card"))
    user = test.steps[3]
    assert (user.kind, user.name) == ("user", "library_branches")
    assert user.user_text == "где библиотека в Новой Гуте?"
    assert user.entities == (("district", "Nowa Huta"),)


def test_fingerprint_follows_the_content(copy: Path):
    first = load_dialogues(copy).fingerprint
    assert load_dialogues(copy).fingerprint == first
    edit(copy, "data/nlu/en/basics.yml", "      - hi there\n", "      - hi there\n      - hi over there\n")
    assert load_dialogues(copy).fingerprint != first


def test_responses_keep_text_buttons_and_conditions(data: DialogueData):
    menu = data.domain.responses["utter_menu"][0]
    assert menu.condition is None
    assert ("Talk to a person", "/human_handoff") in [(b.title, b.payload) for b in menu.buttons]
    contact = data.domain.responses["utter_ask_case_form_contact"]
    assert [v.condition[0]["value"] if v.condition else None for v in contact] == ["email", "phone", None]
    assert data.domain.slots["contact_preference"].values == ("chat", "email", "phone")


# --- helpers -------------------------------------------------------------------------------------


def test_annotations_and_payloads_parse():
    assert parse_annotations("I live in [Nowa Huta](district)") == (
        "I live in Nowa Huta",
        [(10, 19, "district", None)],
    )
    plain, spans = parse_annotations('po [ukraińsku]{"entity": "language", "value": "uk"} proszę')
    assert plain == "po ukraińsku proszę" and spans == [(3, 12, "language", "uk")]
    assert isinstance(parse_annotations("[Nowa Huta](district"), str)
    assert isinstance(parse_annotations('[x]{"value": "y"}'), str)
    intents = ("fill_form", "greet")
    assert parse_payload('/fill_form{"case_topic": "housing"}', intents=intents) == (
        "fill_form",
        {"case_topic": "housing"},
    )
    assert parse_payload("/greet", intents=intents) == ("greet", {})
    assert parse_payload("/unknown", intents=intents) is None
    assert parse_payload("greet", intents=intents) is None


def test_babel_extracts_every_response_text_and_button_title(data: DialogueData):
    raw = (DIALOGUES / "domain.yml").read_bytes()
    found = list(extract_responses(io.BytesIO(raw), [], [], {}))
    messages = {message for _, _, message, _ in found}
    for name, variations in data.domain.responses.items():
        for variation in variations:
            assert variation.text in messages, name
            for button in variation.buttons:
                assert button.title in messages, (name, button.title)
    line, _, message, comments = next(item for item in found if item[2].startswith("Hello! I'm Witaj"))
    assert comments == ["dialogues response utter_greet"]
    assert raw.decode().splitlines()[line - 1].strip().startswith("- text:")
    assert any(c == ["dialogues response utter_menu: button"] for _, _, m, c in found if m == "Housing")


# --- each mistake at its file and line -----------------------------------------------------------


def test_wrong_or_missing_version_is_reported(copy: Path):
    edit(copy, "data/nlu/pl/cases.yml", 'version: "3.1"', 'version: "2.0"')
    edit(copy, "data/stories.yml", 'version: "3.1"\n', "")
    errors = problems(copy)
    assert find(errors, "pl/cases.yml", 'version must be "3.1"').line == 1
    assert find(errors, "stories.yml", 'must start with version: "3.1"').line == 1


def test_unknown_section_is_reported(copy: Path):
    edit(copy, "data/rules.yml", "\nrules:\n", "\nrule:\n")
    error = find(problems(copy), "rules.yml", "unknown section `rule`")
    assert error.line == line_of(copy, "data/rules.yml", "rule:")


def test_unknown_intent_in_rules_and_tests(copy: Path):
    edit(copy, "data/rules.yml", "      - intent: thank\n", "      - intent: thanks\n")
    edit(
        copy, "tests/test_conversations.yml", "        intent: legal_help\n", "        intent: legal_advice\n"
    )
    errors = problems(copy)
    assert find(errors, "rules.yml", "intent `thanks`").line == line_of(
        copy, "data/rules.yml", "intent: thanks"
    )
    error = find(errors, "test_conversations.yml", "intent `legal_advice`")
    assert error.line == line_of(copy, "tests/test_conversations.yml", "intent: legal_advice")


def test_intent_without_examples_in_one_language(copy: Path):
    text = (copy / "data/nlu/be/support.yml").read_text(encoding="utf-8")
    start = text.index("  - intent: housing_help")
    end = text.index("  - intent: psychological_help")
    (copy / "data/nlu/be/support.yml").write_text(text[:start] + text[end:], encoding="utf-8")
    error = find(problems(copy), "domain.yml", "`housing_help` has no examples in be")
    assert error.line == line_of(copy, "domain.yml", "- housing_help")


def test_missing_response_and_unknown_action(copy: Path):
    edit(copy, "data/stories.yml", "      - action: utter_job_search\n", "      - action: utter_job_offers\n")
    edit(copy, "data/rules.yml", "      - action: action_handoff\n", "      - action: action_hand_over\n")
    errors = problems(copy)
    assert find(errors, "stories.yml", "`utter_job_offers`").line == line_of(
        copy, "data/stories.yml", "utter_job_offers"
    )
    assert find(errors, "rules.yml", "`action_hand_over`").line == line_of(
        copy, "data/rules.yml", "action_hand_over"
    )


def test_form_question_missing_and_unknown_form_slot(copy: Path):
    edit(copy, "domain.yml", "  utter_ask_case_status_form_case_secret:", "  utter_ask_case_secret_please:")
    edit(copy, "domain.yml", "      - case_secret\n", "      - case_secret\n      - birthday\n")
    errors = problems(copy)
    required = line_of(copy, "domain.yml", "required_slots", after="case_status_form:")
    assert find(errors, "domain.yml", "no question for `case_secret`").line == required
    assert find(errors, "domain.yml", "slot `birthday`").line == required


def test_unreachable_form(copy: Path):
    edit(
        copy,
        "domain.yml",
        "forms:\n",
        "forms:\n  survey_form:\n    required_slots:\n      - district\n",
    )
    error = find(problems(copy), "domain.yml", "form `survey_form` is never activated")
    assert error.line == line_of(copy, "domain.yml", "survey_form:")


def test_broken_and_unknown_entity_annotations(copy: Path):
    edit(copy, "data/nlu/en/basics.yml", "I live in [Krowodrza](district)", "I live in [Krowodrza](district")
    edit(copy, "data/nlu/pl/basics.yml", "[po polsku](language)", "[po polsku](lang)")
    edit(copy, "data/nlu/ru/basics.yml", "[по-русски](language)", '[по-русски]{"entity": language}')
    errors = problems(copy)
    assert find(errors, "en/basics.yml", "broken entity annotation").line == line_of(
        copy, "data/nlu/en/basics.yml", "I live in [Krowodrza](district"
    )
    assert find(errors, "pl/basics.yml", "entity `lang`").line == line_of(
        copy, "data/nlu/pl/basics.yml", "(lang)"
    )
    assert find(errors, "ru/basics.yml", "not valid JSON").line == line_of(
        copy, "data/nlu/ru/basics.yml", '{"entity": language}'
    )


def test_annotated_value_must_be_canonical_or_a_synonym(copy: Path):
    edit(
        copy, "data/nlu/en/basics.yml", "I live in [Bronowice](district)", "I live in [Bronowicky](district)"
    )
    error = find(problems(copy), "en/basics.yml", "`Bronowicky` is not a known district")
    assert error.line == line_of(copy, "data/nlu/en/basics.yml", "[Bronowicky]")


def test_duplicate_examples_within_and_across_intents(copy: Path):
    edit(copy, "data/nlu/en/basics.yml", "      - hi there\n", "      - hi there\n      - Hi  there\n")
    edit(
        copy,
        "data/nlu/en/basics.yml",
        "      - thanks a lot\n",
        "      - thanks a lot\n      - see you later\n",
    )
    errors = problems(copy)
    repeat = find(errors, "en/basics.yml", "repeats line")
    assert repeat.line == line_of(copy, "data/nlu/en/basics.yml", "- Hi  there")
    assert f"line {line_of(copy, 'data/nlu/en/basics.yml', '- hi there')}" in repeat.message
    shared = find(errors, "en/basics.yml", "also an example of `goodbye`")
    assert shared.line == line_of(copy, "data/nlu/en/basics.yml", "- see you later", after="intent: thank")


def test_too_few_examples(copy: Path):
    path = copy / "data/nlu/ru/cases.yml"
    text = path.read_text(encoding="utf-8")
    block = re.search(r"  - intent: fill_form\n    examples: \|\n((?:      - .*\n)+)", text)
    assert block is not None
    kept = "".join(block.group(1).splitlines(keepends=True)[:14])
    path.write_text(text[: block.start(1)] + kept + text[block.end(1) :], encoding="utf-8")
    error = find(problems(copy), "ru/cases.yml", "`fill_form` has 14 examples in ru; it needs 15")
    assert error.line == line_of(copy, "data/nlu/ru/cases.yml", "intent: fill_form")


def test_bad_button_payload_and_unknown_entity_in_story(copy: Path):
    edit(copy, "domain.yml", 'payload: "/labour_register"', 'payload: "/labour_registration"')
    edit(
        copy,
        "data/stories.yml",
        "          - district: Podgórze\n      - slot_was_set",
        "          - area: Podgórze\n      - slot_was_set",
    )
    errors = problems(copy)
    assert find(errors, "domain.yml", "intent `labour_registration`").line == line_of(
        copy, "domain.yml", "/labour_registration"
    )
    assert find(errors, "stories.yml", "entity `area`").line == line_of(
        copy, "data/stories.yml", "- area: Podgórze"
    )


def test_responses_and_buttons_are_plain_text(copy: Path):
    """What the assistant says is shown to newcomers and to caseworkers: no markup (issue 11)."""
    edit(
        copy,
        "domain.yml",
        '- text: "What can I help you with? Choose a topic',
        '- text: "<img src=x onerror=alert(1)>What can I help you with? Choose a topic',
    )
    edit(copy, "domain.yml", 'title: "Find a job"', 'title: "Find a job hx-on:click=alert(1)"')
    edit(copy, "domain.yml", 'title: "Library card"', 'title: "Library card (< 6 years: free)"')
    errors = [e for e in problems(copy) if "content is plain text" in e.message]
    assert [(Path(e.path).name, e.line) for e in errors] == [
        ("domain.yml", line_of(copy, "domain.yml", "<img src=x")),
        ("domain.yml", line_of(copy, "domain.yml", "hx-on:click")),
    ], "\n".join(map(str, errors))


def test_a_placeholder_that_is_no_slot_nor_filled_by_its_action_is_a_typo(copy: Path):
    """{case_refrence} would show the newcomer nothing where the case reference should be."""
    edit(copy, "domain.yml", "Case reference: {case_reference}", "Case reference: {case_refrence}")
    edit(copy, "domain.yml", "Library branches in {district}:", "Library branches in {distrikt}:")
    typo = find(problems(copy), "domain.yml", "{case_refrence} is no slot")
    assert typo.line == line_of(copy, "domain.yml", "{case_refrence}")
    assert "case_reference, case_secret" in typo.message  # what the action fills
    assert find(problems(copy), "domain.yml", "{distrikt} is no slot").line == line_of(copy, "domain.yml", "{distrikt}")


def test_knowledge_texts_are_plain_text(tmp_path: Path):
    path = tmp_path / "events.yml"
    shutil.copy(DIALOGUES / "knowledge" / "events.yml", path)
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace('title: "Polish conversation club"', """title: '<a hx-get="/pl/chat">Club</a>'""", 1),
        encoding="utf-8",
    )
    with pytest.raises(ContentError) as caught:
        read_events(path, set(load_case_content(PROJECT_ROOT / "cases").districts))
    line = next(n for n, row in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if "hx-get" in row)
    assert str(caught.value).startswith(f"{path}:{line}: `title` contains markup '<a hx-get=")


def test_every_problem_is_reported_at_once(copy: Path):
    edit(copy, "data/rules.yml", "      - intent: thank\n", "      - intent: thanks\n")
    edit(copy, "data/nlu/pl/basics.yml", "[po polsku](language)", "[po polsku](lang)")
    edit(copy, "data/stories.yml", "      - action: utter_job_search\n", "      - action: utter_job_offers\n")
    errors = problems(copy)
    assert {Path(e.path).name for e in errors} >= {"rules.yml", "basics.yml", "stories.yml"}
    assert all(re.match(r".+:\d+: .+", str(e)) for e in errors)

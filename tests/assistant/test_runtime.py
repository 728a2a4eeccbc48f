"""The dialogue engine on the real dialogue files: the conversation tests, forms, fallback, state."""

from __future__ import annotations

import pytest

from app.assistant.conversation_tests import run_tests
from app.assistant.flows import dialogue_engine
from app.assistant.runtime import Parsed, Tracker
from app.db import utcnow


@pytest.fixture(scope="module")
def engine():
    from app.config import get_settings

    return dialogue_engine(get_settings())


def say(engine, tracker, settings, text, **overrides):
    parsed = engine.parse(text, tracker)
    for key, value in overrides.items():
        setattr(parsed, key, value)
    return parsed, engine.handle(tracker=tracker, parsed=parsed, settings=settings, db=None, conversation=None, now=utcnow())


def test_every_conversation_test_passes(engine):
    results = run_tests(engine.data)
    failed = [(name, why) for name, ok, why in results if not ok]
    assert len(results) >= 15 and failed == []


def test_state_round_trips_through_json(engine, settings):
    import json

    tracker = Tracker(language="uk")
    say(engine, tracker, settings, "/fill_form")
    saved = json.loads(json.dumps(tracker.to_state()))
    again = Tracker.from_state(saved, "pl")
    assert again.active_loop == "case_form" and again.requested_slot == "case_topic" and again.language == "uk"


def test_rule_that_follows_the_bots_question_wins(engine, settings):
    tracker = Tracker(language="en")
    say(engine, tracker, settings, "/library_branches")
    assert tracker.last_action == "action_find_library_branch"
    _parsed, answer = say(engine, tracker, settings, "Podgórze", intent="inform", entities=[{"entity": "district", "value": "Podgórze"}])
    assert "Podgórze" in answer[0].text


def test_stop_in_a_form_asks_to_continue_and_affirm_resumes(engine, settings):
    tracker = Tracker(language="en")
    say(engine, tracker, settings, '/fill_form{"case_topic": "culture"}')
    assert tracker.requested_slot == "case_description"
    say(engine, tracker, settings, "/stop")
    assert tracker.paused
    _parsed, answer = say(engine, tracker, settings, "/affirm")
    assert not tracker.paused and tracker.active_loop == "case_form" and tracker.requested_slot == "case_description"
    assert answer  # the question is asked again


def test_first_fallback_asks_to_rephrase_second_hands_over(engine, settings):
    tracker = Tracker(language="en")
    _p, first = say(engine, tracker, settings, "zzzz", intent="nlu_fallback", confidence=0.1)
    assert tracker.fallbacks == 1 and first
    assert "action:action_handoff" not in tracker.history


def test_parsed_is_a_plain_record():
    parsed = Parsed(text="x", language="pl", intent="greet", confidence=1.0, entities=[])
    assert parsed.ranking == []


def test_crisis_words_get_the_emergency_answer_even_inside_a_form(engine, settings):
    tracker = Tracker(language="en")
    say(engine, tracker, settings, '/fill_form{"case_topic": "housing"}')
    assert tracker.active_loop == "case_form"
    # Whatever the classifier thinks of it (it was seen to say "deny"), the answer is the help one.
    _parsed, answer = say(engine, tracker, settings, "no. i dont want to live anymore", intent="deny", confidence=0.9)
    expected = engine.render("utter_psychological_help", tracker).text
    assert answer[0].text == expected and "116 123" in expected
    assert tracker.active_loop is None


def test_knowledge_errors_name_file_and_line(tmp_path):
    from app.assistant.knowledge import read_branches
    from app.content import ContentError

    path = tmp_path / "library_branches.yml"
    path.write_text(
        "version: 1\nbranches:\n  - id: x\n    name: X\n    district: Atlantis\n    address: a\n"
        "    schedule: [{days: [MO], opens_at: '10:00', closes_at: '12:00'}]\n",
        encoding="utf-8",
    )
    with pytest.raises(ContentError) as caught:
        read_branches(path, {"Nowa Huta"})
    assert str(caught.value).startswith(f"{path}:5:") and "Atlantis" in str(caught.value)


def test_city_form_offers_must_name_known_intents_and_forms(tmp_path):
    from app.assistant.knowledge import read_city_forms
    from app.content import ContentError

    path = tmp_path / "city_forms.yml"
    path.write_text("version: 1\noffers:\n  library_card: biblioteka-karta\n  fly_to_mars: pismo-ogolne\n", encoding="utf-8")
    intents, forms = frozenset({"library_card"}), frozenset({"biblioteka-karta", "pismo-ogolne"})
    with pytest.raises(ContentError) as caught:
        read_city_forms(path, intents=intents, form_ids=forms)
    assert str(caught.value).startswith(f"{path}:4:") and "fly_to_mars" in str(caught.value)

    path.write_text("version: 1\noffers:\n  library_card: karta-na-ksiezyc\n", encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        read_city_forms(path, intents=intents, form_ids=forms)
    assert str(caught.value).startswith(f"{path}:3:") and "karta-na-ksiezyc" in str(caught.value)
    assert "biblioteka-karta" in str(caught.value)  # the message lists the forms there are

    path.write_text("version: 1\noffers:\n  library_card: biblioteka-karta\n", encoding="utf-8")
    assert read_city_forms(path, intents=intents, form_ids=forms) == {"library_card": "biblioteka-karta"}


def test_shipped_city_form_offers_point_at_forms_of_the_topic(settings):
    from app.assistant.knowledge import load_knowledge
    from app.forms import service as forms_service

    topic = {  # the case category each intent is about
        "labour_register": "labour_registration", "library_card": "library", "polish_course": "polish_course",
        "cultural_events": "culture", "legal_help": "legal_aid", "housing_help": "housing",
        "psychological_help": "psychological_support",
    }
    offers = load_knowledge(settings).city_forms
    assert set(offers) == set(topic)
    forms = forms_service.forms(settings)
    for intent, form_id in offers.items():
        form = forms[form_id]
        categories = {form.category} | set(form.category_rule.by_choice.values() if form.category_rule else ())
        assert topic[intent] in categories, (intent, form_id, categories)


def test_language_hints_stay_bounded():
    from app.assistant.service import _LanguageHints

    hints = _LanguageHints(size=3)
    for i in range(5):
        hints.put("rest", f"s{i}", "uk")
    hints.put("rest", "s2", "pl")  # seen again: kept as the newest
    hints.put("rest", "s5", "en")
    assert hints.get("rest", "s0") is None and hints.get("rest", "s3") is None
    assert (hints.get("rest", "s2"), hints.get("rest", "s4"), hints.get("rest", "s5")) == ("pl", "uk", "en")


def test_follow_ups_must_name_known_topics_questions_and_answers(tmp_path):
    from app.assistant.knowledge import read_follow_ups
    from app.content import ContentError

    path = tmp_path / "follow_ups.yml"
    intents, answers = frozenset({"library_card"}), frozenset({"utter_library_card", "action_find_library_branch"})
    path.write_text("version: 1\nfollow_ups:\n  fly_to_mars: {where: utter_library_card}\n", encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        read_follow_ups(path, intents=intents, answers=answers)
    assert str(caught.value).startswith(f"{path}:3:") and "fly_to_mars" in str(caught.value)
    path.write_text("version: 1\nfollow_ups:\n  library_card:\n    why: utter_library_card\n", encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        read_follow_ups(path, intents=intents, answers=answers)
    assert str(caught.value).startswith(f"{path}:4:") and "'why'" in str(caught.value)
    path.write_text("version: 1\nfollow_ups:\n  library_card:\n    cost: utter_free_rocket\n", encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        read_follow_ups(path, intents=intents, answers=answers)
    assert str(caught.value).startswith(f"{path}:4:") and "utter_free_rocket" in str(caught.value)
    path.write_text(
        "version: 1\nfollow_ups:\n  library_card: {where: action_find_library_branch, cost: utter_library_card}\n",
        encoding="utf-8",
    )
    assert read_follow_ups(path, intents=intents, answers=answers) == {
        "library_card": {"where": "action_find_library_branch", "cost": "utter_library_card"}
    }


def test_every_follow_up_of_the_dialogues_is_valid(settings):
    from app.assistant.knowledge import load_knowledge

    follow_ups = load_knowledge(settings).follow_ups
    assert {"labour_register", "library_branches", "cultural_events"} <= set(follow_ups)
    assert follow_ups["library_branches"]["where"] == "action_find_library_branch"


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        # the Arabic question mark ends a sentence, the Arabic comma follows a greeting
        ("أين أتعلم اللغة البولندية؟ وكيف أجد عملا؟", ["أين أتعلم اللغة البولندية؟", "وكيف أجد عملا؟"]),
        ("مرحبا، فقدت عملي، ماذا أفعل؟", ["مرحبا", "فقدت عملي، ماذا أفعل؟"]),
        # the Devanagari danda ends one too
        ("मुझे नौकरी चाहिए। पोलिश कहाँ सीखें?", ["मुझे नौकरी चाहिए।", "पोलिश कहाँ सीखें?"]),
    ],
)
def test_sentences_and_greetings_split_in_every_script(engine, text, parts):
    from app.assistant.runtime import split_parts

    assert split_parts(text, lexicon=engine.data.lexicon) == parts


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("რა ღირს?", True),  # "ღირ*": the stem of "costs", "price" with its endings
        ("რა ფასი აქვს?", True),
        ("რამდენი ღირს ბილეთი?", True),
        ("ღიაა ხვალ?", False),  # "open" is when, not cost
    ],
)
def test_short_stems_marked_with_a_star_match_with_endings(engine, text, asks):
    from app.assistant.runtime import _asks_with

    assert _asks_with("ask_cost", text, engine.data.lexicon) is asks

"""The NLU on the real dialogues: intents per language, language with a prior, entities, payloads, cache."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from app.assistant import nlu
from app.assistant.data import DialogueData, load_dialogues
from app.assistant.flows import dialogue_engine
from app.assistant.nlu import NLUModel, extract_entities, normalize, train_or_load
from app.assistant.runtime import Tracker, models_dir
from app.config import PROJECT_ROOT
from app.languages import KNOWN_LOCALES, LINGUA_SWITCH_THRESHOLD, detect_language
from tests.assistant.subset import content_with_languages

LANGUAGES = list(KNOWN_LOCALES)


@pytest.fixture(scope="module")
def data() -> DialogueData:
    return load_dialogues(PROJECT_ROOT / "dialogues")


@pytest.fixture(scope="module")
def model(data: DialogueData) -> NLUModel:
    """The model of the shipped dialogues, from the cache the app uses (trained once for the run)."""
    return train_or_load(data, models_dir())


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> DialogueData:
    """Dialogues with two languages' examples: what the cache does needs no more (trains in a second)."""
    return load_dialogues(content_with_languages(tmp_path_factory.mktemp("content")) / "dialogues")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def parse(model: NLUModel, text: str, prior: str | None = "pl") -> nlu.Parse:
    return model.parse(text, enabled_languages=LANGUAGES, prior_language=prior)


# --- intents -------------------------------------------------------------------------------------


def test_held_out_intent_accuracy_is_at_least_95_percent_in_every_language(data: DialogueData):
    # One stratified 80/20 split (one training, a fifth of a 5-fold round's time) keeps the suite
    # fast; `witaj dialogues test` (5-fold cross-validation three times, every example held out, run
    # by .ci/run after the suite) is the gate and the figure published.
    result = nlu.evaluate(data, folds=1, repeats=1, test_size=0.2, seed=0)
    assert set(result.accuracy) == set(LANGUAGES)
    for language, accuracy in result.accuracy.items():
        # Each intent of each language has its fifth held out.
        assert abs(result.tested[language] - len(data.examples[language]) / 5) <= len(data.domain.intents)
        assert accuracy >= 0.95, (language, accuracy, result.errors[language])


def test_the_conversation_tests_first_messages_get_their_intent(data: DialogueData, settings):
    """The first message of every test conversation needs no context: the engine's reading of it (the
    NLU, and the parts of a message with more than one thing in it) gives the story's intent. Later
    messages are read in their conversation (follow-ups): `witaj dialogues test` checks those."""
    engine = dialogue_engine(settings)
    for story in data.tests:
        first = next(step for step in story.steps if step.kind == "user")
        if first.name:
            result = engine.parse(first.user_text or "", Tracker(language="pl"))
            assert result.intent == first.name, (story.name, first.user_text, result.ranking[:3])


def test_gibberish_goes_to_the_fallback_and_the_threshold_decides(model: NLUModel):
    for text in ("blorp fizz wobble", "qwertyuiop", "zzz", ""):
        assert parse(model, text).intent == "nlu_fallback", text
    result = model.parse("blorp fizz wobble", enabled_languages=LANGUAGES, prior_language="en", threshold=0.0)
    assert result.intent != "nlu_fallback"
    assert result.ranking[0] == (result.intent, result.confidence)


def test_ranking_is_sorted_and_confident_on_clear_messages(model: NLUModel):
    result = parse(model, "gdzie jest najbliższa biblioteka?")
    assert result.intent == "library_branches" and result.confidence > 0.9
    confidences = [c for _, c in result.ranking]
    assert confidences == sorted(confidences, reverse=True) and len(result.ranking) <= 10
    assert all(0.0 <= c <= 1.0 for c in confidences)


def test_text_without_diacritics_is_understood_like_with_them(model: NLUModel):
    assert normalize("  Zażółć GĘŚLĄ   jaźń ") == "zazolc gesla jazn"
    with_marks = parse(model, "chcę się zarejestrować jako bezrobotny")
    without = parse(model, "chce sie zarejestrowac jako bezrobotny")
    assert with_marks.intent == without.intent == "labour_register"
    assert nlu.fold("Łódź Ї") == "lodz і" and len(nlu.fold("Новій Гуті")) == len("Новій Гуті")


def test_fast_scoring_matches_scikit_learn(data: DialogueData, model: NLUModel):
    inner = model.classifier._model
    texts = [normalize(e.text) for e in data.examples["uk"][:50]] + ["", "xyz qqq"]
    fast = np.array([inner.decision(t) for t in texts])
    assert np.allclose(fast, inner.decision_batch(texts))


# --- language ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["ok", "42", "KRK-2026-000123", "tak", "?!", "ok 👍"])
@pytest.mark.parametrize("prior", ["uk", "en", "be"])
def test_short_or_languageless_messages_keep_the_conversation_language(text: str, prior: str):
    assert detect_language(text, enabled=LANGUAGES, prior=prior) == (prior, 0.0)


@pytest.mark.parametrize(
    ("text", "prior", "expected"),
    [
        ("I would like to register as unemployed at the labour office", "pl", "en"),
        ("Chcę się zarejestrować w urzędzie pracy jako bezrobotna", "uk", "pl"),
        ("шукаю роботу в Кракові, де знайти вакансії?", "en", "uk"),
        ("где находится ближайшая библиотека в Кракове?", "pl", "ru"),
    ],
)
def test_a_full_sentence_in_another_language_switches(text: str, prior: str, expected: str):
    language, confidence = detect_language(text, enabled=LANGUAGES, prior=prior)
    assert language == expected and confidence >= LINGUA_SWITCH_THRESHOLD


def test_transliterations_keep_a_cyrillic_prior(model: NLUModel):
    assert detect_language("de najblyzhcha biblioteka", enabled=LANGUAGES, prior="uk")[0] == "uk"
    assert parse(model, "de biblioteka", prior="uk").language == "uk"
    assert parse(model, "kak zapisatsya v biblioteku", prior="ru").language == "ru"
    assert parse(model, "dze biblijateka, kali łaska", prior="be").language == "be"
    assert parse(model, "I am looking for a job in Krakow, any vacancies?", prior="uk").language == "en"


def test_one_word_rarely_switches(model: NLUModel):
    for word in ("okay", "biblioteka", "hello", "super"):
        assert parse(model, word, prior="uk").language == "uk", word
    for word in ("okay", "hello"):
        assert parse(model, word, prior="pl").language == "pl", word
    assert parse(model, "привіт", prior="pl").language == "uk"  # Cyrillic cannot be Polish
    assert parse(model, "dziękuję", prior="en").language == "pl"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        # Vietnamese tone marks are no Polish, whatever lingua makes of "Kraków"'s ó.
        ("cuối tuần ở Kraków có gì cho trẻ em?", "vi"),
        ("Tôi muốn đăng ký thất nghiệp ở Kraków", "vi"),
        ("Kraków'da çocuklar için hafta sonu ne var?", "tr"),
    ],
)
def test_letters_only_one_latin_language_writes_switch_from_any_prior(model: NLUModel, text: str, language: str):
    for prior in ("pl", "en", "uk", "es"):
        if language in LANGUAGES and prior in LANGUAGES:
            assert parse(model, text, prior=prior).language == language, prior


def test_a_foreign_name_alone_does_not_switch(model: NLUModel):
    # Two Turkish letters in one word (a surname) are no Turkish sentence.
    assert detect_language("Pani Kılıç szuka pracy w Krakowie", enabled=LANGUAGES, prior="pl")[0] == "pl"


def test_lacinka_is_never_taken_for_polish():
    assert (
        detect_language("jak atrymać čytacki bilet ŭ biblijatecy", enabled=LANGUAGES, prior="be")[0] == "be"
    )


def test_place_names_do_not_decide_the_language(model: NLUModel):
    assert parse(model, "I live in Kazimierz", prior="en").language == "en"
    assert parse(model, "library in Nowa Huta", prior="ru").language == "en"


def test_language_is_chosen_among_enabled_languages_only():
    assert detect_language("шукаю роботу в Кракові", enabled=["pl", "en"], prior="en")[0] == "en"
    assert detect_language("ok", enabled=["pl", "en"], prior=None) == ("pl", 0.0)
    assert detect_language("I am looking for a job in Krakow", enabled=LANGUAGES, prior=None)[0] == "en"
    with pytest.raises(ValueError):
        detect_language("hello", enabled=["de"], prior=None)


# --- entities ------------------------------------------------------------------------------------


def entity(found: list[dict], name: str) -> dict:
    matches = [e for e in found if e["entity"] == name]
    assert len(matches) == 1, found
    return matches[0]


def test_case_reference_from_the_regex(data: DialogueData):
    text = "jaki jest status sprawy krk-2026-000123?"
    found = entity(extract_entities(text, data), "case_reference")
    assert found["value"] == "krk-2026-000123" and text[found["start"] : found["end"]] == found["value"]
    assert not [e for e in extract_entities(text, data) if e["entity"] == "date"]


@pytest.mark.parametrize(
    ("text", "surface", "district"),
    [
        ("mieszkam w Nowej Hucie", "Nowej Hucie", "Nowa Huta"),
        ("mieszkam na podgorzu", "podgorzu", "Podgórze"),
        ("я живу в Новій Гуті", "Новій Гуті", "Nowa Huta"),
        ("library in Kazimierz please", "Kazimierz", "Stare Miasto"),
        ("живу на ручае", "ручае", "Dębniki"),
    ],
)
def test_districts_with_inflections_neighbourhoods_and_without_diacritics(
    data: DialogueData, text: str, surface: str, district: str
):
    found = entity(extract_entities(text, data), "district")
    assert found["value"] == district
    assert text[found["start"] : found["end"]] == surface


def test_language_contact_preference_and_dates(data: DialogueData):
    assert entity(extract_entities("możesz pisać po ukraińsku?", data), "language")["value"] == "uk"
    assert entity(extract_entities("давай українською", data), "language")["value"] == "uk"
    assert entity(extract_entities("wolę przez telefon", data), "contact_preference")["value"] == "phone"
    assert entity(extract_entities("spotkanie 12.05.2026", data), "date")["value"] == "2026-05-12"
    assert entity(extract_entities("events on 2026-06-01?", data), "date")["value"] == "2026-06-01"
    assert entity(extract_entities("концерти на вихідних", data), "date")["value"] == "на вихідних"
    assert not extract_entities("31.02.2026", data)


# --- payloads ------------------------------------------------------------------------------------


def test_button_payloads_skip_the_classifier(model: NLUModel):
    result = parse(model, '/fill_form{"case_topic": "housing"}', prior="uk")
    assert (result.intent, result.confidence, result.language) == ("fill_form", 1.0, "uk")
    assert [(e["entity"], e["value"]) for e in result.entities] == [("case_topic", "housing")]
    switch = parse(model, '/change_language{"language": "be"}', prior="pl")
    assert (switch.intent, switch.language, switch.entities[0]["value"]) == ("change_language", "pl", "be")
    assert parse(model, "/greet").intent == "greet"
    assert parse(model, "/human_handoff{not json").entities == []
    assert parse(model, "/make_coffee").confidence < 1.0  # not an intent: read as text


# --- cache ---------------------------------------------------------------------------------------


def test_the_model_is_trained_once_and_then_loaded(small: DialogueData, cache_dir: Path):
    model = train_or_load(small, cache_dir)
    again = train_or_load(small, cache_dir)
    assert again.loaded_from_cache and again.key == model.key
    text = "szukam pracy w Krakowie"
    assert again.classifier.predict(text) == model.classifier.predict(text)


def test_a_corrupted_or_stale_cache_is_retrained(small: DialogueData, cache_dir: Path, tmp_path: Path):
    data = small
    train_or_load(data, cache_dir)
    cached = nlu.model_path(data, cache_dir)
    broken = tmp_path / cached.name
    broken.write_bytes(b"not a model")
    # Older models of other data: the newest few are kept (an edit undone reuses one), the rest go.
    stale = []
    for n in range(nlu.KEEP_MODELS):
        stale.append(tmp_path / f"nlu-{n:024d}.joblib")
        shutil.copyfile(cached, stale[-1])
        os.utime(stale[-1], (1_000_000 + n, 1_000_000 + n))
    retrained = train_or_load(data, tmp_path)
    assert not retrained.loaded_from_cache
    assert not stale[0].exists() and all(p.exists() for p in stale[1:])
    assert len(list(tmp_path.glob("nlu-*.joblib"))) == nlu.KEEP_MODELS
    assert train_or_load(data, tmp_path).loaded_from_cache


def test_processes_needing_the_same_model_at_once_train_it_once(small: DialogueData, tmp_path: Path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    trained = []
    real = nlu.train
    monkeypatch.setattr(nlu, "train", lambda data: trained.append(1) or real(data))
    with ThreadPoolExecutor(2) as pool:  # flock locks open files: two threads stand for two processes
        models = list(pool.map(lambda _n: train_or_load(small, tmp_path), range(2)))
    assert len(trained) == 1 and sorted(m.loaded_from_cache for m in models) == [False, True]


def test_changed_data_gets_another_cache_key(data: DialogueData, tmp_path: Path):
    folder = Path(shutil.copytree(PROJECT_ROOT / "dialogues", tmp_path / "dialogues"))
    path = folder / "data" / "nlu" / "en" / "basics.yml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("      - hi there\n", "      - hi there\n      - howdy\n")
    )
    assert nlu.cache_key(load_dialogues(folder)) != nlu.cache_key(data)

"""`witaj dialogues ...` through click's runner, and the Rasa export it writes."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from app.assistant.cli import dialogues
from app.assistant.data import load_dialogues
from app.assistant.export import export_rasa
from app.config import PROJECT_ROOT
from app.languages import KNOWN_LOCALES, PLANNED_LOCALES
from tests.assistant.subset import content_with_languages

LANGUAGES = list(KNOWN_LOCALES)
SMALL = ("pl", "en", "uk")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Settings for the runner: the shipped content, and models cached in a scratch folder."""
    return {
        "WITAJ_CONTENT_DIR": str(PROJECT_ROOT),
        "WITAJ_MODELS_DIR": str(tmp_path_factory.mktemp("models")),
    }


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Settings for the commands that train: the shipped content with the Polish, English and
    Ukrainian examples only (what the commands do does not depend on the number of languages, and
    such a model trains in seconds), models cached in a scratch folder."""
    return {
        "WITAJ_CONTENT_DIR": str(content_with_languages(tmp_path_factory.mktemp("content"), SMALL)),
        "WITAJ_MODELS_DIR": str(tmp_path_factory.mktemp("small-models")),
    }


def run(args: list[str], env: dict[str, str]):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(dialogues, args, env=env)


def test_validate_prints_the_counts(env: dict[str, str]):
    result = run(["validate"], env)
    assert result.exit_code == 0, result.output
    intents = yaml.safe_load((PROJECT_ROOT / "dialogues" / "domain.yml").read_text(encoding="utf-8"))["intents"]
    assert result.output.startswith(f"ok: {len(intents)} intents, ")
    for language in LANGUAGES:
        assert f" in {language}" in result.output


def test_validate_prints_every_problem_with_file_and_line(tmp_path: Path, env: dict[str, str]):
    folder = Path(shutil.copytree(PROJECT_ROOT / "dialogues", tmp_path / "dialogues"))
    rules = folder / "data" / "rules.yml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("- intent: thank\n", "- intent: thanks\n"))
    line = next(n for n, text in enumerate(rules.read_text().splitlines(), 1) if "intent: thanks" in text)
    result = run(["validate"], {**env, "WITAJ_CONTENT_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert f"rules.yml:{line}: intent `thanks` is not under `intents` in domain.yml" in result.stderr
    assert "1 problem(s) in dialogues/" in result.stderr


def test_predict_prints_the_json_contract(small: dict[str, str]):
    text = "де найближча бібліотека в Новій Гуті?"
    result = run(["predict", text, "--language-prior", "pl"], small)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert set(answer) == {"language", "intent", "confidence", "entities"}
    assert (answer["language"], answer["intent"]) == ("uk", "library_branches")
    assert 0.6 <= answer["confidence"] <= 1.0
    start = text.index("Новій Гуті")
    assert answer["entities"] == [
        {"entity": "district", "value": "Nowa Huta", "start": start, "end": start + 10}
    ]


def test_predict_keeps_the_prior_for_a_bare_reference(small: dict[str, str]):
    result = run(["predict", "KRK-2026-000123", "--language-prior", "be"], small)
    answer = json.loads(result.output)
    assert (answer["language"], answer["intent"]) == ("be", "case_status")
    assert answer["entities"][0]["value"] == "KRK-2026-000123"


def test_train_then_reuses_the_cache(small: dict[str, str]):
    run(["train"], small)
    result = run(["train"], small)
    assert result.exit_code == 0 and result.output.startswith("up to date: ")
    forced = run(["train", "--force"], small)
    assert forced.exit_code == 0 and forced.output.startswith("trained in ")


def test_test_prints_accuracy_and_confusions_per_language(small: dict[str, str]):
    # Two folds of three languages' examples are enough to check the report (the bar itself is
    # tested on all the examples in test_nlu.py); a low bar keeps this test off the 95 % line.
    result = run(["test", "--folds", "2", "--repeats", "1", "--min-accuracy", "0.8"], small)
    assert result.exit_code == 0, result.output
    for language in SMALL:
        assert f"  {language} " in result.output
    assert "-> " in result.output  # confused pairs, expected -> predicted
    assert "conversation tests: " in result.output


def test_test_fails_below_the_minimum(small: dict[str, str]):
    result = run(["test", "--folds", "2", "--repeats", "1", "--min-accuracy", "0.999"], small)
    assert result.exit_code == 1
    assert "BELOW" in result.output


# --- export-rasa ---------------------------------------------------------------------------------


def test_export_rasa_writes_yaml_with_a_variation_per_language(tmp_path: Path, env: dict[str, str]):
    result = run(["export-rasa", str(tmp_path / "rasa")], env)
    assert result.exit_code == 0, result.output
    out = tmp_path / "rasa"
    for path in out.rglob("*.yml"):
        assert yaml.safe_load(path.read_text(encoding="utf-8")), path
    domain = yaml.safe_load((out / "domain.yml").read_text(encoding="utf-8"))
    assert domain["version"] == "3.1"
    assert domain["slots"]["language"]["type"] == "categorical"
    assert set(domain["slots"]["language"]["values"]) == set(PLANNED_LOCALES)
    for name, variations in domain["responses"].items():
        assert any("condition" not in v for v in variations), f"{name} has no default variation"
        for language in LANGUAGES:
            on = {"type": "slot", "name": "language", "value": language}
            assert any(on in v.get("condition", []) for v in variations), (name, language)
    config = yaml.safe_load((out / "config.yml").read_text(encoding="utf-8"))
    assert {"pipeline", "policies"} <= set(config)
    assert (out / "tests" / "test_conversations.yml").is_file()


def test_exported_data_is_the_same_data(tmp_path: Path):
    data = load_dialogues(PROJECT_ROOT / "dialogues")
    export_rasa(data, tmp_path)
    again = load_dialogues(tmp_path)
    for language in LANGUAGES:
        before = [
            (e.text, e.intent, [(s.entity, s.value) for s in e.entities]) for e in data.examples[language]
        ]
        after = [
            (e.text, e.intent, [(s.entity, s.value) for s in e.entities]) for e in again.examples[language]
        ]
        # The same examples (Rasa's export groups them by intent, so the order may differ).
        assert sorted(before) == sorted(after), language
    assert [(r.name, r.steps, r.condition) for r in again.rules] == [
        (r.name, r.steps, r.condition) for r in data.rules
    ]
    assert [s.name for s in again.stories] == [s.name for s in data.stories]
    assert again.synonyms == data.synonyms and again.lookups == data.lookups


def test_exported_responses_use_the_catalogs_and_exactly_one_variation_matches(tmp_path: Path):
    data = load_dialogues(PROJECT_ROOT / "dialogues")
    export_rasa(data, tmp_path, catalogs=lambda language, text: f"<{language}> {text}")
    domain = yaml.safe_load((tmp_path / "domain.yml").read_text(encoding="utf-8"))
    slots = domain["slots"]
    for name, variations in domain["responses"].items():
        conditioned = [v for v in variations if "condition" in v]
        tested = sorted({c["name"] for v in conditioned for c in v["condition"]} - {"language"})
        choices = [[*slots[s].get("values", []), None] for s in tested]
        for language, values in itertools.product(LANGUAGES, itertools.product(*choices)):
            state = {"language": language, **dict(zip(tested, values, strict=True))}
            # Rasa chooses at random among the matching conditional variations: there must be one.
            matching = [
                v for v in conditioned if all(state.get(c["name"]) == c["value"] for c in v["condition"])
            ]
            assert len(matching) == 1, (name, state)
            assert matching[0]["text"].startswith(f"<{language}> ")
            assert all(b["title"].startswith(f"<{language}> ") for b in matching[0].get("buttons", []))

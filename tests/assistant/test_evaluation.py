"""Scores of `witaj dialogues evaluate`: precision, recall and F1 per intent worked out by hand, the
report's confusion matrix and worst confusions with examples, the change against an earlier report,
and the HTML report (its figures, its examples printed as text, no scripts)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from click.testing import CliRunner

from app import i18n
from app.assistant import evaluation as evaluation_module
from app.assistant.cli import dialogues
from app.assistant.evaluation import compare, intent_scores, report
from app.assistant.nlu import Evaluation
from app.config import get_settings
from app.i18n import format_number
from tests.assistant.subset import content_with_languages


def evaluation(outcomes: Counter) -> Evaluation:
    errors = [("kiedy mogę przyjść", "ask_when", "appointment")] * outcomes[("ask_when", "appointment")]
    return Evaluation(
        accuracy={"pl": sum(n for (e, p), n in outcomes.items() if e == p) / sum(outcomes.values())},
        tested={"pl": sum(outcomes.values())},
        confusions={"pl": Counter({k: n for k, n in outcomes.items() if k[0] != k[1]})},
        errors={"pl": errors},
        folds=5, repeats=1, training_seconds=0.1, outcomes={"pl": outcomes},
    )


def test_precision_recall_and_f1_per_intent():
    # 8 appointments right, 2 taken for ask_when; 6 ask_when right, 4 taken for appointment.
    scores = intent_scores(Counter({("appointment", "appointment"): 8, ("appointment", "ask_when"): 2,
                                    ("ask_when", "ask_when"): 6, ("ask_when", "appointment"): 4}))
    assert scores["appointment"] == {"precision": round(8 / 12, 4), "recall": 0.8, "f1": round(2 * (8 / 12) * 0.8 / (8 / 12 + 0.8), 4), "support": 10}
    assert scores["ask_when"] == {"precision": 0.75, "recall": 0.6, "f1": round(2 * 0.75 * 0.6 / 1.35, 4), "support": 10}


def test_the_report_lists_the_worst_confusions_with_examples_and_compares_with_an_earlier_one():
    before = report(evaluation(Counter({("appointment", "appointment"): 10, ("ask_when", "ask_when"): 6, ("ask_when", "appointment"): 4})))
    confusion = before["languages"]["pl"]["confusions"][0]
    assert (confusion["expected"], confusion["predicted"], confusion["count"]) == ("ask_when", "appointment", 4)
    assert confusion["examples"] == ["kiedy mogę przyjść"] * 3  # at most three
    assert before["languages"]["pl"]["accuracy"] == 0.8
    after = report(evaluation(Counter({("appointment", "appointment"): 10, ("ask_when", "ask_when"): 9, ("ask_when", "appointment"): 1})))
    change = compare(after, before)["pl"]
    assert change["accuracy_delta"] == 0.15 and change["macro_f1_delta"] > 0
    assert [m["intent"] for m in change["intents"]] == ["ask_when", "appointment"]
    assert compare(after, {"version": 0, "languages": {}}) == {}


def test_the_report_keeps_the_confusion_matrix_and_compare_lists_the_confusions_that_moved():
    before = report(evaluation(Counter({("appointment", "appointment"): 10, ("ask_when", "ask_when"): 6, ("ask_when", "appointment"): 4})))
    assert before["languages"]["pl"]["matrix"] == {"appointment": {"appointment": 10}, "ask_when": {"appointment": 4, "ask_when": 6}}
    after = report(evaluation(Counter({("appointment", "appointment"): 9, ("appointment", "ask_when"): 1,
                                       ("ask_when", "ask_when"): 9, ("ask_when", "appointment"): 1})))
    assert compare(after, before)["pl"]["confusions"] == [
        {"expected": "ask_when", "predicted": "appointment", "count": 1, "delta": -3},
        {"expected": "appointment", "predicted": "ask_when", "count": 1, "delta": 1},
    ]


def crafted() -> dict:
    """A report whose confusion example is markup, as an editor might type into a training file."""
    result = report(evaluation(Counter({("appointment", "appointment"): 8, ("appointment", "ask_when"): 2,
                                        ("ask_when", "ask_when"): 6, ("ask_when", "appointment"): 4})))
    result["languages"]["pl"]["confusions"][0]["examples"] = ['<script>alert("x")</script> kiedy?']
    result["created_at"] = "2026-12-04T08:30:00+00:00"
    return result


def test_the_html_report_shows_the_figures_and_prints_examples_as_text(tmp_path: Path):
    result = crafted()
    settings = get_settings()
    evaluation_module.write(result, json_path=tmp_path / "e.json", html_path=tmp_path / "e.html", settings=settings)
    page = (tmp_path / "e.html").read_text(encoding="utf-8")
    assert json.loads((tmp_path / "e.json").read_text(encoding="utf-8")) == result
    f1 = result["languages"]["pl"]["intents"]["ask_when"]["f1"]
    assert f"<th scope=\"row\">ask_when</th><td class=\"number\">0.75</td><td class=\"number\">0.6</td>" \
        f"<td class=\"number\">{round(f1, 3)}</td>" in page.replace("\n    ", "")
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; kiedy?" in page
    assert "<script" not in page  # no scripts at all: the file opens anywhere, offline
    assert page.count('src="data:image/svg+xml;base64,') == 2  # F1 per intent and the confusion matrix
    assert "http://" not in page and "https://" not in page.replace("http://www.w3.org/2000/svg", "")


def test_evaluate_writes_the_json_and_the_html_report(tmp_path: Path):
    content = content_with_languages(tmp_path / "content", ("pl",))
    greet = content / "dialogues" / "data" / "nlu" / "pl" / "basics.yml"
    greet.write_text(greet.read_text(encoding="utf-8").replace("      - cześć!\n", "      - cześć! <script>alert(1)</script>\n", 1), encoding="utf-8")
    out = tmp_path / "var" / "evaluation.json"
    env = {"WITAJ_CONTENT_DIR": str(content), "WITAJ_MODELS_DIR": str(tmp_path / "models")}
    result = CliRunner().invoke(dialogues, ["evaluate", "--folds", "2", "--language", "pl", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["version"] == evaluation_module.VERSION and written["folds"] == 2
    assert set(written["languages"]) == {"pl"} and written["languages"]["pl"]["matrix"]
    page = out.with_suffix(".html").read_text(encoding="utf-8")
    intent, scores = min(written["languages"]["pl"]["intents"].items(), key=lambda item: item[1]["f1"])
    with i18n.use_locale("en"):
        assert f"<th scope=\"row\">{intent}</th><td class=\"number\">{format_number(round(scores['precision'], 3))}</td>" in page
    assert "<script" not in page

"""Scores of `witaj dialogues evaluate`: precision, recall and F1 per intent worked out by hand, the
report's worst confusions with examples, and the change against an earlier report."""

from __future__ import annotations

from collections import Counter

from app.assistant.evaluation import compare, intent_scores, report
from app.assistant.nlu import Evaluation


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

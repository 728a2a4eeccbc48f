"""Scores of the intent classifier like `rasa test nlu`: per language and per intent precision, recall
and F1 from cross-validated predictions, the worst confusions with examples, a JSON report, and the
change against an earlier report (did an edit of dialogues/ help?)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from app.assistant.nlu import Evaluation

#: Confusions listed per language, and examples shown for each.
WORST = 10
EXAMPLES = 3
#: Report format: bump when its shape changes (an older report is then not compared).
VERSION = 1


def intent_scores(outcomes: Counter[tuple[str, str]]) -> dict[str, dict[str, float]]:
    """Return intent -> {precision, recall, f1, support} from (expected, predicted) -> count."""
    intents = sorted({expected for expected, _p in outcomes} | {predicted for _e, predicted in outcomes})
    scores: dict[str, dict[str, float]] = {}
    for intent in intents:
        right = outcomes.get((intent, intent), 0)
        predicted = sum(n for (_e, p), n in outcomes.items() if p == intent)
        support = sum(n for (e, _p), n in outcomes.items() if e == intent)
        precision = right / predicted if predicted else 0.0
        recall = right / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[intent] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "support": support}
    return scores


def report(result: Evaluation) -> dict[str, Any]:
    """Return the evaluation as a JSON-ready report: per language accuracy, macro F1, intents, the
    worst confusions with up to EXAMPLES misclassified texts each."""
    languages: dict[str, Any] = {}
    for language, accuracy in result.accuracy.items():
        scores = intent_scores(result.outcomes.get(language, Counter()))
        # Intents that only appear as predictions (support 0) do not count in the macro average.
        tested = [s["f1"] for s in scores.values() if s["support"]]
        examples: dict[tuple[str, str], list[str]] = {}
        for text, expected, predicted in result.errors.get(language, []):
            examples.setdefault((expected, predicted), [])
            if len(examples[(expected, predicted)]) < EXAMPLES:
                examples[(expected, predicted)].append(text)
        worst = sorted(result.confusions.get(language, Counter()).items(), key=lambda item: (-item[1], item[0]))[:WORST]
        languages[language] = {
            "accuracy": round(accuracy, 4),
            "predictions": result.tested[language],
            "macro_f1": round(sum(tested) / len(tested), 4) if tested else 0.0,
            "intents": scores,
            "confusions": [
                {"expected": e, "predicted": p, "count": n, "examples": examples.get((e, p), [])} for (e, p), n in worst
            ],
        }
    return {"version": VERSION, "folds": result.folds, "repeats": result.repeats, "languages": languages}


def compare(now: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """Return the change from before to now: per language the accuracy and macro F1 deltas, and the
    intents whose F1 moved, most first."""
    if before.get("version") != now.get("version"):
        return {}
    changes: dict[str, Any] = {}
    for language, mine in now["languages"].items():
        theirs = before["languages"].get(language)
        if theirs is None:
            continue
        moved = []
        for intent, score in mine["intents"].items():
            old = theirs["intents"].get(intent)
            delta = round(score["f1"] - (old["f1"] if old else 0.0), 4)
            if delta:
                moved.append({"intent": intent, "f1": score["f1"], "delta": delta})
        changes[language] = {
            "accuracy_delta": round(mine["accuracy"] - theirs["accuracy"], 4),
            "macro_f1_delta": round(mine["macro_f1"] - theirs["macro_f1"], 4),
            "intents": sorted(moved, key=lambda m: (-abs(m["delta"]), m["intent"])),
        }
    return changes

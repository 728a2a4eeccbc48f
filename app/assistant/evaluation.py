"""Scores of the intent classifier like `rasa test nlu`: per language and per intent precision, recall
and F1 from cross-validated predictions, the confusion matrix, the worst confusions with examples, a
JSON report, the change against an earlier report (did an edit of dialogues/ help?), and the same
figures as a self-contained HTML file with charts drawn on the server."""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup

from app import charts, i18n, web
from app.assistant.data import load_dialogues
from app.assistant.nlu import Evaluation, evaluate
from app.config import Settings
from app.db import utcnow
from app.i18n import _
from app.languages import native_name

#: Confusions listed per language, and examples shown for each.
WORST = 10
EXAMPLES = 3
#: Report format: bump when its shape changes (an older report is then not compared).
VERSION = 2
#: The stylesheet of the scores, linked by the staff page and copied into the HTML file.
STYLESHEET = web.STATIC_DIR / "css" / "scores.css"


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


def matrix(outcomes: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """Return the confusion matrix as expected -> predicted -> count, its non-zero cells only."""
    rows: dict[str, dict[str, int]] = {}
    for (expected, predicted), count in sorted(outcomes.items()):
        if count:
            rows.setdefault(expected, {})[predicted] = count
    return rows


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
            "matrix": matrix(result.outcomes.get(language, Counter())),
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
            "confusions": _moved_confusions(mine["matrix"], theirs["matrix"]),
        }
    return changes


def _moved_confusions(now: dict[str, dict[str, int]], before: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    # The cells off the diagonal whose count changed, most first: which confusion an edit fixed or made.
    cells = {(e, p) for e, row in now.items() for p in row} | {(e, p) for e, row in before.items() for p in row}
    moved = []
    for expected, predicted in cells:
        if expected == predicted:
            continue
        count = now.get(expected, {}).get(predicted, 0)
        delta = count - before.get(expected, {}).get(predicted, 0)
        if delta:
            moved.append({"expected": expected, "predicted": predicted, "count": count, "delta": delta})
    return sorted(moved, key=lambda m: (-abs(m["delta"]), m["expected"], m["predicted"]))[:WORST]


def run(settings: Settings, *, folds: int = 5, seed: int = 0, before: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the report of a k-fold cross-validation of the dialogues of settings' content, stamped
    with its time, and with the change since before when that is a report of the same format;
    raise ContentError(s) when dialogues/ does not load."""
    data = load_dialogues(settings.content_dir / "dialogues")
    result = report(evaluate(data, folds=max(folds, 2), seed=seed))
    result["created_at"] = utcnow().isoformat(timespec="seconds")
    if before is not None:
        changes = compare(result, before)
        if changes:
            result["comparison"] = {"created_at": before.get("created_at"), "languages": changes}
    return result


def chart_urls(result: dict[str, Any]) -> dict[str, dict[str, str | None]]:
    """Return per language the charts of a report as data: URLs: "f1" (per intent, weakest first)
    and "matrix" (the confusion matrix)."""
    urls: dict[str, dict[str, str | None]] = {}
    for language, scores in result.get("languages", {}).items():
        intents = sorted(scores["intents"].items(), key=lambda item: (item[1]["f1"], item[0]))
        labels = sorted(scores["intents"])
        cells = [(e, p, n) for e, row in scores.get("matrix", {}).items() for p, n in row.items()]
        urls[language] = {
            "f1": charts.bars([(intent, s["f1"]) for intent, s in intents if s["support"]],
                              value_title=_("F1"), domain=(0, 1)),
            "matrix": charts.heatmap(
                cells, labels=labels, x_title=_("Predicted intent"), y_title=_("Expected intent"),
                right_title=_("Right"), wrong_title=_("Confused"),
            ),
        }
    return urls


def view(result: dict[str, Any]) -> dict[str, Any]:
    """Return the template variables of a report (templates/assistant/_scores.html): the report, its
    time as a datetime, the intents of each language weakest first, its confusions (the matrix off
    the diagonal) most first, and the charts."""
    created = result.get("created_at")
    compared = (result.get("comparison") or {}).get("created_at")
    return {
        "report": result,
        "created_at": _when(created),
        "compared_at": _when(compared),
        "changes": (result.get("comparison") or {}).get("languages", {}),
        "weakest": {
            language: sorted(scores["intents"].items(), key=lambda item: (item[1]["f1"], item[0]))
            for language, scores in result.get("languages", {}).items()
        },
        "confused": {
            language: sorted(
                ((e, p, n) for e, row in scores.get("matrix", {}).items() for p, n in row.items() if e != p),
                key=lambda cell: (-cell[2], cell[0], cell[1]),
            )
            for language, scores in result.get("languages", {}).items()
        },
        "charts": chart_urls(result),
        "language_names": {language: native_name(language) for language in result.get("languages", {})},
    }


def _when(value: Any) -> Any:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def html(result: dict[str, Any], *, settings: Settings, locale: str = "en") -> str:
    """Return the report as a self-contained HTML page (no scripts, nothing fetched: the charts are
    data: URLs and the stylesheet is inside) in locale."""
    with i18n.use_locale(locale):
        env = web.environment(str(settings.template_path), str(settings.locale_path))
        return env.get_template("assistant/evaluation_report.html").render(
            **view(result), locale=locale, dir=i18n.text_direction(locale), settings=settings,
            # Our own stylesheet, not user input: inside <style>, escaping would break its selectors.
            stylesheet=Markup(STYLESHEET.read_text(encoding="utf-8")),  # noqa: S704
        )


def write(result: dict[str, Any], *, json_path: Path, html_path: Path | None, settings: Settings,
          locale: str = "en") -> None:
    """Write the JSON report and its HTML page, each replacing the old file at once (a reader sees the
    old file or the new one, never half of one)."""
    page = html(result, settings=settings, locale=locale) if html_path is not None else None
    _replace(json_path, json.dumps(result, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
    if html_path is not None and page is not None:
        _replace(html_path, page)


def _replace(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide the report from the web server's user
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read(path: Path) -> dict[str, Any] | None:
    """Return the report at path, or None when there is none or it is of another format."""
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) and found.get("version") == VERSION else None

"""`witaj dialogues export-rasa`: the dialogues as a data set a Rasa 3.x server trains on.

Responses are English msgids in dialogues/; Rasa has no gettext, so every response gets one
conditional variation per language on the `language` slot, with the text from the catalogs.
The English variations stay as the unconditional default (used while `language` is unset).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

from app.assistant.data import DialogueData, Domain, Response, Slot, Step
from app.assistant.nlu import DEFAULT_THRESHOLD

Catalogs = Callable[[str, str], str]

#: Pipeline and policies for a multilingual bot: whitespace tokens and character n-grams work for
#: Latin and Cyrillic alike; the fallback threshold is the built-in engine's.
CONFIG: dict[str, Any] = {
    "recipe": "default.v1",
    "assistant_id": "witaj",
    # One model for all languages; no language-specific component is used, so no single code fits.
    "language": "xx",
    "pipeline": [
        {"name": "WhitespaceTokenizer"},
        {"name": "RegexFeaturizer", "case_sensitive": False},
        {"name": "LexicalSyntacticFeaturizer"},
        {"name": "CountVectorsFeaturizer"},
        {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 2, "max_ngram": 5},
        {"name": "DIETClassifier", "epochs": 100, "constrain_similarities": True},
        {
            "name": "RegexEntityExtractor",
            "use_lookup_tables": True,
            "use_regexes": True,
            "case_sensitive": False,
        },
        {"name": "EntitySynonymMapper"},
        {"name": "FallbackClassifier", "threshold": DEFAULT_THRESHOLD, "ambiguity_threshold": 0.1},
    ],
    "policies": [
        {"name": "MemoizationPolicy"},
        {"name": "RulePolicy", "core_fallback_threshold": 0.3, "enable_fallback_prediction": True},
        {"name": "TEDPolicy", "max_history": 5, "epochs": 100, "constrain_similarities": True},
    ],
}


def export_rasa(data: DialogueData, out_dir: Path, *, catalogs: Catalogs | None = None) -> list[Path]:
    """Write domain.yml, config.yml, data/ and tests/ for Rasa 3.x into out_dir; return the files written."""
    translate = catalogs or (lambda language, text: text)
    languages = list(data.examples)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [
        _write(out_dir / "domain.yml", _domain(data.domain, languages, translate)),
        _write(out_dir / "config.yml", CONFIG),
        _write(out_dir / "data" / "nlu" / "common.yml", _common(data)),
    ]
    for language in languages:
        written.append(_write(out_dir / "data" / "nlu" / language / "nlu.yml", _nlu(data, language)))
    written.append(
        _write(
            out_dir / "data" / "rules.yml",
            {"version": "3.1", "rules": [_rule(rule) for rule in data.rules]},
        )
    )
    written.append(
        _write(
            out_dir / "data" / "stories.yml",
            {
                "version": "3.1",
                "stories": [{"story": s.name, "steps": _steps(s.steps)} for s in data.stories],
            },
        )
    )
    # Test stories keep their annotated user texts, which the loaded data no longer has: copy them.
    for source in sorted({Path(story.path) for story in data.tests}):
        target = out_dir / "tests" / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        written.append(target)
    return written


# --- domain --------------------------------------------------------------------------------------


def _domain(domain: Domain, languages: list[str], translate: Catalogs) -> dict[str, Any]:
    slots = {name: _slot(slot) for name, slot in domain.slots.items()}
    language_slot = slots.setdefault(
        "language",
        {
            "type": "categorical",
            "influence_conversation": False,
            "mappings": [
                {"type": "from_entity", "entity": "language", "intent": "change_language"}
                if "language" in domain.entities and "change_language" in domain.intents
                else {"type": "custom"}
            ],
        },
    )
    language_slot["values"] = list(dict.fromkeys([*language_slot.get("values", []), *languages]))
    responses = {
        name: _variations(variations, languages, translate, domain.slots)
        for name, variations in domain.responses.items()
    }
    result: dict[str, Any] = {
        "version": "3.1",
        "intents": list(domain.intents),
        "entities": list(domain.entities),
        "slots": slots,
        "forms": {name: {"required_slots": list(form.required_slots)} for name, form in domain.forms.items()},
        "actions": list(domain.actions),
        "responses": responses,
    }
    if domain.session_config:
        result["session_config"] = dict(domain.session_config)
    return result


def _slot(slot: Slot) -> dict[str, Any]:
    body: dict[str, Any] = {"type": slot.type}
    if slot.values:
        body["values"] = list(slot.values)
    if slot.initial is not None:
        body["initial_value"] = slot.initial
    body["influence_conversation"] = slot.influence_conversation
    body["mappings"] = [dict(mapping) for mapping in slot.mappings]
    return body


def _variations(
    variations: tuple[Response, ...], languages: list[str], translate: Catalogs, slots: dict[str, Slot]
) -> list[dict[str, Any]]:
    defaults = [v for v in variations if not v.condition]
    conditional = [v for v in variations if v.condition]
    # Rasa picks at random among all matching conditional variations, so the per-language copy of a
    # default must not match where a more specific sibling does: it gets the complement of the
    # siblings' values when they all test one categorical slot, and only the language otherwise.
    complement = _complement(conditional, slots)
    out: list[dict[str, Any]] = []
    for language in languages:
        on_language = {"type": "slot", "name": "language", "value": language}
        for variation in conditional:
            out.append(
                _variation(variation, language, translate, [*(variation.condition or ()), on_language])
            )
        for variation in defaults:
            for condition in complement:
                out.append(_variation(variation, language, translate, [*condition, on_language]))
    out.extend(_variation(variation, None, translate, None) for variation in defaults)
    return out


def _complement(conditional: list[Response], slots: dict[str, Slot]) -> list[list[dict[str, Any]]]:
    if not conditional:
        return [[]]
    names = {c["name"] for v in conditional for c in v.condition or ()}
    single = all(len(v.condition or ()) == 1 for v in conditional)
    slot = slots.get(next(iter(names))) if len(names) == 1 else None
    if not single or slot is None or slot.type != "categorical":
        return [[]]
    taken = {str(v.condition[0].get("value")) for v in conditional if v.condition}
    free: list[object] = [value for value in slot.values if value not in taken]
    return [[{"type": "slot", "name": slot.name, "value": value}] for value in [*free, None]]


def _variation(
    variation: Response, language: str | None, translate: Catalogs, condition: list[dict[str, Any]] | None
) -> dict[str, Any]:
    def text(message: str) -> str:
        return translate(language, message) if language and message else message

    body: dict[str, Any] = {}
    if condition:
        body["condition"] = condition
    body["text"] = text(variation.text)
    if variation.buttons:
        body["buttons"] = [{"title": text(b.title), "payload": b.payload} for b in variation.buttons]
    return body


# --- NLU -----------------------------------------------------------------------------------------


def _common(data: DialogueData) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    for entity, patterns in data.regexes.items():
        items.append({"regex": entity, "examples": _block(patterns)})
    for entity, entries in data.lookups.items():
        items.append({"lookup": entity, "examples": _block(entries)})
    by_value: dict[str, list[str]] = {}
    for surface, value in data.synonyms.items():
        if surface != value.lower():
            by_value.setdefault(value, []).append(surface)
    for value, surfaces in by_value.items():
        items.append({"synonym": value, "examples": _block(surfaces)})
    return {"version": "3.1", "nlu": items}


def _nlu(data: DialogueData, language: str) -> dict[str, Any]:
    by_intent: dict[str, list[str]] = {}
    for example in data.examples[language]:
        by_intent.setdefault(example.intent, []).append(
            _annotated(example.text, example.entities, data.synonyms)
        )
    return {
        "version": "3.1",
        "nlu": [{"intent": i, "examples": _block(texts)} for i, texts in by_intent.items()],
    }


def _annotated(text: str, entities: Iterable[Any], synonyms: dict[str, str]) -> str:
    parts: list[str] = []
    cursor = 0
    for span in sorted(entities, key=lambda s: s.start):
        surface = text[span.start : span.end]
        parts.append(text[cursor : span.start])
        if span.value == surface or synonyms.get(surface.lower()) == span.value:
            parts.append(f"[{surface}]({span.entity})")
        else:
            parts.append(
                f"[{surface}]" + json.dumps({"entity": span.entity, "value": span.value}, ensure_ascii=False)
            )
        cursor = span.end
    parts.append(text[cursor:])
    return "".join(parts)


def _block(lines: Iterable[str]) -> str:
    return "".join(f"- {line}\n" for line in lines)


# --- rules and stories ---------------------------------------------------------------------------


def _rule(rule: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"rule": rule.name}
    if rule.conversation_start:
        body["conversation_start"] = True
    if rule.condition:
        body["condition"] = _steps(rule.condition)
    body["steps"] = _steps(rule.steps)
    if not rule.wait_for_user_input:
        body["wait_for_user_input"] = False
    return body


def _steps(steps: Iterable[Step]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for step in steps:
        if step.kind in ("intent", "user"):
            body: dict[str, Any] = {"intent": step.name}
            if step.entities:
                body["entities"] = [
                    {entity: value} if value is not None else entity for entity, value in step.entities
                ]
            out.append(body)
        elif step.kind == "action":
            out.append({"action": step.name})
        elif step.kind == "active_loop":
            out.append({"active_loop": step.name})
        elif step.kind == "slot_was_set":
            values = step.value if isinstance(step.value, dict) else {}
            out.append({"slot_was_set": [{slot: value} for slot, value in values.items()]})
        elif step.kind == "or":
            options = step.value if isinstance(step.value, tuple) else ()
            out.append({"or": _steps(options)})
    return out


# --- YAML ----------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block style, with multi-line strings as literal blocks (how Rasa files are written)."""

    def ignore_aliases(self, data: Any) -> bool:
        # Shared condition dicts would otherwise become &id001 anchors, legal but unreadable.
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _write(path: Path, content: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.dump(content, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=10_000)
    path.write_text(text, encoding="utf-8")
    return path

"""data/rules.yml, data/stories.yml and tests/*.yml: rules, stories and test stories, each a list of
steps checked against the domain and the entity values the NLU data allows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from app.assistant.content.domain import (
    DEFAULT_ACTIONS,
    DEFAULT_INTENTS,
    DEFAULT_LOOPS,
    DEFAULT_SLOTS,
    Domain,
)
from app.assistant.content.files import RasaChecker
from app.assistant.content.nlu_data import NluData, canonical_values, read_annotated, shortlist
from app.content import Key

StepKind = Literal["intent", "action", "active_loop", "slot_was_set", "or", "user"]
_RULE_KEYS = ("rule", "steps", "condition", "conversation_start", "wait_for_user_input", "metadata")


@dataclass(frozen=True)
class Step:
    """A step of a rule, story or test story.

    intent/user: name is the intent, entities are (entity, value) pairs (value None when only named);
    action/active_loop: name is the action or loop (None for `active_loop: null`);
    slot_was_set: value is a dict slot -> value (True for a bare slot name);
    or: value is a tuple of the alternative Steps.
    """

    kind: StepKind
    name: str | None = None
    value: object = None
    user_text: str | None = None
    entities: tuple[tuple[str, object], ...] = ()
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Rule:
    """A rule of data/rules.yml."""

    name: str
    steps: tuple[Step, ...]
    condition: tuple[Step, ...] = ()
    conversation_start: bool = False
    wait_for_user_input: bool = True
    path: str = field(default="", compare=False)
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Story:
    """A story of data/stories.yml or a test story of tests/*.yml."""

    name: str
    steps: tuple[Step, ...]
    path: str = field(default="", compare=False)
    line: int = field(default=0, compare=False)


def read_rules(c: RasaChecker, domain: Domain, nlu: NluData) -> list[Rule]:
    """Return the rules of an opened rules file, after recording their problems in the checker."""
    steps_of = _StepReader(c, domain, nlu)
    rules: list[Rule] = []
    for key, item in c.entries("rules"):
        if not isinstance(item, dict) or not isinstance(item.get("rule"), str):
            c.fail(key, "a rule needs `rule: <name>` and `steps`")
            continue
        unknown = set(item) - set(_RULE_KEYS)
        if unknown:
            c.fail(key, f"rule `{item['rule']}` has unknown keys: {', '.join(sorted(map(str, unknown)))}")
        steps = steps_of.steps((*key, "steps"), item.get("steps"), allow_user=False)
        condition = steps_of.steps((*key, "condition"), item.get("condition") or [], allow_user=False)
        for step in condition:
            if step.kind not in ("active_loop", "slot_was_set"):
                c.fail_line(step.line, "a rule condition holds only active_loop and slot_was_set steps")
        rules.append(
            Rule(
                name=item["rule"],
                steps=steps,
                condition=condition,
                conversation_start=bool(item.get("conversation_start", False)),
                wait_for_user_input=bool(item.get("wait_for_user_input", True)),
                path=str(c.doc.path),
                line=c.doc.line(*key),
            )
        )
    return rules


def read_stories(c: RasaChecker, domain: Domain, nlu: NluData, *, tests: bool) -> list[Story]:
    """Return the stories of an opened stories file (test stories, with `user:` steps, when tests)."""
    steps_of = _StepReader(c, domain, nlu)
    stories: list[Story] = []
    for key, item in c.entries("stories"):
        if not isinstance(item, dict) or not isinstance(item.get("story"), str):
            c.fail(key, "a story needs `story: <name>` and `steps`")
            continue
        steps = steps_of.steps((*key, "steps"), item.get("steps"), allow_user=tests)
        stories.append(Story(name=item["story"], steps=steps, path=str(c.doc.path), line=c.doc.line(*key)))
    return stories


def forms_are_activated(c: RasaChecker, domain: Domain, dialogues: Sequence[Rule | Story]) -> None:
    """Record, at its line in domain.yml (c), every form that no rule or story activates."""
    activated: set[str] = set()
    for item in dialogues:
        for step, following in zip(item.steps, item.steps[1:], strict=False):
            if step.kind == "action" and following.kind == "active_loop" and following.name == step.name:
                activated.add(str(step.name))
    for name in domain.forms:
        if name not in activated:
            c.fail(
                ("forms", name),
                f"form `{name}` is never activated: "
                f"add a rule with `- action: {name}` and `- active_loop: {name}`",
            )


class _StepReader:
    """Reads the steps of one file against the domain and the NLU data."""

    def __init__(self, c: RasaChecker, domain: Domain, nlu: NluData) -> None:
        self.c = c
        self.domain = domain
        self.nlu = nlu

    def steps(self, key: Key, items: object, *, allow_user: bool) -> tuple[Step, ...]:
        if not isinstance(items, list) or (not items and key[-1] == "steps"):
            self.c.fail(key, "`steps` must be a non-empty list")
            return ()
        found = (self.step((*key, index), item, allow_user=allow_user) for index, item in enumerate(items))
        return tuple(step for step in found if step is not None)

    def step(self, key: Key, item: object, *, allow_user: bool) -> Step | None:
        c = self.c
        line = c.doc.line(*key)
        if not isinstance(item, dict) or not item:
            c.fail(key, "a step is a mapping such as `intent: greet` or `action: utter_greet`")
            return None
        if "user" in item:
            if not allow_user:
                c.fail(key, "`user:` steps belong in tests/, not in training data")
                return None
            return self.user_step(key, item, line)
        if "intent" in item:
            self.check_intent((*key, "intent"), item["intent"])
            entities = self.step_entities(key, item.get("entities") or [])
            return Step(kind="intent", name=item["intent"], entities=entities, line=line)
        if "action" in item:
            self.check_action((*key, "action"), item["action"])
            return Step(kind="action", name=item["action"], line=line)
        if "active_loop" in item:
            loop = item["active_loop"]
            if loop is not None and loop not in self.domain.forms and loop not in DEFAULT_LOOPS:
                c.fail((*key, "active_loop"), f"active_loop `{loop}` is not a form under `forms`")
            return Step(kind="active_loop", name=loop, line=line)
        if "slot_was_set" in item:
            return Step(kind="slot_was_set", value=self.slots_set(key, item["slot_was_set"]), line=line)
        if "or" in item:
            options = self.steps((*key, "or"), item["or"], allow_user=False)
            for option in options:
                if option.kind not in ("intent", "slot_was_set"):
                    c.fail_line(option.line, "`or` lists intents or slot_was_set steps only")
            return Step(kind="or", value=options, line=line)
        if "checkpoint" in item:
            c.fail(key, "checkpoints are not supported: write the story out in full")
            return None
        c.fail(key, f"unknown step {next(iter(item))!r}: use intent, action, active_loop, slot_was_set or or")
        return None

    def user_step(self, key: Key, item: dict[str, Any], line: int) -> Step | None:
        c = self.c
        text = item["user"]
        if not isinstance(text, str):
            c.fail((*key, "user"), "`user` must be the text the user types")
            return None
        parsed = read_annotated(c, text.strip(), c.doc.line(*key, "user"), self.domain.entities)
        plain, spans = parsed if parsed is not None else (text.strip(), [])
        intent = item.get("intent")
        if intent is not None:
            self.check_intent((*key, "intent"), intent)
        entities = []
        for start, end, entity, value in spans:
            surface = plain[start:end]
            final = value if value is not None else self.nlu.synonyms.get(surface.lower(), surface)
            self.check_entity_value((*key, "user"), entity, final)
            entities.append((entity, final))
        return Step(kind="user", name=intent, user_text=plain, entities=tuple(entities), line=line)

    def slots_set(self, key: Key, entries: object) -> dict[str, object]:
        values: dict[str, object] = {}
        for index, entry in enumerate(entries if isinstance(entries, list) else [None]):
            if isinstance(entry, str):
                entry = {entry: True}
            if not isinstance(entry, dict) or len(entry) != 1:
                self.c.fail((*key, "slot_was_set", index), "slot_was_set lists `slot: value` items")
                continue
            slot, value = next(iter(entry.items()))
            if slot not in self.domain.slots and slot not in DEFAULT_SLOTS:
                self.c.fail(
                    (*key, "slot_was_set", index), f"slot `{slot}` is not under `slots` in domain.yml"
                )
            values[slot] = value
        return values

    def check_intent(self, key: Key, intent: object) -> None:
        if intent not in self.domain.intents and intent not in DEFAULT_INTENTS:
            self.c.fail(key, f"intent `{intent}` is not under `intents` in domain.yml")

    def check_action(self, key: Key, action: object) -> None:
        domain = self.domain
        if not isinstance(action, str):
            self.c.fail(key, f"action must be a name, not {action!r}")
        elif action.startswith("utter_"):
            if action not in domain.responses:
                self.c.fail(key, f"response `{action}` is not under `responses` in domain.yml")
        elif action not in domain.actions and action not in domain.forms and action not in DEFAULT_ACTIONS:
            self.c.fail(key, f"action `{action}` is not under `actions` (nor a form) in domain.yml")

    def step_entities(self, key: Key, items: object) -> tuple[tuple[str, object], ...]:
        found: list[tuple[str, object]] = []
        for index, entry in enumerate(items if isinstance(items, list) else [items]):
            ekey = (*key, "entities", index)
            if isinstance(entry, str):
                entry = {entry: None}
            if not isinstance(entry, dict) or len(entry) != 1:
                self.c.fail(ekey, "entities lists `entity: value` items")
                continue
            entity, value = next(iter(entry.items()))
            if entity not in self.domain.entities:
                self.c.fail(ekey, f"entity `{entity}` is not under `entities` in domain.yml")
                continue
            if value is not None:
                self.check_entity_value(ekey, entity, value)
            found.append((entity, value))
        return tuple(found)

    def check_entity_value(self, key: Key, entity: str, value: object) -> None:
        allowed = canonical_values(self.domain, self.nlu.lookups, self.nlu.synonyms, entity)
        if allowed is not None and value not in allowed:
            self.c.fail(key, f"`{value}` is not a known {entity}: use one of {shortlist(sorted(allowed))}")

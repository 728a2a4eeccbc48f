"""Reads and validates dialogues/ (Rasa 3.1 YAML) as dialogues/README.md specifies.

The checks are those of `rasa data validate` plus the house rules of the README; every problem in
the folder is reported at once, each as `file:line: message`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import yaml

from app.content import ContentError, ContentErrors, Key, YamlDoc, load_yaml

VERSION = "3.1"
#: Examples every intent needs in every language (issue 4; dialogues/README.md aims for 20-25).
MIN_EXAMPLES = 15

#: Intents, actions and slots that Rasa defines itself (rasa.shared.core.constants, 3.x).
DEFAULT_INTENTS = ("nlu_fallback", "restart", "back", "out_of_scope", "session_start")
DEFAULT_ACTIONS = (
    "action_listen",
    "action_restart",
    "action_session_start",
    "action_default_fallback",
    "action_deactivate_loop",
    "action_revert_fallback_events",
    "action_default_ask_affirmation",
    "action_default_ask_rephrase",
    "action_two_stage_fallback",
    "action_unlikely_intent",
    "action_back",
    "action_extract_slots",
)
DEFAULT_LOOPS = ("action_two_stage_fallback",)
DEFAULT_SLOTS = ("requested_slot", "session_started_metadata")
SLOT_TYPES = ("text", "bool", "categorical", "float", "list", "any")
DOMAIN_SECTIONS = (
    "intents",
    "entities",
    "slots",
    "responses",
    "forms",
    "actions",
    "session_config",
    "e2e_actions",
)
MAPPING_TYPES = ("from_entity", "from_text", "from_intent", "from_trigger_intent", "custom")

StepKind = Literal["intent", "action", "active_loop", "slot_was_set", "or", "user"]

_ANNOTATION = re.compile(r"\[(?P<text>[^\[\]]+)\](?:\((?P<name>[^()]*)\)|(?P<json>\{[^{}]*\}))")
_BROKEN_ANNOTATION = re.compile(r"\]\s*[({]")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_PAYLOAD = re.compile(r"^/(?P<intent>[A-Za-z_][A-Za-z0-9_.-]*)(?P<json>\{.*\})?$", re.DOTALL)


# --- the data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Button:
    """A quick-reply button: what it shows and the payload it sends."""

    title: str
    payload: str


@dataclass(frozen=True)
class Response:
    """One variation of a response; condition is None when it is the default variation."""

    text: str
    buttons: tuple[Button, ...] = ()
    condition: tuple[dict[str, Any], ...] | None = None


@dataclass(frozen=True)
class Slot:
    """A slot of the domain with its mappings as written."""

    name: str
    type: str
    initial: object = None
    mappings: tuple[dict[str, Any], ...] = ()
    influence_conversation: bool = True
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Form:
    """A form: the slots it asks for, in order."""

    name: str
    required_slots: tuple[str, ...]


@dataclass(frozen=True)
class Domain:
    """domain.yml: what the assistant knows and can say."""

    intents: tuple[str, ...]
    entities: tuple[str, ...]
    slots: dict[str, Slot]
    responses: dict[str, tuple[Response, ...]]
    forms: dict[str, Form]
    actions: tuple[str, ...]
    session_config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EntitySpan:
    """An entity in an example: character span of the plain text, name and (normalised) value."""

    start: int
    end: int
    entity: str
    value: object


@dataclass(frozen=True)
class Example:
    """One NLU training example, annotations removed."""

    text: str
    intent: str
    entities: tuple[EntitySpan, ...]
    language: str
    path: str
    line: int


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


@dataclass(frozen=True)
class DialogueData:
    """Everything in dialogues/, validated."""

    domain: Domain
    examples: dict[str, list[Example]]
    regexes: dict[str, list[str]]
    lookups: dict[str, list[str]]
    synonyms: dict[str, str]
    rules: tuple[Rule, ...]
    stories: tuple[Story, ...]
    tests: tuple[Story, ...]
    fingerprint: str

    @property
    def languages(self) -> tuple[str, ...]:
        """Return the languages that have NLU examples, in folder order."""
        return tuple(self.examples)

    def canonical_values(self, entity: str) -> frozenset[str] | None:
        """Return the values entity may take after synonyms, or None when any value goes."""
        return _canonical_values(self.domain, self.lookups, self.synonyms, entity)


# --- loading -------------------------------------------------------------------------------------


def load_dialogues(folder: Path, *, min_examples: int = MIN_EXAMPLES) -> DialogueData:
    """Return the validated dialogues in folder; raise ContentErrors listing every problem."""
    reader = _Reader(folder)
    data = reader.read(min_examples=min_examples)
    if reader.errors or data is None:
        raise ContentErrors(reader.errors)
    return data


@dataclass
class _RawExample:
    text: str
    intent: str
    spans: list[tuple[int, int, str, object]]  # value None: take it from the synonyms
    language: str
    doc: YamlDoc
    key: Key
    line: int


class _Reader:
    """Reads the folder, recording every problem instead of stopping at the first."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.errors: list[ContentError] = []
        self.digest = hashlib.sha256()
        self.regex_lines: dict[tuple[str, str], tuple[Path, int]] = {}
        self.synonym_sources: dict[str, tuple[str, YamlDoc, Key]] = {}

    # -- helpers

    def fail(self, doc: YamlDoc, key: Key, message: str) -> None:
        self.errors.append(doc.error(key, message))

    def fail_at(self, path: Path | str, line: int, message: str) -> None:
        self.errors.append(ContentError(path, line, message))

    def load(self, path: Path, *, sections: tuple[str, ...]) -> YamlDoc | None:
        try:
            self.digest.update(path.relative_to(self.folder).as_posix().encode() + b"\0")
            self.digest.update(path.read_bytes() + b"\0")
        except OSError:
            pass
        try:
            doc = load_yaml(path)
        except ContentError as exc:
            self.errors.append(exc)
            return None
        if not isinstance(doc.data, dict):
            self.fail(doc, (), 'the file must be a mapping that starts with version: "3.1"')
            return None
        version = doc.data.get("version")
        if version is None:
            self.fail_at(path, 1, f'the file must start with version: "{VERSION}"')
        elif str(version) != VERSION or not isinstance(version, str):
            self.fail(doc, ("version",), f'version must be "{VERSION}" (in quotes), not {version!r}')
        for key in doc.data:
            if key != "version" and key not in sections:
                self.fail(doc, (key,), f"unknown section `{key}`: this file holds {', '.join(sections)}")
        return doc

    def items(self, doc: YamlDoc, name: str) -> list[tuple[Key, Any]]:
        value = doc.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(doc, (name,), f"`{name}` must be a list")
            return []
        return [((name, index), item) for index, item in enumerate(value)]

    # -- the whole folder

    def read(self, *, min_examples: int) -> DialogueData | None:
        domain_path = self.folder / "domain.yml"
        if not domain_path.is_file():
            self.fail_at(domain_path, 0, "domain.yml is missing")
            return None
        domain_doc = self.load(domain_path, sections=DOMAIN_SECTIONS)
        if domain_doc is None:
            return None
        domain = self.domain(domain_doc)
        self.domain_doc = domain_doc
        self.domain_obj = domain

        nlu_dir = self.folder / "data" / "nlu"
        if not nlu_dir.is_dir():
            self.fail_at(nlu_dir, 0, "data/nlu/ is missing: it holds one folder of examples per language")
            return None
        regexes: dict[str, list[str]] = {}
        lookups: dict[str, list[str]] = {}
        synonyms: dict[str, str] = {}
        raw: dict[str, list[_RawExample]] = {}
        shared = sorted(p for p in nlu_dir.glob("*.yml") if p.is_file())
        # In the order of the language slot's values (pl, uk, ...), then any other folder by name.
        slot = domain.slots.get("language")
        order = list(slot.values) if slot else []
        languages = sorted(
            (p for p in nlu_dir.iterdir() if p.is_dir()),
            key=lambda p: (order.index(p.name) if p.name in order else len(order), p.name),
        )
        if not languages:
            self.fail_at(nlu_dir, 0, "data/nlu/ has no language folder (data/nlu/<language>/*.yml)")
        for path in shared:
            self.nlu_file(path, None, regexes, lookups, synonyms, raw)
        for language_dir in languages:
            raw.setdefault(language_dir.name, [])
            for path in sorted(language_dir.rglob("*.yml")):
                self.nlu_file(path, language_dir.name, regexes, lookups, synonyms, raw)
        self.regexes_compile(regexes)

        examples = self.examples(domain, raw, lookups, synonyms, min_examples=min_examples)

        rules: list[Rule] = []
        stories: list[Story] = []
        tests: list[Story] = []
        rules_path = self.folder / "data" / "rules.yml"
        if rules_path.is_file() and (doc := self.load(rules_path, sections=("rules",))) is not None:
            rules = self.rules(doc, lookups, synonyms)
        stories_path = self.folder / "data" / "stories.yml"
        if stories_path.is_file() and (doc := self.load(stories_path, sections=("stories",))) is not None:
            stories = self.stories(doc, lookups, synonyms, allow_user=False)
        for path in sorted((self.folder / "tests").glob("*.yml")):
            if (doc := self.load(path, sections=("stories",))) is not None:
                tests.extend(self.stories(doc, lookups, synonyms, allow_user=True))

        self.reachable_forms(domain_doc, domain, rules, stories)
        self.intents_have_examples(domain_doc, domain, examples)
        return DialogueData(
            domain=domain,
            examples=examples,
            regexes=regexes,
            lookups=lookups,
            synonyms=synonyms,
            rules=tuple(rules),
            stories=tuple(stories),
            tests=tuple(tests),
            fingerprint=self.digest.hexdigest(),
        )

    # -- domain.yml

    def names(self, doc: YamlDoc, section: str) -> list[tuple[str, Key]]:
        found: list[tuple[str, Key]] = []
        seen: set[str] = set()
        for key, item in self.items(doc, section):
            if isinstance(item, dict) and len(item) == 1:
                item = next(iter(item))
            if not isinstance(item, str) or not _NAME.match(item):
                self.fail(doc, key, f"item of `{section}` must be a name, not {item!r}")
                continue
            if item in seen:
                self.fail(doc, key, f"`{item}` is listed twice in `{section}`")
                continue
            seen.add(item)
            found.append((item, key))
        return found

    def domain(self, doc: YamlDoc) -> Domain:
        data = doc.data
        intents = tuple(name for name, _ in self.names(doc, "intents"))
        entities = tuple(name for name, _ in self.names(doc, "entities"))
        named_actions = self.names(doc, "actions")
        actions = tuple(name for name, _ in named_actions)
        for name, key in named_actions:
            if name.startswith("utter_"):
                self.fail(doc, key, f"`{name}` is a response: list it under `responses`, not `actions`")
        known_intents = set(intents) | set(DEFAULT_INTENTS)

        forms: dict[str, Form] = {}
        raw_forms = data.get("forms") or {}
        if not isinstance(raw_forms, dict):
            self.fail(doc, ("forms",), "`forms` must be a mapping of form names")
            raw_forms = {}
        for name, body in raw_forms.items():
            required = body.get("required_slots") if isinstance(body, dict) else None
            if not isinstance(required, list) or not all(isinstance(s, str) for s in required):
                self.fail(doc, ("forms", name), f"form `{name}` needs `required_slots`: a list of slot names")
                required = []
            forms[name] = Form(name=name, required_slots=tuple(required))

        slots: dict[str, Slot] = {}
        raw_slots = data.get("slots") or {}
        if not isinstance(raw_slots, dict):
            self.fail(doc, ("slots",), "`slots` must be a mapping of slot names")
            raw_slots = {}
        for name, body in raw_slots.items():
            key: Key = ("slots", name)
            if not isinstance(body, dict):
                self.fail(doc, key, f"slot `{name}` must be a mapping with a `type`")
                continue
            kind = body.get("type")
            if kind not in SLOT_TYPES:
                self.fail(
                    doc,
                    (*key, "type"),
                    f"slot `{name}` has type {kind!r}; use one of {', '.join(SLOT_TYPES)}",
                )
            values = body.get("values") or []
            if kind == "categorical" and (not isinstance(values, list) or not values):
                self.fail(doc, key, f"categorical slot `{name}` needs `values`")
                values = []
            mappings = body.get("mappings") or []
            if not isinstance(mappings, list):
                self.fail(doc, (*key, "mappings"), f"`mappings` of slot `{name}` must be a list")
                mappings = []
            for index, mapping in enumerate(mappings):
                self.slot_mapping(
                    doc, (*key, "mappings", index), mapping, entities, known_intents, forms, raw_slots
                )
            slots[name] = Slot(
                name=name,
                type=str(kind),
                initial=body.get("initial_value"),
                mappings=tuple(m for m in mappings if isinstance(m, dict)),
                influence_conversation=bool(body.get("influence_conversation", True)),
                values=tuple(str(v) for v in values) if isinstance(values, list) else (),
            )

        responses: dict[str, tuple[Response, ...]] = {}
        raw_responses = data.get("responses") or {}
        if not isinstance(raw_responses, dict):
            self.fail(doc, ("responses",), "`responses` must be a mapping of response names")
            raw_responses = {}
        for name, variations in raw_responses.items():
            key = ("responses", name)
            if not str(name).startswith("utter_"):
                self.fail(doc, key, f"response `{name}` must be named utter_...")
            if not isinstance(variations, list) or not variations:
                self.fail(doc, key, f"response `{name}` needs a list of variations with `text`")
                continue
            found = [
                self.response(doc, (*key, i), v, known_intents, entities, slots)
                for i, v in enumerate(variations)
            ]
            responses[name] = tuple(r for r in found if r is not None)

        for form in forms.values():
            for slot in form.required_slots:
                line_key = ("forms", form.name, "required_slots")
                if slot not in slots:
                    self.fail(
                        doc,
                        line_key,
                        f"form `{form.name}` asks for slot `{slot}`, which is not under `slots`",
                    )
                asks = (f"utter_ask_{form.name}_{slot}", f"utter_ask_{slot}")
                if not any(a in raw_responses or a.replace("utter_", "action_", 1) in actions for a in asks):
                    self.fail(
                        doc,
                        line_key,
                        f"form `{form.name}` has no question for `{slot}`: "
                        f"add response {asks[0]} or {asks[1]}",
                    )
        session_config = data.get("session_config") if isinstance(data.get("session_config"), dict) else {}
        return Domain(
            intents=intents,
            entities=entities,
            slots=slots,
            responses=responses,
            forms=forms,
            actions=actions,
            session_config=dict(session_config),
        )

    def slot_mapping(
        self,
        doc: YamlDoc,
        key: Key,
        mapping: object,
        entities: Collection[str],
        intents: Collection[str],
        forms: Mapping[str, Form],
        slots: Mapping[str, Any],
    ) -> None:
        if not isinstance(mapping, dict) or mapping.get("type") not in MAPPING_TYPES:
            self.fail(doc, key, f"a slot mapping needs `type`: one of {', '.join(MAPPING_TYPES)}")
            return
        if mapping["type"] == "from_entity" and mapping.get("entity") not in entities:
            self.fail(
                doc,
                (*key, "entity"),
                f"slot mapping names entity {mapping.get('entity')!r}, not in `entities`",
            )
        if mapping["type"] == "from_intent" and "value" not in mapping:
            self.fail(doc, key, "a from_intent mapping needs `value`")
        for field_name in ("intent", "not_intent"):
            named = mapping.get(field_name) or []
            for intent in [named] if isinstance(named, str) else named:
                if intent not in intents:
                    self.fail(
                        doc, (*key, field_name), f"slot mapping names intent `{intent}`, not in `intents`"
                    )
        for index, condition in enumerate(mapping.get("conditions") or []):
            ckey = (*key, "conditions", index)
            loop = condition.get("active_loop") if isinstance(condition, dict) else None
            if loop is not None and loop not in forms:
                self.fail(doc, ckey, f"condition names active_loop `{loop}`, which is not a form")
            requested = condition.get("requested_slot") if isinstance(condition, dict) else None
            if requested is not None and requested not in slots:
                self.fail(doc, ckey, f"condition names requested_slot `{requested}`, which is not a slot")

    def response(
        self,
        doc: YamlDoc,
        key: Key,
        variation: object,
        intents: Collection[str],
        entities: Collection[str],
        slots: Mapping[str, Slot],
    ) -> Response | None:
        if not isinstance(variation, dict) or not (variation.get("text") or variation.get("custom")):
            self.fail(doc, key, "a response variation needs `text`")
            return None
        text = variation.get("text") or ""
        if not isinstance(text, str):
            self.fail(doc, (*key, "text"), "`text` must be text")
            text = str(text)
        buttons: list[Button] = []
        for index, button in enumerate(variation.get("buttons") or []):
            bkey = (*key, "buttons", index)
            if (
                not isinstance(button, dict)
                or not isinstance(button.get("title"), str)
                or "payload" not in button
            ):
                self.fail(doc, bkey, "a button needs `title` and `payload`")
                continue
            payload = str(button["payload"])
            if payload.startswith("/"):
                problem = _payload_problem(payload, intents, entities)
                if problem:
                    self.fail(doc, (*bkey, "payload"), problem)
            buttons.append(Button(title=button["title"].strip(), payload=payload))
        condition = variation.get("condition")
        if condition is not None:
            if not isinstance(condition, list):
                self.fail(doc, (*key, "condition"), "`condition` must be a list of slot conditions")
                condition = []
            for index, item in enumerate(condition):
                ckey = (*key, "condition", index)
                if not isinstance(item, dict) or item.get("type") != "slot" or "name" not in item:
                    self.fail(doc, ckey, "a condition needs `type: slot`, `name` and `value`")
                elif item["name"] not in slots:
                    self.fail(doc, ckey, f"condition names slot `{item['name']}`, which is not under `slots`")
            condition = tuple(c for c in condition if isinstance(c, dict))
        return Response(text=text.strip(), buttons=tuple(buttons), condition=condition)

    # -- NLU files

    def nlu_file(
        self,
        path: Path,
        language: str | None,
        regexes: dict[str, list[str]],
        lookups: dict[str, list[str]],
        synonyms: dict[str, str],
        raw: dict[str, list[_RawExample]],
    ) -> None:
        doc = self.load(path, sections=("nlu",))
        if doc is None:
            return
        entities = set(self.domain_obj.entities)
        for key, item in self.items(doc, "nlu"):
            if not isinstance(item, dict):
                self.fail(doc, key, "an `nlu` item must be a mapping (intent, synonym, regex or lookup)")
                continue
            kinds = [k for k in ("intent", "synonym", "regex", "lookup") if k in item]
            unknown = set(item) - {"intent", "synonym", "regex", "lookup", "examples", "metadata"}
            if len(kinds) != 1 or unknown:
                self.fail(
                    doc,
                    key,
                    "an `nlu` item has exactly one of intent, synonym, regex, lookup, and `examples`",
                )
                continue
            kind = kinds[0]
            name = item[kind]
            lines = self.example_lines(doc, key, item.get("examples"))
            if kind == "intent":
                if language is None:
                    self.fail(
                        doc, (*key, "intent"), "examples of an intent go in data/nlu/<language>/, not here"
                    )
                    continue
                if name not in self.domain_obj.intents:
                    self.fail(doc, (*key, "intent"), f"intent `{name}` is not under `intents` in domain.yml")
                for text, line in lines:
                    example = self.annotated(doc, key, text, line, entities)
                    if example is not None:
                        plain, spans = example
                        raw[language].append(_RawExample(plain, str(name), spans, language, doc, key, line))
                continue
            name = str(name)
            if kind in ("regex", "lookup") and name not in entities:
                # Rasa also uses regexes as features without an entity; here they only extract entities.
                self.fail(
                    doc, (*key, kind), f"{kind} `{name}` is not an entity under `entities` in domain.yml"
                )
            if kind == "regex":
                regexes.setdefault(name, []).extend(text for text, _ in lines)
                for text, line in lines:
                    self.regex_lines[(name, text)] = (doc.path, line)
            elif kind == "lookup":
                lookups.setdefault(name, []).extend(text for text, _ in lines)
            else:
                for surface in [name, *(text for text, _ in lines)]:
                    self.add_synonym(synonyms, surface, name, doc, key)

    def add_synonym(self, synonyms: dict[str, str], surface: str, value: str, doc: YamlDoc, key: Key) -> None:
        folded = surface.strip().lower()
        previous = synonyms.get(folded)
        if previous is not None and previous != value:
            where = self.synonym_sources[folded]
            self.fail(
                doc,
                key,
                f"`{surface}` maps to `{value}` here and to `{previous}` "
                f"at {where[1].path}:{where[1].line(*where[2])}",
            )
            return
        synonyms[folded] = value
        self.synonym_sources.setdefault(folded, (value, doc, key))

    def example_lines(self, doc: YamlDoc, key: Key, examples: object) -> list[tuple[str, int]]:
        if not isinstance(examples, str):
            self.fail(doc, key, "`examples` must be a block of lines `- example` (examples: |)")
            return []
        # A literal block starts on the line after `examples: |`.
        first = doc.line(*key, "examples") + 1
        found: list[tuple[str, int]] = []
        for offset, line in enumerate(examples.split("\n")):
            stripped = line.strip()
            if not stripped:
                continue
            if not stripped.startswith("- ") or not stripped[2:].strip():
                self.fail_at(doc.path, first + offset, f"an example is a line `- text`, not {stripped!r}")
                continue
            found.append((stripped[2:].strip(), first + offset))
        return found

    def annotated(
        self, doc: YamlDoc, key: Key, text: str, line: int, entities: Collection[str]
    ) -> tuple[str, list[tuple[int, int, str, object]]] | None:
        result = parse_annotations(text)
        if isinstance(result, str):
            self.fail_at(doc.path, line, result)
            return None
        plain, spans = result
        ok = True
        for _, _, entity, _ in spans:
            if entity not in entities:
                self.fail_at(doc.path, line, f"entity `{entity}` is not under `entities` in domain.yml")
                ok = False
        return (plain, spans) if ok else None

    def regexes_compile(self, regexes: dict[str, list[str]]) -> None:
        for name, patterns in regexes.items():
            for pattern in patterns:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    path, line = self.regex_lines[(name, pattern)]
                    self.fail_at(path, line, f"regex for `{name}` does not compile: {exc}")

    def examples(
        self,
        domain: Domain,
        raw: dict[str, list[_RawExample]],
        lookups: dict[str, list[str]],
        synonyms: dict[str, str],
        *,
        min_examples: int,
    ) -> dict[str, list[Example]]:
        # Annotations with an explicit value are synonyms too (as in Rasa).
        for items in raw.values():
            for item in items:
                for start, end, _, value in item.spans:
                    if value is not None:
                        self.add_synonym(synonyms, item.text[start:end], str(value), item.doc, item.key)
        examples: dict[str, list[Example]] = {}
        seen: dict[str, tuple[str, str, str, int]] = {}
        first_block: dict[tuple[str, str], tuple[YamlDoc, Key]] = {}
        for language, items in raw.items():
            examples[language] = []
            for item in items:
                first_block.setdefault((language, item.intent), (item.doc, item.key))
                spans = []
                for start, end, entity, value in item.spans:
                    surface = item.text[start:end]
                    final = value if value is not None else synonyms.get(surface.lower(), surface)
                    allowed = _canonical_values(domain, lookups, synonyms, entity)
                    if allowed is not None and final not in allowed:
                        self.fail_at(
                            item.doc.path,
                            item.line,
                            f"`{surface}` is not a known {entity}: add it as a synonym of one of "
                            f"{_short(sorted(allowed))} in data/nlu/common.yml",
                        )
                    spans.append(EntitySpan(start=start, end=end, entity=entity, value=final))
                folded = " ".join(item.text.lower().split())
                previous = seen.get(folded)
                if previous is not None:
                    other_intent, other_language, other_path, other_line = previous
                    if other_intent == item.intent and other_language == language:
                        self.fail_at(
                            item.doc.path,
                            item.line,
                            f"example repeats line {other_line} of intent `{item.intent}`",
                        )
                    elif other_intent != item.intent:
                        self.fail_at(
                            item.doc.path,
                            item.line,
                            f"example of `{item.intent}` is also an example of `{other_intent}` "
                            f"at {other_path}:{other_line}: an example belongs to one intent",
                        )
                else:
                    seen[folded] = (item.intent, language, str(item.doc.path), item.line)
                examples[language].append(
                    Example(
                        text=item.text,
                        intent=item.intent,
                        entities=tuple(spans),
                        language=language,
                        path=str(item.doc.path),
                        line=item.line,
                    )
                )
        for language, items in examples.items():
            counts: dict[str, int] = {}
            for example in items:
                counts[example.intent] = counts.get(example.intent, 0) + 1
            for intent in domain.intents:
                count = counts.get(intent, 0)
                if 0 < count < min_examples:
                    doc, key = first_block[(language, intent)]
                    self.fail(
                        doc,
                        (*key, "intent"),
                        f"intent `{intent}` has {count} examples in {language}; it needs {min_examples}",
                    )
        return examples

    def intents_have_examples(self, doc: YamlDoc, domain: Domain, examples: dict[str, list[Example]]) -> None:
        names = dict(self.names_index(doc, "intents"))
        for language, items in examples.items():
            present = {example.intent for example in items}
            for intent in domain.intents:
                if intent not in present:
                    self.fail(
                        doc,
                        names.get(intent, ("intents",)),
                        f"intent `{intent}` has no examples in {language}",
                    )

    def names_index(self, doc: YamlDoc, section: str) -> Iterator[tuple[str, Key]]:
        for key, item in [((section, i), v) for i, v in enumerate(doc.data.get(section) or [])]:
            if isinstance(item, dict) and len(item) == 1:
                item = next(iter(item))
            if isinstance(item, str):
                yield item, key

    # -- rules, stories, tests

    def rules(self, doc: YamlDoc, lookups: dict[str, list[str]], synonyms: dict[str, str]) -> list[Rule]:
        rules: list[Rule] = []
        for key, item in self.items(doc, "rules"):
            if not isinstance(item, dict) or not isinstance(item.get("rule"), str):
                self.fail(doc, key, "a rule needs `rule: <name>` and `steps`")
                continue
            unknown = set(item) - {
                "rule",
                "steps",
                "condition",
                "conversation_start",
                "wait_for_user_input",
                "metadata",
            }
            if unknown:
                self.fail(
                    doc,
                    key,
                    f"rule `{item['rule']}` has unknown keys: {', '.join(sorted(map(str, unknown)))}",
                )
            steps = self.steps(doc, (*key, "steps"), item.get("steps"), lookups, synonyms, allow_user=False)
            condition = self.steps(
                doc, (*key, "condition"), item.get("condition") or [], lookups, synonyms, allow_user=False
            )
            for step in condition:
                if step.kind not in ("active_loop", "slot_was_set"):
                    self.fail_at(
                        doc.path, step.line, "a rule condition holds only active_loop and slot_was_set steps"
                    )
            rules.append(
                Rule(
                    name=item["rule"],
                    steps=steps,
                    condition=condition,
                    conversation_start=bool(item.get("conversation_start", False)),
                    wait_for_user_input=bool(item.get("wait_for_user_input", True)),
                    path=str(doc.path),
                    line=doc.line(*key),
                )
            )
        return rules

    def stories(
        self, doc: YamlDoc, lookups: dict[str, list[str]], synonyms: dict[str, str], *, allow_user: bool
    ) -> list[Story]:
        stories: list[Story] = []
        for key, item in self.items(doc, "stories"):
            if not isinstance(item, dict) or not isinstance(item.get("story"), str):
                self.fail(doc, key, "a story needs `story: <name>` and `steps`")
                continue
            steps = self.steps(
                doc, (*key, "steps"), item.get("steps"), lookups, synonyms, allow_user=allow_user
            )
            stories.append(Story(name=item["story"], steps=steps, path=str(doc.path), line=doc.line(*key)))
        return stories

    def steps(
        self,
        doc: YamlDoc,
        key: Key,
        items: object,
        lookups: dict[str, list[str]],
        synonyms: dict[str, str],
        *,
        allow_user: bool,
    ) -> tuple[Step, ...]:
        if not isinstance(items, list) or (not items and key[-1] == "steps"):
            self.fail(doc, key, "`steps` must be a non-empty list")
            return ()
        steps = []
        for index, item in enumerate(items):
            step = self.step(doc, (*key, index), item, lookups, synonyms, allow_user=allow_user)
            if step is not None:
                steps.append(step)
        return tuple(steps)

    def step(
        self,
        doc: YamlDoc,
        key: Key,
        item: object,
        lookups: dict[str, list[str]],
        synonyms: dict[str, str],
        *,
        allow_user: bool,
    ) -> Step | None:
        domain = self.domain_obj
        line = doc.line(*key)
        if not isinstance(item, dict) or not item:
            self.fail(doc, key, "a step is a mapping such as `intent: greet` or `action: utter_greet`")
            return None
        if "user" in item:
            if not allow_user:
                self.fail(doc, key, "`user:` steps belong in tests/, not in training data")
                return None
            text = item["user"]
            if not isinstance(text, str):
                self.fail(doc, (*key, "user"), "`user` must be the text the user types")
                return None
            parsed = self.annotated(doc, key, text.strip(), doc.line(*key, "user"), domain.entities)
            plain, spans = parsed if parsed is not None else (text.strip(), [])
            intent = item.get("intent")
            if intent is not None:
                self.check_intent(doc, (*key, "intent"), intent)
            entities = []
            for start, end, entity, value in spans:
                final = (
                    value if value is not None else synonyms.get(plain[start:end].lower(), plain[start:end])
                )
                self.check_entity_value(doc, (*key, "user"), entity, final, lookups, synonyms)
                entities.append((entity, final))
            return Step(kind="user", name=intent, user_text=plain, entities=tuple(entities), line=line)
        if "intent" in item:
            self.check_intent(doc, (*key, "intent"), item["intent"])
            entities = self.step_entities(doc, key, item.get("entities") or [], lookups, synonyms)
            return Step(kind="intent", name=item["intent"], entities=entities, line=line)
        if "action" in item:
            self.check_action(doc, (*key, "action"), item["action"])
            return Step(kind="action", name=item["action"], line=line)
        if "active_loop" in item:
            loop = item["active_loop"]
            if loop is not None and loop not in domain.forms and loop not in DEFAULT_LOOPS:
                self.fail(doc, (*key, "active_loop"), f"active_loop `{loop}` is not a form under `forms`")
            return Step(kind="active_loop", name=loop, line=line)
        if "slot_was_set" in item:
            values: dict[str, object] = {}
            entries = item["slot_was_set"]
            for index, entry in enumerate(entries if isinstance(entries, list) else [None]):
                if isinstance(entry, str):
                    entry = {entry: True}
                if not isinstance(entry, dict) or len(entry) != 1:
                    self.fail(doc, (*key, "slot_was_set", index), "slot_was_set lists `slot: value` items")
                    continue
                slot, value = next(iter(entry.items()))
                if slot not in domain.slots and slot not in DEFAULT_SLOTS:
                    self.fail(
                        doc,
                        (*key, "slot_was_set", index),
                        f"slot `{slot}` is not under `slots` in domain.yml",
                    )
                values[slot] = value
            return Step(kind="slot_was_set", value=values, line=line)
        if "or" in item:
            options = self.steps(doc, (*key, "or"), item["or"], lookups, synonyms, allow_user=False)
            for option in options:
                if option.kind not in ("intent", "slot_was_set"):
                    self.fail_at(doc.path, option.line, "`or` lists intents or slot_was_set steps only")
            return Step(kind="or", value=options, line=line)
        if "checkpoint" in item:
            self.fail(doc, key, "checkpoints are not supported: write the story out in full")
            return None
        self.fail(
            doc,
            key,
            f"unknown step {next(iter(item))!r}: use intent, action, active_loop, slot_was_set or or",
        )
        return None

    def check_intent(self, doc: YamlDoc, key: Key, intent: object) -> None:
        if intent not in self.domain_obj.intents and intent not in DEFAULT_INTENTS:
            self.fail(doc, key, f"intent `{intent}` is not under `intents` in domain.yml")

    def check_action(self, doc: YamlDoc, key: Key, action: object) -> None:
        domain = self.domain_obj
        if not isinstance(action, str):
            self.fail(doc, key, f"action must be a name, not {action!r}")
        elif action.startswith("utter_"):
            if action not in domain.responses:
                self.fail(doc, key, f"response `{action}` is not under `responses` in domain.yml")
        elif action not in domain.actions and action not in domain.forms and action not in DEFAULT_ACTIONS:
            self.fail(doc, key, f"action `{action}` is not under `actions` (nor a form) in domain.yml")

    def step_entities(
        self, doc: YamlDoc, key: Key, items: object, lookups: dict[str, list[str]], synonyms: dict[str, str]
    ) -> tuple[tuple[str, object], ...]:
        found: list[tuple[str, object]] = []
        for index, entry in enumerate(items if isinstance(items, list) else [items]):
            ekey = (*key, "entities", index)
            if isinstance(entry, str):
                entry = {entry: None}
            if not isinstance(entry, dict) or len(entry) != 1:
                self.fail(doc, ekey, "entities lists `entity: value` items")
                continue
            entity, value = next(iter(entry.items()))
            if entity not in self.domain_obj.entities:
                self.fail(doc, ekey, f"entity `{entity}` is not under `entities` in domain.yml")
                continue
            if value is not None:
                self.check_entity_value(doc, ekey, entity, value, lookups, synonyms)
            found.append((entity, value))
        return tuple(found)

    def check_entity_value(
        self,
        doc: YamlDoc,
        key: Key,
        entity: str,
        value: object,
        lookups: dict[str, list[str]],
        synonyms: dict[str, str],
    ) -> None:
        allowed = _canonical_values(self.domain_obj, lookups, synonyms, entity)
        if allowed is not None and value not in allowed:
            self.fail(doc, key, f"`{value}` is not a known {entity}: use one of {_short(sorted(allowed))}")

    def reachable_forms(self, doc: YamlDoc, domain: Domain, rules: list[Rule], stories: list[Story]) -> None:
        activated: set[str] = set()
        for item in [*rules, *stories]:
            for step, following in zip(item.steps, item.steps[1:], strict=False):
                if step.kind == "action" and following.kind == "active_loop" and following.name == step.name:
                    activated.add(str(step.name))
        for name in domain.forms:
            if name not in activated:
                self.fail(
                    doc,
                    ("forms", name),
                    f"form `{name}` is never activated: "
                    f"add a rule with `- action: {name}` and `- active_loop: {name}`",
                )


# --- helpers shared with the NLU -----------------------------------------------------------------


def parse_annotations(text: str) -> tuple[str, list[tuple[int, int, str, object]]] | str:
    """Return (plain text, [(start, end, entity, value or None)]) of an annotated example, or a problem."""
    plain: list[str] = []
    spans: list[tuple[int, int, str, object]] = []
    cursor = 0
    length = 0
    for match in _ANNOTATION.finditer(text):
        before = text[cursor : match.start()]
        plain.append(before)
        length += len(before)
        surface = match.group("text")
        value: object = None
        if match.group("json") is not None:
            try:
                spec = json.loads(match.group("json"))
            except ValueError:
                return f'annotation {match.group(0)!r} is not valid JSON: write [text]{{"entity": "name"}}'
            if not isinstance(spec, dict) or not isinstance(spec.get("entity"), str):
                return f'annotation {match.group(0)!r} needs "entity"'
            entity = spec["entity"]
            value = spec.get("value")
        else:
            entity = (match.group("name") or "").strip()
            if ":" in entity:
                return f'annotation {match.group(0)!r}: write [text]{{"entity": "name", "value": "value"}}'
            if not _NAME.match(entity):
                return f"annotation {match.group(0)!r} needs an entity name in the parentheses"
        plain.append(surface)
        spans.append((length, length + len(surface), entity, value))
        length += len(surface)
        cursor = match.end()
    plain.append(text[cursor:])
    result = "".join(plain)
    if _BROKEN_ANNOTATION.search(result):
        return f'broken entity annotation in {text!r}: write [text](entity) or [text]{{"entity": "name"}}'
    return result, spans


def parse_payload(text: str, *, intents: Collection[str]) -> tuple[str, dict[str, Any]] | None:
    """Return (intent, entities) of a Rasa payload `/intent` or `/intent{"slot": "value"}`, else None."""
    match = _PAYLOAD.match(text.strip())
    if match is None or match.group("intent") not in intents:
        return None
    entities: dict[str, Any] = {}
    if match.group("json"):
        try:
            loaded = json.loads(match.group("json"))
        except ValueError:
            loaded = {}
        if isinstance(loaded, dict):
            entities = {str(k): v for k, v in loaded.items()}
    return match.group("intent"), entities


def _payload_problem(payload: str, intents: Collection[str], entities: Collection[str]) -> str | None:
    match = _PAYLOAD.match(payload.strip())
    if match is None:
        return f'payload {payload!r} must look like /intent or /intent{{"entity": "value"}}'
    if match.group("intent") not in intents:
        return f"payload names intent `{match.group('intent')}`, which is not under `intents`"
    if match.group("json"):
        try:
            loaded = json.loads(match.group("json"))
        except ValueError:
            return f"payload {payload!r} has invalid JSON"
        if not isinstance(loaded, dict):
            return f"payload {payload!r} must give a JSON object"
        for name in loaded:
            if name not in entities:
                return f"payload sets `{name}`, which is not under `entities`"
    return None


def _canonical_values(
    domain: Domain, lookups: Mapping[str, list[str]], synonyms: Mapping[str, str], entity: str
) -> frozenset[str] | None:
    values: set[str] = set()
    for slot in domain.slots.values():
        if slot.type == "categorical" and any(
            m.get("type") == "from_entity" and m.get("entity") == entity for m in slot.mappings
        ):
            values.update(slot.values)
    for surface in lookups.get(entity, ()):
        values.add(synonyms.get(surface.lower(), surface))
    return frozenset(values) if values else None


def _short(values: list[str], limit: int = 6) -> str:
    shown = ", ".join(values[:limit])
    return shown + (", ..." if len(values) > limit else "")


# --- Babel extraction ----------------------------------------------------------------------------

#: (line, function name, message, translator comments), as Babel expects from an extraction method.
Extracted = tuple[int, None, str, list[str]]
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def extract_responses(
    fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str], options: Mapping[str, Any]
) -> Iterator[Extracted]:
    """Yield every response text and button title of a dialogues domain.yml with a translator comment."""
    root = yaml.compose(fileobj.read().decode("utf-8"), Loader=_Loader)
    if not isinstance(root, yaml.MappingNode):
        return
    responses = _node_fields(root).get("responses")
    if not isinstance(responses, yaml.MappingNode):
        return
    for name_node, variations in responses.value:
        if not isinstance(variations, yaml.SequenceNode):
            continue
        context = f"dialogues response {name_node.value}"
        for variation in variations.value:
            fields = _node_fields(variation)
            text = fields.get("text")
            if isinstance(text, yaml.ScalarNode) and text.value.strip():
                yield text.start_mark.line + 1, None, text.value.strip(), [context]
            buttons = fields.get("buttons")
            for button in buttons.value if isinstance(buttons, yaml.SequenceNode) else []:
                title = _node_fields(button).get("title")
                if isinstance(title, yaml.ScalarNode) and title.value.strip():
                    yield title.start_mark.line + 1, None, title.value.strip(), [f"{context}: button"]


def _node_fields(node: yaml.Node | None) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {key.value: value for key, value in node.value if isinstance(key, yaml.ScalarNode)}

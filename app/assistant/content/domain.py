"""domain.yml: the intents, entities, slots, responses, forms and actions of the assistant, checked as
`rasa data validate` and dialogues/README.md do, plus Rasa's button payloads `/intent{"slot": "value"}`."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from string import Formatter
from typing import Any

from app.assistant.content.files import NAME, RasaChecker
from app.content import Key

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

_PAYLOAD = re.compile(r"^/(?P<intent>[A-Za-z_][A-Za-z0-9_.-]*)(?P<json>\{.*\})?$", re.DOTALL)


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


def read_domain(c: RasaChecker) -> Domain:
    """Return the domain of an opened domain.yml, after recording its problems in the checker."""
    data = c.doc.data
    intents = tuple(name for name, _ in _names(c, "intents"))
    entities = tuple(name for name, _ in _names(c, "entities"))
    named_actions = _names(c, "actions")
    actions = tuple(name for name, _ in named_actions)
    for name, key in named_actions:
        if name.startswith("utter_"):
            c.fail(key, f"`{name}` is a response: list it under `responses`, not `actions`")
    known_intents = set(intents) | set(DEFAULT_INTENTS)
    forms = _forms(c)

    slots: dict[str, Slot] = {}
    raw_slots = data.get("slots") or {}
    if not isinstance(raw_slots, dict):
        c.fail(("slots",), "`slots` must be a mapping of slot names")
        raw_slots = {}
    for name, body in raw_slots.items():
        slot = _slot(c, ("slots", name), name, body, entities, known_intents, forms, raw_slots)
        if slot is not None:
            slots[name] = slot

    responses: dict[str, tuple[Response, ...]] = {}
    raw_responses = data.get("responses") or {}
    if not isinstance(raw_responses, dict):
        c.fail(("responses",), "`responses` must be a mapping of response names")
        raw_responses = {}
    for name, variations in raw_responses.items():
        key: Key = ("responses", name)
        if not str(name).startswith("utter_"):
            c.fail(key, f"response `{name}` must be named utter_...")
        if not isinstance(variations, list) or not variations:
            c.fail(key, f"response `{name}` needs a list of variations with `text`")
            continue
        found = [_response(c, (*key, i), v, known_intents, entities, slots) for i, v in enumerate(variations)]
        responses[name] = tuple(r for r in found if r is not None)

    _forms_can_ask(c, forms, slots, raw_responses, actions)
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


def listed_names(data: object, section: str) -> Iterator[tuple[str, Key]]:
    """Yield (name, key) of each name in a list section of domain.yml's data, checking nothing."""
    items = data.get(section) if isinstance(data, dict) else None
    for index, item in enumerate(items if isinstance(items, list) else ()):
        # An intent may be written `- greet` or `- greet: {use_entities: [...]}`.
        if isinstance(item, dict) and len(item) == 1:
            item = next(iter(item))
        if isinstance(item, str):
            yield item, (section, index)


def _names(c: RasaChecker, section: str) -> list[tuple[str, Key]]:
    found: list[tuple[str, Key]] = []
    seen: set[str] = set()
    for key, item in c.entries(section):
        if isinstance(item, dict) and len(item) == 1:
            item = next(iter(item))
        if not isinstance(item, str) or not NAME.match(item):
            c.fail(key, f"item of `{section}` must be a name, not {item!r}")
            continue
        if item in seen:
            c.fail(key, f"`{item}` is listed twice in `{section}`")
            continue
        seen.add(item)
        found.append((item, key))
    return found


def _forms(c: RasaChecker) -> dict[str, Form]:
    forms: dict[str, Form] = {}
    raw_forms = c.doc.data.get("forms") or {}
    if not isinstance(raw_forms, dict):
        c.fail(("forms",), "`forms` must be a mapping of form names")
        raw_forms = {}
    for name, body in raw_forms.items():
        required = body.get("required_slots") if isinstance(body, dict) else None
        if not isinstance(required, list) or not all(isinstance(s, str) for s in required):
            c.fail(("forms", name), f"form `{name}` needs `required_slots`: a list of slot names")
            required = []
        forms[name] = Form(name=name, required_slots=tuple(required))
    return forms


def _forms_can_ask(
    c: RasaChecker,
    forms: Mapping[str, Form],
    slots: Mapping[str, Slot],
    responses: Mapping[str, object],
    actions: Collection[str],
) -> None:
    for form in forms.values():
        line_key = ("forms", form.name, "required_slots")
        for slot in form.required_slots:
            if slot not in slots:
                c.fail(line_key, f"form `{form.name}` asks for slot `{slot}`, which is not under `slots`")
            asks = (f"utter_ask_{form.name}_{slot}", f"utter_ask_{slot}")
            if not any(a in responses or a.replace("utter_", "action_", 1) in actions for a in asks):
                c.fail(
                    line_key,
                    f"form `{form.name}` has no question for `{slot}`: add response {asks[0]} or {asks[1]}",
                )


def _slot(
    c: RasaChecker,
    key: Key,
    name: str,
    body: object,
    entities: Collection[str],
    intents: Collection[str],
    forms: Mapping[str, Form],
    slots: Mapping[str, Any],
) -> Slot | None:
    if not isinstance(body, dict):
        c.fail(key, f"slot `{name}` must be a mapping with a `type`")
        return None
    kind = body.get("type")
    if kind not in SLOT_TYPES:
        c.fail((*key, "type"), f"slot `{name}` has type {kind!r}; use one of {', '.join(SLOT_TYPES)}")
    values = body.get("values") or []
    if kind == "categorical" and (not isinstance(values, list) or not values):
        c.fail(key, f"categorical slot `{name}` needs `values`")
        values = []
    mappings = body.get("mappings") or []
    if not isinstance(mappings, list):
        c.fail((*key, "mappings"), f"`mappings` of slot `{name}` must be a list")
        mappings = []
    for index, mapping in enumerate(mappings):
        _slot_mapping(c, (*key, "mappings", index), mapping, entities, intents, forms, slots)
    return Slot(
        name=name,
        type=str(kind),
        initial=body.get("initial_value"),
        mappings=tuple(m for m in mappings if isinstance(m, dict)),
        influence_conversation=bool(body.get("influence_conversation", True)),
        values=tuple(str(v) for v in values) if isinstance(values, list) else (),
    )


def _slot_mapping(
    c: RasaChecker,
    key: Key,
    mapping: object,
    entities: Collection[str],
    intents: Collection[str],
    forms: Mapping[str, Form],
    slots: Mapping[str, Any],
) -> None:
    if not isinstance(mapping, dict) or mapping.get("type") not in MAPPING_TYPES:
        c.fail(key, f"a slot mapping needs `type`: one of {', '.join(MAPPING_TYPES)}")
        return
    if mapping["type"] == "from_entity" and mapping.get("entity") not in entities:
        c.fail((*key, "entity"), f"slot mapping names entity {mapping.get('entity')!r}, not in `entities`")
    if mapping["type"] == "from_intent" and "value" not in mapping:
        c.fail(key, "a from_intent mapping needs `value`")
    for field_name in ("intent", "not_intent"):
        named = mapping.get(field_name) or []
        for intent in [named] if isinstance(named, str) else named:
            if intent not in intents:
                c.fail((*key, field_name), f"slot mapping names intent `{intent}`, not in `intents`")
    for index, condition in enumerate(mapping.get("conditions") or []):
        ckey = (*key, "conditions", index)
        loop = condition.get("active_loop") if isinstance(condition, dict) else None
        if loop is not None and loop not in forms:
            c.fail(ckey, f"condition names active_loop `{loop}`, which is not a form")
        requested = condition.get("requested_slot") if isinstance(condition, dict) else None
        if requested is not None and requested not in slots:
            c.fail(ckey, f"condition names requested_slot `{requested}`, which is not a slot")


#: The placeholders that are not slots, by the response that has them: the custom action that says
#: the response fills them (app/assistant/actions.py and flows.py; dialogues/README.md's contracts).
ACTION_PARAMETERS: dict[str, frozenset[str]] = {
    "utter_library_branches_found": frozenset({"branches"}),
    "utter_events_found": frozenset({"events"}),
    "utter_case_created": frozenset({"case_reference", "case_secret"}),
    "utter_case_status": frozenset({"case_reference", "case_status", "case_updated_at"}),
    "utter_visit_booked": frozenset({"visit_reference", "visit_when", "visit_where", "visit_bring"}),
    "utter_visit_moved": frozenset({"visit_reference", "visit_when", "visit_where"}),
    "utter_ask_cancel_visit": frozenset({"visit_when"}),
    # said by the engine itself (app/assistant/runtime.py)
    "utter_language_not_spoken": frozenset({"language_name"}),
}


def _placeholders_are_known(c: RasaChecker, key: Key, text: str, slots: Mapping[str, Slot]) -> None:
    """Record a `{name}` that is neither a slot nor filled by the response's action: a typo such as
    {case_refrence} would otherwise show the newcomer nothing where the reference should be."""
    response = str(key[1])
    try:
        names = {field for _literal, field, _spec, _conv in Formatter().parse(text) if field is not None}
    except ValueError as exc:
        c.fail((*key, "text"), f"a placeholder is not closed: {exc}")
        return
    for name in sorted(names):
        base = name.split(".", 1)[0].split("[", 1)[0]
        if base not in slots and base not in ACTION_PARAMETERS.get(response, ()):
            given = sorted(ACTION_PARAMETERS.get(response, ()))
            also = f"; the action that says {response} fills {', '.join(given)}" if given else ""
            c.fail_line(
                _line_in_text(c, (*key, "text"), text, "{" + name),
                f"{{{name}}} is no slot of the domain{also}: a typo?",
            )


def _line_in_text(c: RasaChecker, key: Key, text: str, needle: str) -> int:
    """Return the file line of needle inside the text at key (a `|` block's text starts a line below)."""
    line = c.doc.line(*key)
    source = c.doc.path.read_text(encoding="utf-8").splitlines()
    if 0 < line <= len(source) and source[line - 1].rstrip().endswith(("|", "|-", "|+", ">", ">-", ">+")):
        line += 1
    return line + text[: text.find(needle)].count("\n")


def _response(
    c: RasaChecker,
    key: Key,
    variation: object,
    intents: Collection[str],
    entities: Collection[str],
    slots: Mapping[str, Slot],
) -> Response | None:
    if not isinstance(variation, dict) or not (variation.get("text") or variation.get("custom")):
        c.fail(key, "a response variation needs `text`")
        return None
    text = variation.get("text") or ""
    if not isinstance(text, str):
        c.fail((*key, "text"), "`text` must be text")
        text = str(text)
    c.plain((*key, "text"), text)
    _placeholders_are_known(c, key, text, slots)
    buttons: list[Button] = []
    for index, button in enumerate(variation.get("buttons") or []):
        bkey = (*key, "buttons", index)
        if not (isinstance(button, dict) and isinstance(button.get("title"), str) and "payload" in button):
            c.fail(bkey, "a button needs `title` and `payload`")
            continue
        c.plain((*bkey, "title"), button["title"])
        payload = str(button["payload"])
        if payload.startswith("/"):
            problem = _payload_problem(payload, intents, entities)
            if problem:
                c.fail((*bkey, "payload"), problem)
        buttons.append(Button(title=button["title"].strip(), payload=payload))
    condition = variation.get("condition")
    if condition is not None:
        if not isinstance(condition, list):
            c.fail((*key, "condition"), "`condition` must be a list of slot conditions")
            condition = []
        for index, item in enumerate(condition):
            ckey = (*key, "condition", index)
            if not isinstance(item, dict) or item.get("type") != "slot" or "name" not in item:
                c.fail(ckey, "a condition needs `type: slot`, `name` and `value`")
            elif item["name"] not in slots:
                c.fail(ckey, f"condition names slot `{item['name']}`, which is not under `slots`")
        condition = tuple(item for item in condition if isinstance(item, dict))
    return Response(text=text.strip(), buttons=tuple(buttons), condition=condition)


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

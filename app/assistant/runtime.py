"""The dialogue engine: reads the Rasa-format data and runs conversations.

What Rasa calls policies is done here in a fixed order that is easy to follow:
1. a stopped form asks "continue?"; an active form fills and validates its requested slot;
2. nlu_fallback runs the two-stage fallback (ask to rephrase, then hand over to a person);
3. rules (those that start with the bot's last action first, then those that start with the intent);
4. stories, memoised on the last few turns;
5. a response named utter_<intent>, else the fallback.
Custom actions are given to the engine by name (app/assistant/actions.py, and those that reach into
other domains in app/assistant/flows.py, which builds the engine the chat uses). The tracker (slots, active form, history) is a
JSON document on the conversation row, so a restart resumes every chat where it was.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from app.assistant.data import DialogueData, Response, load_dialogues
from app.assistant.knowledge import load_knowledge
from app.assistant.nlu import NLUModel, normalize, train_or_load
from app.config import PROJECT_ROOT, Settings, get_settings
from app.i18n import translations

MAX_HISTORY = 24
MEMO_DEPTHS = (4, 3, 2)
FORM_CONTROL_INTENTS = frozenset({"stop", "human_handoff"})


@dataclass
class BotMessage:
    """What the bot says: text and quick-reply buttons, in the conversation's language."""

    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    private: bool = False  # carries a one-time secret: shown once, stored as stored_text
    stored_text: str | None = None


@dataclass
class Tracker:
    """The conversation state the engine needs; saved as JSON on the conversation."""

    language: str
    slots: dict[str, Any] = field(default_factory=dict)
    active_loop: str | None = None
    requested_slot: str | None = None
    paused: bool = False
    fallbacks: int = 0
    last_action: str | None = None
    history: list[str] = field(default_factory=list)
    status_attempts: list[str] = field(default_factory=list)

    @classmethod
    def from_state(cls, state: dict[str, Any], language: str) -> Tracker:
        """Return the tracker saved in state."""
        known = {k: v for k, v in (state or {}).items() if k in cls.__dataclass_fields__}
        known.setdefault("language", language)
        return cls(**known)

    def to_state(self) -> dict[str, Any]:
        """Return the tracker as a JSON-safe dict."""
        return {
            "language": self.language,
            "slots": self.slots,
            "active_loop": self.active_loop,
            "requested_slot": self.requested_slot,
            "paused": self.paused,
            "fallbacks": self.fallbacks,
            "last_action": self.last_action,
            "history": self.history[-MAX_HISTORY:],
            "status_attempts": self.status_attempts[-10:],
        }

    def deactivate(self) -> None:
        """End the active form."""
        self.active_loop = None
        self.requested_slot = None
        self.paused = False

    def remember(self, item: str) -> None:
        """Append an intent or action to the history the stories are matched against."""
        self.history.append(item)
        del self.history[:-MAX_HISTORY]


@dataclass
class Parsed:
    """The understood user message (from the NLU model)."""

    text: str
    language: str
    intent: str
    confidence: float
    entities: list[dict[str, Any]]
    ranking: list[tuple[str, float]] = field(default_factory=list)


class _SafeFormat(string.Formatter):
    def get_value(self, key: int | str, args: Any, kwargs: Any) -> Any:
        value = kwargs.get(key) if isinstance(key, str) else None
        return "" if value is None else value


_FORMAT = _SafeFormat()


@dataclass
class Context:
    """What actions may use and change during one turn."""

    engine: DialogueEngine
    tracker: Tracker
    parsed: Parsed | None
    settings: Settings
    db: Any
    conversation: Any
    now: datetime
    messages: list[BotMessage] = field(default_factory=list)

    def utter(self, name: str, private: bool = False, **params: Any) -> None:
        """Say response name in the conversation's language, filling {placeholders}."""
        self.messages.append(self.engine.render(name, self.tracker, private=private, **params))

    def set_slot(self, name: str, value: Any) -> None:
        """Set a slot."""
        self.tracker.slots[name] = value

    def slot(self, name: str) -> Any:
        """Return a slot's value (None when unset)."""
        return self.tracker.slots.get(name)


Action = Callable[[Context], list[str] | None]


class DialogueEngine:
    """Runs conversations over validated dialogue data and an NLU model."""

    def __init__(self, data: DialogueData, nlu: Any, settings: Settings, *, actions: Mapping[str, Action]) -> None:
        self.data = data
        self.nlu = nlu
        self.settings = settings
        self.actions = dict(actions)
        self._memo = self._memoise()

    # --- understanding ----------------------------------------------------------------------

    def parse(self, text: str, tracker: Tracker) -> Parsed:
        """Return the intent, entities and language of text."""
        result = self.nlu.parse(text, enabled_languages=list(self.settings.locales), prior_language=tracker.language)
        return Parsed(
            text=text,
            language=result.language,
            intent=result.intent,
            confidence=result.confidence,
            entities=list(result.entities),
            ranking=list(result.ranking),
        )

    # --- responses ------------------------------------------------------------------------

    def render(self, name: str, tracker: Tracker, private: bool = False, **params: Any) -> BotMessage:
        """Return response name translated into the tracker's language with placeholders filled."""
        variations = self.data.domain.responses.get(name, ())
        chosen: Response | None = None
        for variation in variations:
            if variation.condition and all(
                tracker.slots.get(c.get("name")) == c.get("value") for c in variation.condition if c.get("type") == "slot"
            ):
                chosen = variation
                break
        if chosen is None:
            chosen = next((v for v in variations if not v.condition), variations[0] if variations else None)
        if chosen is None:
            return BotMessage(text=name)
        catalog = translations(tracker.language)
        values = {**tracker.slots, **params}
        template = catalog.ugettext(chosen.text)
        text = _FORMAT.format(template, **values)
        buttons = [{"title": catalog.ugettext(b.title), "payload": b.payload} for b in chosen.buttons]
        stored = None
        if private:
            masked = {k: ("••••••" if "secret" in k else v) for k, v in values.items()}
            stored = _FORMAT.format(template, **masked)
        return BotMessage(text=text, buttons=buttons, private=private, stored_text=stored)

    # --- predicting -----------------------------------------------------------------------

    def _memoise(self) -> dict[tuple[str, ...], list[str]]:
        """Map the last turns of every story to the actions that follow them."""
        memo: dict[tuple[str, ...], list[str]] = {}
        for story in self.data.stories:
            events = [s for s in story.steps if s.kind in ("intent", "action")]
            for index, step in enumerate(events):
                if step.kind != "intent":
                    continue
                following = []
                for nxt in events[index + 1 :]:
                    if nxt.kind != "action":
                        break
                    following.append(nxt.name)
                if not following:
                    continue
                past = [f"{e.kind}:{e.name}" for e in events[: index + 1]]
                for depth in MEMO_DEPTHS:
                    if len(past) >= depth:
                        memo.setdefault(tuple(past[-depth:]), following)
        return memo

    def _rule_actions(self, tracker: Tracker, intent: str) -> list[str] | None:
        """Return the actions of the best rule for intent: rules after the bot's last action win."""
        by_intent: list[str] | None = None
        for rule in self.data.rules:
            if not self._condition_holds(rule.condition, tracker):
                continue
            steps = list(rule.steps)
            if not steps:
                continue
            if steps[0].kind == "action" and len(steps) > 1 and steps[1].kind == "intent":
                if steps[0].name == tracker.last_action and steps[1].name == intent:
                    return self._actions_after(steps, 2)
                continue
            if steps[0].kind == "intent" and steps[0].name == intent and by_intent is None:
                by_intent = self._actions_after(steps, 1)
        return by_intent

    @staticmethod
    def _condition_holds(condition: Any, tracker: Tracker) -> bool:
        loops = [c for c in condition or () if c.kind == "active_loop"]
        if not loops:
            return tracker.active_loop is None
        return any(c.name == tracker.active_loop for c in loops)

    @staticmethod
    def _actions_after(steps: list[Any], start: int) -> list[str]:
        actions: list[str] = []
        for step in steps[start:]:
            if step.kind == "intent":
                break
            if step.kind == "action":
                actions.append(step.name)
        return actions

    def _story_actions(self, tracker: Tracker, intent: str) -> list[str] | None:
        recent = [*tracker.history, f"intent:{intent}"]
        for depth in MEMO_DEPTHS:
            if len(recent) >= depth:
                found = self._memo.get(tuple(recent[-depth:]))
                if found:
                    return found
        return None

    def predict(self, tracker: Tracker, intent: str) -> list[str]:
        """Return the actions that answer intent in this state."""
        for finder in (self._rule_actions, self._story_actions):
            found = finder(tracker, intent)
            if found:
                return found
        if f"utter_{intent}" in self.data.domain.responses:
            return [f"utter_{intent}"]
        return ["action_two_stage_fallback"]

    # --- slots and forms ----------------------------------------------------------------------

    def _mapping_applies(self, mapping: dict[str, Any], tracker: Tracker, intent: str) -> bool:
        intents = mapping.get("intent")
        if intents is not None:
            allowed = intents if isinstance(intents, list) else [intents]
            if intent not in allowed:
                return False
        excluded = mapping.get("not_intent") or []
        if intent in (excluded if isinstance(excluded, list) else [excluded]):
            return False
        conditions = mapping.get("conditions")
        if conditions:
            return any(
                c.get("active_loop") == tracker.active_loop
                and ("requested_slot" not in c or c.get("requested_slot") == tracker.requested_slot)
                for c in conditions
            )
        return True

    def fill_slots(self, tracker: Tracker, parsed: Parsed, *, only: str | None = None) -> dict[str, Any]:
        """Return the slot values the message gives by the domain's mappings (not yet set)."""
        found: dict[str, Any] = {}
        for name, slot in self.data.domain.slots.items():
            if only is not None and name != only:
                continue
            for mapping in slot.mappings:
                if not self._mapping_applies(mapping, tracker, parsed.intent):
                    continue
                kind = mapping.get("type")
                value: Any = None
                if kind == "from_entity":
                    entity = next((e for e in parsed.entities if e.get("entity") == mapping.get("entity")), None)
                    value = entity.get("value") if entity else None
                elif kind == "from_text" and tracker.requested_slot == name:
                    value = parsed.text.strip()
                elif kind == "from_intent":
                    value = mapping.get("value")
                if value is not None:
                    found[name] = value
                    break
        return found

    def next_slot(self, tracker: Tracker, form: str) -> str | None:
        """Return the first required slot of form that is still empty."""
        for name in self.data.domain.forms[form].required_slots:
            if tracker.slots.get(name) is None:
                return name
        return None

    def ask(self, ctx: Context, form: str, slot: str) -> None:
        """Ask for slot (utter_ask_<form>_<slot>, else utter_ask_<slot>)."""
        ctx.tracker.requested_slot = slot
        for name in (f"utter_ask_{form}_{slot}", f"utter_ask_{slot}"):
            if name in self.data.domain.responses:
                ctx.utter(name)
                return

    def _submit_actions(self, form: str) -> list[str]:
        for rule in self.data.rules:
            loops = [c for c in rule.condition or () if c.kind == "active_loop" and c.name == form]
            steps = list(rule.steps)
            if loops and steps and steps[0].kind == "action" and steps[0].name == form:
                return [s.name for s in steps[1:] if s.kind == "action"]
        return []

    def run_form(self, ctx: Context, form: str, activate: bool = False) -> None:
        """Activate form or continue it; when every slot is filled, run its submit actions."""
        tracker = ctx.tracker
        validator = self.actions.get(f"validate_{form}")
        if activate:
            tracker.active_loop = form
            tracker.paused = False
            if validator:
                validator(ctx)  # on activation: clears the previous run's answers
        slot = self.next_slot(tracker, form)
        if slot is not None:
            self.ask(ctx, form, slot)
            return
        tracker.active_loop = None
        tracker.requested_slot = None
        self.run_actions(ctx, self._submit_actions(form))

    def continue_form(self, ctx: Context) -> bool:
        """Handle a message while a form is active; return False when a rule must handle it instead."""
        tracker, parsed = ctx.tracker, ctx.parsed
        assert parsed is not None
        form = tracker.active_loop
        assert form is not None
        if tracker.paused:
            if parsed.intent == "affirm":
                tracker.paused = False
                tracker.remember(f"action:{form}")
                self.ask(ctx, form, tracker.requested_slot or self.next_slot(tracker, form) or "")
                return True
            if parsed.intent == "deny":
                self.run_actions(ctx, ["action_deactivate_loop", "utter_form_stopped"])
                return True
            self.run_actions(ctx, ["utter_ask_continue"])
            return True
        if parsed.intent in FORM_CONTROL_INTENTS:
            if parsed.intent == "stop":
                tracker.paused = True
            return False
        tracker.remember(f"action:{form}")
        tracker.last_action = form
        requested = tracker.requested_slot
        values = self.fill_slots(tracker, parsed, only=requested) if requested else {}
        validator = self.actions.get(f"validate_{form}")
        if requested and requested in values:
            tracker.slots[requested] = values[requested]
            if validator:
                validator(ctx)
        elif requested:
            ctx.tracker.slots[requested] = None
            if validator:
                validator(ctx)
        if tracker.active_loop is None:  # the validator ended the form
            return True
        if requested and tracker.slots.get(requested) is None and ctx.messages:
            self.ask(ctx, form, requested)  # said why, asks again
            return True
        self.run_form(ctx, form)
        return True

    @staticmethod
    def deactivate(tracker: Tracker) -> None:
        """End the active form."""
        tracker.deactivate()

    # --- acting ---------------------------------------------------------------------------

    def run_actions(self, ctx: Context, names: list[str]) -> None:
        """Run actions in order (responses, forms, custom and built-in actions)."""
        for name in names:
            ctx.tracker.remember(f"action:{name}")
            ctx.tracker.last_action = name
            if name.startswith("utter_"):
                ctx.utter(name)
            elif name in self.data.domain.forms:
                self.run_form(ctx, name, activate=ctx.tracker.active_loop != name)
            elif name == "action_deactivate_loop":
                self.deactivate(ctx.tracker)
            elif name == "action_two_stage_fallback":
                self.fallback(ctx)
            elif name == "action_listen":
                continue
            elif name in self.actions:
                follow = self.actions[name](ctx)
                if follow:
                    self.run_actions(ctx, follow)

    def in_crisis(self, text: str) -> bool:
        """Return whether text contains one of the crisis phrases of dialogues/knowledge/crisis.yml."""
        folded = normalize(text)
        return any(phrase in folded for phrase in load_knowledge(self.settings).crisis_phrases)

    def fallback(self, ctx: Context) -> None:
        """First ask to rephrase (offering the likely topics), then hand over to a person."""
        tracker = ctx.tracker
        tracker.fallbacks += 1
        if tracker.fallbacks >= 2:
            tracker.fallbacks = 0
            self.run_actions(ctx, ["action_handoff"])
            return
        ctx.utter("utter_ask_rephrase")

    def handle(self, *, tracker: Tracker, parsed: Parsed, settings: Settings, db: Any, conversation: Any, now: datetime) -> list[BotMessage]:
        """Return the bot's answer to one understood message; tracker is updated in place."""
        ctx = Context(engine=self, tracker=tracker, parsed=parsed, settings=settings, db=db, conversation=conversation, now=now)
        if self.in_crisis(parsed.text) and parsed.intent != "psychological_help":
            # Safety first: whatever the classifier guessed, someone who may be in danger gets the
            # emergency numbers; the form (if any) stops.
            self.deactivate(tracker)
            parsed.intent = "psychological_help"
        intent = parsed.intent
        tracker.remember(f"intent:{intent}")
        if intent != "nlu_fallback" and tracker.fallbacks:
            # Understood after a fallback: the fallback loop ends (as Rasa's does) and the intent is answered.
            tracker.fallbacks = 0
            tracker.remember("action:action_two_stage_fallback")
        # Entities fill slots outside forms (a district mentioned early is not asked again).
        if tracker.active_loop is None:
            for name, value in self.fill_slots(tracker, parsed).items():
                tracker.slots[name] = value
        if tracker.active_loop is not None and self.continue_form(ctx):
            return ctx.messages
        if intent == "nlu_fallback":
            self.run_actions(ctx, ["action_two_stage_fallback"])
            return ctx.messages
        self.run_actions(ctx, self.predict(tracker, intent))
        return ctx.messages


# --- loading -----------------------------------------------------------------------------------

def models_dir() -> Path:
    """Return where trained models are cached (WITAJ_MODELS_DIR, else var/models)."""
    return get_settings().models_dir or PROJECT_ROOT / "var" / "models"


def trained(settings: Settings) -> tuple[DialogueData, NLUModel]:
    """Return the validated dialogues and their NLU model, trained now or loaded from the model cache
    (keyed by a hash of the dialogues)."""
    data = load_dialogues(settings.content_dir / "dialogues")
    return data, train_or_load(data, models_dir())


_PAYLOAD = re.compile(r"^/[a-z_]+")


def is_payload(text: str) -> bool:
    """Return whether text is a button payload such as /intent{"slot": "value"}."""
    return bool(_PAYLOAD.match(text.strip()))

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

import copy
import logging
import re
import string
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from app.assistant.content.lexicon import WORD_CHAR, Lexicon, pattern
from app.assistant.data import DialogueData, Response, load_dialogues
from app.assistant.knowledge import load_knowledge
from app.assistant.nlu import NLUModel, normalize, train_or_load, words
from app.assistant.service import mask_contacts
from app.assistant.when import find_audience, find_when
from app.config import PROJECT_ROOT, Settings, get_settings
from app.i18n import translations
from app.languages import KNOWN_LOCALES, foreign_language, native_name

log = logging.getLogger(__name__)

MAX_HISTORY = 24
#: Said when an action fails: an apology and a way forward (never silence).
ACTION_FAILED = "utter_action_failed"
#: Failures the turn itself handles (it runs again on a changed conversation, or fails as a whole).
TURN_ERRORS = (StaleDataError, IntegrityError, OperationalError)
MEMO_DEPTHS = (4, 3, 2)
FORM_CONTROL_INTENTS = frozenset({"stop", "human_handoff", "delete_conversation"})
#: How often a form asks the same question: after the second unusable answer it explains, offers a
#: person and ends the form instead of asking a third time.
MAX_ASKS = 2
#: Said instead of a third question (with "Talk to a person" and "Start again").
FORM_STUCK = "utter_form_stuck"
#: Said before a form asks its question again after answering a question on another topic.
FORM_RESUME = "utter_form_resume"
#: Intents that never count as a question on another topic inside a form.
#: Short questions that name no topic ("where is it?"): answered for the topic before them, as
#: dialogues/knowledge/follow_ups.yml says.
FOLLOW_UP_QUESTIONS = {"ask_where": "where", "ask_when": "when", "ask_cost": "cost"}
#: Said, in English and in the city's language, to a message in a language the city does not speak.
NOT_SPOKEN = "utter_language_not_spoken"
#: Below this share of words known from the examples of an enabled language, a message may be in a
#: language the city does not speak.
KNOWN_SHARE = 0.5
#: Said to an e-mail address or phone number typed outside a form (kept for a case opened later).
CONTACT_NOTED = "utter_contact_noted"
#: Said when such a question has no topic to go with.
FOLLOW_UP_UNKNOWN = "utter_follow_up_unknown"
#: The follow-up questions and their words in the lexicon (dialogues/lexicon/<language>.yml): a short
#: question without one ("is it safe?") is not read as where/when/how much.
_FOLLOW_UP_CUES = {"ask_where": "where", "ask_when": "when", "ask_cost": "cost"}
NOT_A_TOPIC = frozenset(
    {"inform", "affirm", "deny", "stop", "delete_conversation", "human_handoff", "nlu_fallback", "greet", "goodbye", "thank",
     "out_of_scope", "fill_form", "case_status", "change_language", *FOLLOW_UP_QUESTIONS}
)
#: Actions that may answer such a question while a form waits (they open no form and hand nothing over).
ASIDE_ACTIONS = frozenset({"action_offer_city_form", "action_find_library_branch", "action_find_events"})
#: How confident the classifier must be before a message inside a form is taken as another question.
ASIDE_CONFIDENCE = 0.8
#: How many recent messages may give a form the topic that led to it.
TOPIC_MEMORY = 4
#: Slots that say what the current topic is about (which days, for whom): kept for follow-ups
#: ("and on Saturday?", "and for adults?"), forgotten when the conversation moves to another topic.
CONTEXT_SLOTS = ("date", "audience")
#: Entities that make a short message a follow-up of the topic before it.
FOLLOW_UP_ENTITIES = frozenset({"date", "audience", "district"})
#: Actions that search with the context slots: their topics take follow-ups.
SEARCH_ACTIONS = frozenset({"action_find_library_branch", "action_find_events"})
#: Below this confidence a message that carries a follow-up entity is taken as a follow-up.
FOLLOW_UP_CONFIDENCE = 0.6
#: Intents that carry no question of their own: a message that is one of these as a whole but asks
#: something in one of its parts ("Hi, I lost my job, what should I do?") is answered for that part.
#: What may open a message before a comma and a request of its own ("Hi, ...", "Yes, I want ...").
GREETINGS = frozenset({"greet", "thank", "affirm"})
NO_QUESTION = frozenset({"greet", "thank", "goodbye", "affirm", "deny", "inform", "out_of_scope", "nlu_fallback"})
#: How sure the classifier must be of a part of a message: to answer it instead of a greeting, and to
#: answer it as a second question beside the message's own.
PART_CONFIDENCE = 0.6
SECOND_QUESTION_CONFIDENCE = 0.8
#: At most this many further questions of one message are answered.
MAX_MORE_QUESTIONS = 2
#: A message of more parts than this is read as a whole (each part costs a reading).
MAX_PARTS = 6
#: Where a message splits into parts: after a sentence, at a line break, after a short greeting with a
#: comma, and before "and" followed by a question word (_and_question), in every language; sentence
#: ends and commas of every script it reads: the Arabic question mark, semicolon and comma (؟ ؛ ،)
#: and the Devanagari danda (। ॥) besides . ! ? ; and the comma.
_SENTENCE_END = re.compile(r"(?<=[.!?;\u061f\u061b\u0964\u0965])\s+|\n+")
_GREETING_COMMA = re.compile(r"^\s*((?:[^\s,!\u060c]+\s+){0,2}[^\s,!\u060c]+)\s*[,!\u060c]\s+(?=\S)")


@lru_cache(maxsize=8)
def _and_question(lexicon: Lexicon) -> re.Pattern[str] | None:
    """Return where a sentence splits before "and" followed by a question word, in every language."""
    branches = [
        rf"(?:{pattern(joiners, str.lower)})\s+(?=(?:{pattern(questions, str.lower)})(?!{WORD_CHAR}))"
        for joiners, questions in lexicon.and_question
    ]
    return re.compile(r"\s*,?\s+(?:" + "|".join(branches) + ")", re.IGNORECASE) if branches else None


@dataclass
class BotMessage:
    """What the bot says: text and quick-reply buttons, in the conversation's language."""

    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    private: bool = False  # carries a one-time secret: shown once, stored as stored_text
    stored_text: str | None = None
    response: str | None = None  # the name of the response said (utter_...), for tests and checks


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
    asked: dict[str, int] = field(default_factory=dict)  # how often the active form asked each slot
    #: May the content editors read what the assistant failed to answer? "yes", "no", or None (not
    #: asked yet, or asked and not answered); asked once per conversation (app/assistant/review.py).
    review_consent: str | None = None
    consent_asked: bool = False
    #: Messages waiting for that answer to enter the review queue (ids of the newcomer's messages).
    review_pending: list[int] = field(default_factory=list)
    #: An answer just rated unhelpful on a messenger or REST: the next message is also its comment.
    comment_for: int | None = None
    #: Messengers and REST: topic answers since the newcomer was last asked whether one helped (None:
    #: never asked); the question is asked again only every few answers (review.ASK_EVERY).
    since_rating_asked: int | None = None
    #: Set by action_erase_conversation for this turn only (never saved): the conversation is to be
    #: deleted once the turn is answered.
    erase_requested: bool = False

    @classmethod
    def from_state(cls, state: dict[str, Any], language: str) -> Tracker:
        """Return the tracker saved in state."""
        known = {k: v for k, v in (state or {}).items() if k in cls.__dataclass_fields__ and k != "erase_requested"}
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
            "asked": self.asked,
            "review_consent": self.review_consent,
            "consent_asked": self.consent_asked,
            "review_pending": self.review_pending[-20:],
            "comment_for": self.comment_for,
            "since_rating_asked": self.since_rating_asked,
        }

    def deactivate(self) -> None:
        """End the active form."""
        self.active_loop = None
        self.requested_slot = None
        self.paused = False
        self.asked = {}

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
    also: list[Parsed] = field(default_factory=list)  # more questions in the same message, in order
    foreign: str | None = None  # the language it is written in, when the city does not speak it
    language_hint: dict[str, float] | None = None  # the example model's probability of each language
    known_share: float = 1.0  # the share of its words found in the examples of an enabled language
    language_confidence: float = 0.0  # how sure the detection is (0.0: the text carries no language)


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
        parsed = self._parse_one(text, tracker)
        # A language the city does not speak, even when the classifier finds a topic in it (Portuguese
        # reads as Spanish): lingua knows 31 languages, the example model the transliterations, and a
        # message mostly of words the examples of an enabled language use is in that language.
        if parsed.known_share < KNOWN_SHARE:
            enabled = list(self.settings.locales)
            parsed.foreign = foreign_language(text, enabled=enabled, hint=parsed.language_hint)
        if parsed.foreign is not None:
            parsed.intent, parsed.confidence = "nlu_fallback", 0.0
            return parsed
        parts = split_parts(
            text, is_greeting=lambda head: self._parse_one(head, tracker).intent in GREETINGS, lexicon=self.data.lexicon
        )
        if 1 < len(parts) <= MAX_PARTS:  # a long letter is read as a whole
            self._read_parts(parsed, [self._parse_one(part, tracker) for part in parts])
        return parsed

    def _parse_one(self, text: str, tracker: Tracker) -> Parsed:
        result = self.nlu.parse(text, enabled_languages=list(self.settings.locales), prior_language=tracker.language)
        parsed = Parsed(
            text=text,
            language=result.language,
            intent=result.intent,
            confidence=result.confidence,
            entities=self._when_and_whom(text, list(result.entities)),
            ranking=list(result.ranking),
            language_hint=getattr(result, "language_hint", None),
            known_share=getattr(result, "known_share", 0.0),
            language_confidence=getattr(result, "language_confidence", 0.0),
        )
        if parsed.intent in _FOLLOW_UP_CUES and not _asks_with(parsed.intent, text, self.data.lexicon):
            # "Is it safe?" has the shape of "where is it?" but none of its words: the next reading.
            others = [(i, c) for i, c in parsed.ranking if i not in _FOLLOW_UP_CUES]
            best, confidence = others[0] if others else ("nlu_fallback", 0.0)
            parsed.intent, parsed.confidence = (best, confidence) if confidence >= PART_CONFIDENCE else ("nlu_fallback", confidence)
        return parsed

    @staticmethod
    def _read_parts(parsed: Parsed, parts: list[Parsed]) -> None:
        """Let the parts of a message speak: a greeting's question is answered instead of the greeting,
        and a second question gets its own answer after the first (parsed.also)."""
        # Switching the language is read from the whole message only ("please help" is no request for one).
        asking = [
            p for p in parts
            if p.intent not in NO_QUESTION and p.intent != "change_language" and p.confidence >= PART_CONFIDENCE
        ]
        if not asking:
            return
        if parsed.intent in NO_QUESTION or parsed.intent in {p.intent for p in asking}:
            # Answered in the order asked; a part the whole message confirms needs no more certainty.
            confirmed = parsed.intent
            first = asking[0]
            parsed.intent, parsed.confidence, parsed.ranking = first.intent, first.confidence, first.ranking
            more = [p for p in asking[1:] if p.intent == confirmed or p.confidence >= SECOND_QUESTION_CONFIDENCE]
        else:
            more = [p for p in asking if p.confidence >= SECOND_QUESTION_CONFIDENCE]
        answered = {parsed.intent}
        for part in more:
            if part.intent not in answered and len(parsed.also) < MAX_MORE_QUESTIONS:
                answered.add(part.intent)
                parsed.also.append(part)

    def _when_and_whom(self, text: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Add the days (`date`, as typed) and the audience a message names, in any language, to the
        entities the NLU found (which win where they overlap)."""
        known = self.data.domain.entities
        found: list[dict[str, Any]] = []
        if "date" in known:
            days = find_when(text, date.today(), self.data.lexicon)
            typed = [e for e in entities if e.get("entity") == "date"]
            # The lexicon's reading wins where it is wider: "შაბათ-კვირას" (the weekend) holds
            # "კვირას" (Sunday), an example's annotated date.
            if days is not None and all(
                e.get("start") is not None and days.start <= e["start"] and e["end"] <= days.end
                and e["end"] - e["start"] < days.end - days.start
                for e in typed
            ):
                entities = [e for e in entities if e.get("entity") != "date"]
                found.append({"entity": "date", "value": text[days.start : days.end], "start": days.start, "end": days.end})
        taken = [(e["start"], e["end"]) for e in entities if e.get("start") is not None]
        if "audience" in known:
            whom = find_audience(text, self.data.lexicon)
            if whom is not None:
                found.append({"entity": "audience", "value": whom[0], "start": whom[1], "end": whom[2]})
        for entity in found:
            if all(entity["end"] <= s or entity["start"] >= e for s, e in taken):
                entities.append(entity)
        return sorted(entities, key=lambda e: e["start"] if e.get("start") is not None else -1)

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
            return BotMessage(text=name, response=name)
        catalog = translations(tracker.language)
        # {language} is the language the conversation is held in (links to this site's pages in it).
        values = {**tracker.slots, "language": tracker.language, **params}
        template = catalog.ugettext(chosen.text)
        text = _FORMAT.format(template, **values)
        buttons = [{"title": catalog.ugettext(b.title), "payload": b.payload} for b in chosen.buttons]
        stored = None
        if private:
            masked = {k: ("••••••" if "secret" in k else v) for k, v in values.items()}
            stored = _FORMAT.format(template, **masked)
        return BotMessage(text=text, buttons=buttons, private=private, stored_text=stored, response=name)

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
        if intent in FOLLOW_UP_QUESTIONS:
            return [self._follow_up_answer(tracker, FOLLOW_UP_QUESTIONS[intent])]
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
        """Ask for slot (utter_ask_<form>_<slot>, else utter_ask_<slot>) - at most MAX_ASKS times in a
        row: then explain, offer a person and end the form (the answers so far stay in the slots)."""
        tracker = ctx.tracker
        count = tracker.asked.get(slot, 0) + 1
        if count > MAX_ASKS:
            tracker.remember(f"action:{FORM_STUCK}")
            tracker.deactivate()
            ctx.utter(FORM_STUCK)
            return
        tracker.asked = {slot: count}  # a new question starts its own count
        tracker.requested_slot = slot
        for name in (f"action_ask_{form}_{slot}", f"action_ask_{slot}"):
            if name in self.actions:  # as in Rasa: a custom action asks (buttons built from data)
                self.actions[name](ctx)
                return
        for name in (f"utter_ask_{form}_{slot}", f"utter_ask_{slot}"):
            if name in self.data.domain.responses:
                ctx.utter(name)
                return

    def value_from_intent(self, slot: str, intent: str) -> Any:
        """Return the value a from_intent mapping of slot gives intent (whatever its conditions)."""
        for mapping in self.data.domain.slots[slot].mappings if slot in self.data.domain.slots else ():
            intents = mapping.get("intent")
            allowed = intents if isinstance(intents, list) else [intents]
            if mapping.get("type") == "from_intent" and intent in allowed:
                return mapping.get("value")
        return None

    def recent_value(self, tracker: Tracker, slot: str) -> Any:
        """Return the value of slot that the latest topic of the conversation gives (the intent of a
        recent turn, through the slot's from_intent mappings), or None."""
        intents = [item[7:] for item in tracker.history if item.startswith("intent:")]
        for intent in reversed(intents[-TOPIC_MEMORY:]):
            value = self.value_from_intent(slot, intent)
            if value is not None:
                return value
        return None

    def _is_aside(self, tracker: Tracker, parsed: Parsed, form: str, requested: str) -> list[str] | None:
        """Return the actions that answer parsed when it is a question on another topic asked while
        form waits for requested (answered, then the form resumes); None when it is an answer."""
        if parsed.intent in NOT_A_TOPIC or parsed.confidence < ASIDE_CONFIDENCE:
            return None
        if self.fill_slots(tracker, parsed, only=requested):
            mappings = self.data.domain.slots[requested].mappings
            takes_text = any(m.get("type") == "from_text" for m in mappings)
            # Free text fills any slot that takes text: only a question is taken as a question there,
            # and never where the form asks to describe the problem (the question is the answer).
            if not takes_text or requested == "case_description" or not parsed.text.rstrip().endswith("?"):
                return None
        loop, tracker.active_loop = tracker.active_loop, None
        try:
            actions = self.predict(tracker, parsed.intent)
        finally:
            tracker.active_loop = loop
        if all(a.startswith("utter_") or a in ASIDE_ACTIONS for a in actions):
            return actions
        return None

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
            tracker.asked = {}
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
        if tracker.paused and parsed.intent == "delete_conversation":
            tracker.paused = False  # the form's rule for it ends the form and asks
        if tracker.paused:
            if parsed.intent == "affirm":
                tracker.paused = False
                tracker.remember(f"action:{form}")
                tracker.asked = {}
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
        requested = tracker.requested_slot
        aside = self._is_aside(tracker, parsed, form, requested) if requested else None
        if aside is not None:
            # A question on another topic: answer it, then ask the form's question again (not counted).
            loop, tracker.active_loop = tracker.active_loop, None
            try:
                self.run_actions(ctx, aside)
            finally:
                tracker.active_loop = loop
            if tracker.active_loop is None:
                return True
            tracker.asked[requested] = tracker.asked.get(requested, 1) - 1
            tracker.remember(f"action:{FORM_RESUME}")
            ctx.utter(FORM_RESUME)
            tracker.remember(f"action:{form}")
            tracker.last_action = form
            self.ask(ctx, form, requested)
            return True
        tracker.remember(f"action:{form}")
        tracker.last_action = form
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
                follow = self._run_custom(ctx, name)
                if follow:
                    self.run_actions(ctx, follow)

    def _run_custom(self, ctx: Context, name: str) -> list[str] | None:
        """Run a custom action; when it fails, take back what it did (its writes, its messages, its
        slots) and answer with an apology and a way forward instead of nothing."""
        tracker = ctx.tracker
        before, said = copy.deepcopy(tracker.to_state()), len(ctx.messages)
        begin_nested = getattr(ctx.db, "begin_nested", None)
        try:
            with begin_nested() if begin_nested is not None else nullcontext():
                return self.actions[name](ctx)
        except TURN_ERRORS:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of an action gets an answer
            # The type only: an exception's text may carry what the newcomer typed.
            log.error("action %s failed: %s", name, type(exc).__name__)
            restored = Tracker.from_state(before, tracker.language)
            tracker.__dict__.update(restored.__dict__)
            del ctx.messages[said:]
            tracker.deactivate()
            ctx.utter(ACTION_FAILED)
            return None

    def _not_spoken(self, ctx: Context, language: str) -> None:
        """Say in English and in the city's language that Witaj does not speak language yet, offer the
        languages it speaks (quick replies in their own names) and a person (whose messages are
        machine-translated where a model for the language exists)."""
        tracker = ctx.tracker
        tracker.remember(f"action:{NOT_SPOKEN}")
        said = []
        for code in dict.fromkeys(("en", self.settings.default_locale, tracker.language)):
            if code in KNOWN_LOCALES and len(said) < 2:
                said.append(self.render(NOT_SPOKEN, Tracker(language=code), language_name=native_name(language)))
        last = said[-1]
        last.buttons = self.language_buttons() + [b for b in last.buttons if b["payload"] == "/human_handoff"]
        for message in said[:-1]:
            message.buttons = []
        ctx.messages.extend(said)

    def language_buttons(self) -> list[dict[str, str]]:
        """Return a quick reply for each language the city enabled, in its order and in its own name."""
        return [
            {"title": native_name(code), "payload": f'/change_language{{"language": "{code}"}}'}
            for code in self.settings.locales
        ]

    def topic(self, tracker: Tracker) -> str | None:
        """Return the latest topic of the conversation: the last intent that asked about something."""
        for item in reversed(tracker.history):
            if item.startswith("intent:") and item[7:] not in NOT_A_TOPIC:
                return item[7:]
        return None

    def _searches(self, tracker: Tracker, topic: str) -> bool:
        """Return whether the answer to topic searches with the context slots (library, events)."""
        loop, tracker.active_loop = tracker.active_loop, None
        try:
            return bool(SEARCH_ACTIONS.intersection(self._rule_actions(tracker, topic) or []))
        finally:
            tracker.active_loop = loop

    def _follow_up_answer(self, tracker: Tracker, kind: str) -> str:
        """Return what answers "where is it?" (kind where), "when is it open?" (when) or "how much is
        it?" (cost) after the conversation's latest topic (dialogues/knowledge/follow_ups.yml)."""
        topic = self.topic(tracker)
        answer = load_knowledge(self.settings).follow_ups.get(topic or "", {}).get(kind)
        return answer or FOLLOW_UP_UNKNOWN

    def _answers_last_action(self, tracker: Tracker, intent: str) -> bool:
        """Return whether a rule takes intent as the answer to the bot's last action (a district
        given when the bot asked for one)."""
        return any(
            len(rule.steps) > 1
            and rule.steps[0].kind == "action"
            and rule.steps[0].name == tracker.last_action
            and rule.steps[1].kind == "intent"
            and rule.steps[1].name == intent
            for rule in self.data.rules
        )

    def _follow_up(self, tracker: Tracker, parsed: Parsed) -> None:
        """Read a message in the light of the topic before it: "and on Saturday?" after the library's
        hours, "and for adults?" after events become that topic again with the new day or audience;
        a new topic forgets the days and audience of the old one."""
        topic = self.topic(tracker)
        if topic is None or self._answers_last_action(tracker, parsed.intent):
            return
        carried = [e for e in parsed.entities if e.get("entity") in FOLLOW_UP_ENTITIES and e.get("start") is not None]
        if carried and parsed.intent != topic and self._searches(tracker, topic):
            # What is left without the day, audience or district: nothing that names another topic
            # ("and on Thursday evening?") makes it a follow-up; "a doctor on Saturday" is not one.
            rest = "".join(
                " " if any(e["start"] <= i < e["end"] for e in carried) else ch for i, ch in enumerate(parsed.text)
            )
            words = [w for w in re.findall(r"[^\W\d_]+", rest) if len(w) >= 4]  # not "a", "w", "and", "on"
            ranking = self.nlu.classifier.predict(rest, entities=[]) if words else []
            other, confidence = ranking[0] if ranking else ("nlu_fallback", 0.0)
            if other == topic or other in NOT_A_TOPIC or confidence < FOLLOW_UP_CONFIDENCE:
                parsed.intent, parsed.confidence = topic, max(parsed.confidence, FOLLOW_UP_CONFIDENCE)
                return
        if parsed.intent not in NOT_A_TOPIC and parsed.intent != topic:
            for name in CONTEXT_SLOTS:
                tracker.slots[name] = None

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
        if tracker.active_loop is None:
            self._follow_up(tracker, parsed)
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
        if parsed.foreign is not None and tracker.active_loop is None and NOT_SPOKEN in self.data.domain.responses:
            self._not_spoken(ctx, parsed.foreign)
            return ctx.messages
        if intent in ("nlu_fallback", "inform") and CONTACT_NOTED in self.data.domain.responses and mask_contacts(parsed.text)[1]:
            # An address or a number on its own is no riddle: it is kept for a case, say so.
            self.run_actions(ctx, [CONTACT_NOTED])
            return ctx.messages
        if intent == "nlu_fallback":
            self.run_actions(ctx, ["action_two_stage_fallback"])
            return ctx.messages
        self.run_actions(ctx, self.predict(tracker, intent))
        for more in parsed.also:
            # A further question of the same message is answered in turn - an answer only: it opens no
            # form and hands nothing over (a statement read wrongly must not start either).
            if tracker.active_loop is not None or more.intent == intent:
                break
            answer = self.predict(tracker, more.intent)
            if not all(a.startswith("utter_") or a in ASIDE_ACTIONS for a in answer):
                continue
            ctx.parsed = more
            tracker.remember(f"intent:{more.intent}")
            for name, value in self.fill_slots(tracker, more).items():
                tracker.slots[name] = value
            self.run_actions(ctx, answer)
        ctx.parsed = parsed
        return ctx.messages


def _asks_with(intent: str, text: str, lexicon: Lexicon) -> bool:
    """Return whether text has one of the words a follow-up question of intent asks with (a cue of up
    to three letters as a whole word unless it ends with *, a longer one as the start of a word or of
    words)."""
    folded = " " + " ".join(words(text)) + " "
    return any((f" {cue}" if prefix else f" {cue} ") in folded for cue, prefix in _follow_up_cues(lexicon)[intent])


@lru_cache(maxsize=8)
def _follow_up_cues(lexicon: Lexicon) -> dict[str, tuple[tuple[str, bool], ...]]:
    cues: dict[str, tuple[tuple[str, bool], ...]] = {}
    for intent, name in _FOLLOW_UP_CUES.items():
        found = {}
        for cue in lexicon.follow_up_cues[name]:
            text = " ".join(words(cue.rstrip("*")))
            if text:
                found[text] = found.get(text, False) or cue.endswith("*") or len(text) > 3
        cues[intent] = tuple(found.items())
    return cues


def split_parts(
    text: str, *, is_greeting: Callable[[str], bool] = lambda head: True, lexicon: Lexicon | None = None
) -> list[str]:
    """Return the parts of a message that may each ask something: its sentences, a short greeting
    before a comma that opens the message ("Hi, ..."; is_greeting tells whether the words before the
    comma greet), and questions joined by "and"."""
    parts: list[str] = []
    for number, sentence in enumerate(_SENTENCE_END.split(text)):
        greeting = _GREETING_COMMA.match(sentence) if number == 0 else None
        if greeting and len(sentence) > greeting.end() and is_greeting(greeting.group(1)):
            parts.append(greeting.group(1))
            sentence = sentence[greeting.end() :]
        joined = _and_question(lexicon) if lexicon is not None else None
        parts.extend(joined.split(sentence) if joined is not None else [sentence])
    return [p.strip() for p in parts if p and any(ch.isalpha() for ch in p)]


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

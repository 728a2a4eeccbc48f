"""The assistant's knowledge base: library branches, events, crisis phrases and the city form offered
for a topic (dialogues/knowledge/*.yml), checked against the city's districts, the dialogues' intents
and the forms of forms/; and dialogues/answers.yml (the hosts answers may link to, review dates), checked
here so that start-up and `witaj dialogues validate` report it. Each file has its reader in
app/assistant/content/knowledge.py."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from app.assistant.content import knowledge as files
from app.assistant.content.domain import listed_names
from app.assistant.content.knowledge import AnswerPolicy, Branch, Event
from app.assistant.nlu import normalize
from app.cases.content import case_content
from app.config import Settings
from app.content import Checker, ContentError, ContentErrors, load_yaml
from app.forms.service import forms

__all__ = [
    "AnswerPolicy",
    "Branch",
    "Event",
    "Knowledge",
    "load_knowledge",
    "read_answers",
    "read_branches",
    "read_city_forms",
    "read_crisis_phrases",
    "read_events",
    "read_follow_ups",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Knowledge:
    """Everything the custom actions look up."""

    branches: tuple[Branch, ...]
    events: tuple[Event, ...]
    crisis_phrases: tuple[str, ...] = ()  # folded by nlu.normalize, as messages are before matching
    city_forms: dict[str, str] = field(default_factory=dict)  # intent -> form id (forms/<id>.yml)
    #: topic intent -> {where|when|cost: the response or action that answers it} (follow_ups.yml)
    follow_ups: dict[str, dict[str, str]] = field(default_factory=dict)
    #: dialogues/answers.yml, checked here so that start-up and `witaj dialogues validate` report it;
    #: read by `witaj dialogues check-answers` (None when the file is absent)
    answers: AnswerPolicy | None = None


def load_knowledge(settings: Settings) -> Knowledge:
    """Return the validated knowledge base (loaded once); raise ContentErrors listing every problem."""
    folder = settings.content_dir / "dialogues"
    return _load(
        str(folder / "knowledge"),
        frozenset(case_content(settings).districts),
        _domain_intents(str(folder / "domain.yml")),
        frozenset(forms(settings)),
        _domain_answers(str(folder / "domain.yml")),
    )


@lru_cache(maxsize=4)
def _load(
    folder: str,
    districts: frozenset[str],
    intents: frozenset[str],
    form_ids: frozenset[str],
    answers: frozenset[str] = frozenset(),
) -> Knowledge:
    base = Path(folder)
    errors: list[ContentError] = []
    branches = _read(base / "library_branches.yml", errors, lambda c: files.read_branches(c, districts), ())
    events = _read(base / "events.yml", errors, lambda c: files.read_events(c, districts), ())
    phrases = _read(base / "crisis.yml", errors, files.read_crisis_phrases, ())
    offers = _read(
        base / "city_forms.yml",
        errors,
        lambda c: files.read_city_forms(c, intents=intents, form_ids=form_ids),
        {},
    )
    follow_ups = _read(
        base / "follow_ups.yml",
        errors,
        lambda c: files.read_follow_ups(c, intents=intents, answers=answers),
        {},
    )
    policy = _read(
        base.parent / "answers.yml",
        errors,
        lambda c: files.read_answers(c, responses=answers),
        None,
    )
    if errors:
        raise ContentErrors(errors)
    return Knowledge(
        branches=branches,
        events=events,
        crisis_phrases=tuple(normalize(phrase) for phrase in phrases),
        city_forms=offers,
        follow_ups=follow_ups,
        answers=policy,
    )


def _read(path: Path, errors: list[ContentError], read: Callable[[Checker], T], missing: T) -> T:
    """Return read() of the file at path, recording its problems in errors; missing when there is none."""
    if not path.exists():
        return missing
    try:
        doc = load_yaml(path)
    except ContentError as exc:
        errors.append(exc)
        return missing
    return read(Checker(doc, errors))


def _read_one(path: Path, read: Callable[[Checker], T], missing: T) -> T:
    """Return read() of the one file at path; raise ContentError at its first problem."""
    errors: list[ContentError] = []
    result = _read(path, errors, read, missing)
    if errors:
        raise ContentErrors(errors).errors[0]
    return result


def read_branches(path: Path, districts: set[str]) -> tuple[Branch, ...]:
    """Return the branches in path; raise ContentError with file and line."""
    return _read_one(path, lambda c: files.read_branches(c, districts), ())


def read_events(path: Path, districts: set[str]) -> tuple[Event, ...]:
    """Return the events in path; raise ContentError with file and line."""
    return _read_one(path, lambda c: files.read_events(c, districts), ())


def read_crisis_phrases(path: Path) -> tuple[str, ...]:
    """Return the crisis phrases of every language, folded; raise ContentError with file and line."""
    return tuple(normalize(phrase) for phrase in _read_one(path, files.read_crisis_phrases, ()))


def read_city_forms(path: Path, *, intents: frozenset[str], form_ids: frozenset[str]) -> dict[str, str]:
    """Return intent -> city form id from path; raise ContentError with file and line."""
    return _read_one(path, lambda c: files.read_city_forms(c, intents=intents, form_ids=form_ids), {})


def read_follow_ups(path: Path, *, intents: frozenset[str], answers: frozenset[str]) -> dict[str, dict[str, str]]:
    """Return topic -> {where|when|cost: answer} from path; raise ContentError with file and line."""
    return _read_one(path, lambda c: files.read_follow_ups(c, intents=intents, answers=answers), {})


def read_answers(path: Path, *, responses: Collection[str]) -> AnswerPolicy:
    """Return the answer policy in path (dialogues/answers.yml); raise ContentErrors listing every
    problem, or ContentError when the file is missing."""
    if not path.exists():
        raise ContentError(path, 0, "the file is missing: it lists the hosts answers may link to")
    errors: list[ContentError] = []
    policy = _read(path, errors, lambda c: files.read_answers(c, responses=responses), None)
    if errors or policy is None:
        raise ContentErrors(errors)
    return policy


@lru_cache(maxsize=4)
def _domain_answers(path: str) -> frozenset[str]:
    """Return the names of the responses and actions of domain.yml (what may answer a question)."""
    if not Path(path).exists():
        return frozenset()
    data = load_yaml(Path(path)).data
    responses = data.get("responses") if isinstance(data, dict) else None
    names = set(responses) if isinstance(responses, dict) else set()
    return frozenset(names | {name for name, _ in listed_names(data, "actions")})


@lru_cache(maxsize=4)
def _domain_intents(path: str) -> frozenset[str]:
    """Return the intent names of domain.yml (load_dialogues checks the file itself)."""
    if not Path(path).exists():
        return frozenset()
    return frozenset(name for name, _ in listed_names(load_yaml(Path(path)).data, "intents"))

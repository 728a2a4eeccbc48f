"""data/nlu/: the training examples of every language (data/nlu/<language>/*.yml) with their entity
annotations, and the regexes, lookup tables and synonyms of the entities (any data/nlu/ file)."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from app.assistant.content.domain import Domain, listed_names
from app.assistant.content.files import NAME, DialogueFiles, RasaChecker
from app.content import Key, YamlDoc

_ANNOTATION = re.compile(r"\[(?P<text>[^\[\]]+)\](?:\((?P<name>[^()]*)\)|(?P<json>\{[^{}]*\}))")
_BROKEN_ANNOTATION = re.compile(r"\]\s*[({]")
_KINDS = ("intent", "synonym", "regex", "lookup")

#: An entity in annotated text: (start, end, entity, value), value None when the text is the value.
Span = tuple[int, int, str, object]


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
class NluData:
    """Everything in data/nlu/, checked against the domain."""

    examples: dict[str, list[Example]]
    regexes: dict[str, list[str]]
    lookups: dict[str, list[str]]
    synonyms: dict[str, str]


def read_nlu(files: DialogueFiles, domain: Domain, *, min_examples: int) -> NluData | None:
    """Return the NLU data of the folder's data/nlu/, or None when the folder is missing (recorded)."""
    nlu_dir = files.folder / "data" / "nlu"
    if not nlu_dir.is_dir():
        files.fail_at(nlu_dir, 0, "data/nlu/ is missing: it holds one folder of examples per language")
        return None
    # In the order of the language slot's values (pl, uk, ...), then any other folder by name.
    slot = domain.slots.get("language")
    order = list(slot.values) if slot else []
    languages = sorted(
        (p for p in nlu_dir.iterdir() if p.is_dir()),
        key=lambda p: (order.index(p.name) if p.name in order else len(order), p.name),
    )
    if not languages:
        files.fail_at(nlu_dir, 0, "data/nlu/ has no language folder (data/nlu/<language>/*.yml)")
    reader = _NluReader(domain)
    paths: list[tuple[Path, str | None]] = [(p, None) for p in sorted(nlu_dir.glob("*.yml")) if p.is_file()]
    for language_dir in languages:
        reader.raw.setdefault(language_dir.name, [])
        paths.extend((path, language_dir.name) for path in sorted(language_dir.rglob("*.yml")))
    for path, language in paths:
        if (c := files.open(path, sections=("nlu",))) is not None:
            reader.read_file(c, language)
    reader.compile_regexes()
    return NluData(
        examples=reader.examples(min_examples=min_examples),
        regexes=reader.regexes,
        lookups=reader.lookups,
        synonyms=reader.synonyms,
    )


def intents_have_examples(c: RasaChecker, domain: Domain, examples: Mapping[str, list[Example]]) -> None:
    """Record, at its line in domain.yml (c), every intent that has no example in some language."""
    keys = dict(listed_names(c.doc.data, "intents"))
    for language, items in examples.items():
        present = {example.intent for example in items}
        for intent in domain.intents:
            if intent not in present:
                c.fail(keys.get(intent, ("intents",)), f"intent `{intent}` has no examples in {language}")


def read_annotated(
    c: RasaChecker, text: str, line: int, entities: Collection[str]
) -> tuple[str, list[Span]] | None:
    """Return (plain text, spans) of an annotated text at line; None after recording what is wrong."""
    result = parse_annotations(text)
    if isinstance(result, str):
        c.fail_line(line, result)
        return None
    plain, spans = result
    ok = True
    for _, _, entity, _ in spans:
        if entity not in entities:
            c.fail_line(line, f"entity `{entity}` is not under `entities` in domain.yml")
            ok = False
    return (plain, spans) if ok else None


def parse_annotations(text: str) -> tuple[str, list[Span]] | str:
    """Return (plain text, [(start, end, entity, value or None)]) of an annotated example, or a problem."""
    plain: list[str] = []
    spans: list[Span] = []
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
            if not NAME.match(entity):
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


def canonical_values(
    domain: Domain, lookups: Mapping[str, list[str]], synonyms: Mapping[str, str], entity: str
) -> frozenset[str] | None:
    """Return the values entity may take after synonyms, or None when any value goes."""
    values: set[str] = set()
    for slot in domain.slots.values():
        if slot.type == "categorical" and any(
            m.get("type") == "from_entity" and m.get("entity") == entity for m in slot.mappings
        ):
            values.update(slot.values)
    for surface in lookups.get(entity, ()):
        values.add(synonyms.get(surface.lower(), surface))
    return frozenset(values) if values else None


def shortlist(values: list[str], limit: int = 6) -> str:
    """Return the first values joined by commas, with `...` when there are more."""
    shown = ", ".join(values[:limit])
    return shown + (", ..." if len(values) > limit else "")


@dataclass
class _RawExample:
    text: str
    intent: str
    spans: list[Span]
    language: str
    c: RasaChecker
    key: Key
    line: int


class _NluReader:
    """Gathers the NLU files of a folder, then checks the examples of all of them together."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        self.regexes: dict[str, list[str]] = {}
        self.lookups: dict[str, list[str]] = {}
        self.synonyms: dict[str, str] = {}
        self.raw: dict[str, list[_RawExample]] = {}
        self._regex_lines: dict[tuple[str, str], tuple[RasaChecker, int]] = {}
        self._synonym_sources: dict[str, tuple[YamlDoc, Key]] = {}

    def read_file(self, c: RasaChecker, language: str | None) -> None:
        entities = set(self.domain.entities)
        for key, item in c.entries("nlu"):
            if not isinstance(item, dict):
                c.fail(key, "an `nlu` item must be a mapping (intent, synonym, regex or lookup)")
                continue
            kinds = [k for k in _KINDS if k in item]
            unknown = set(item) - {*_KINDS, "examples", "metadata"}
            if len(kinds) != 1 or unknown:
                c.fail(key, "an `nlu` item has exactly one of intent, synonym, regex, lookup, and `examples`")
                continue
            kind = kinds[0]
            name = item[kind]
            lines = self._example_lines(c, key, item.get("examples"))
            if kind == "intent":
                if language is None:
                    c.fail((*key, "intent"), "examples of an intent go in data/nlu/<language>/, not here")
                    continue
                if name not in self.domain.intents:
                    c.fail((*key, "intent"), f"intent `{name}` is not under `intents` in domain.yml")
                for text, line in lines:
                    example = read_annotated(c, text, line, entities)
                    if example is not None:
                        plain, spans = example
                        raw = _RawExample(plain, str(name), spans, language, c, key, line)
                        self.raw[language].append(raw)
                continue
            name = str(name)
            if kind in ("regex", "lookup") and name not in entities:
                # Rasa also uses regexes as features without an entity; here they only extract entities.
                c.fail((*key, kind), f"{kind} `{name}` is not an entity under `entities` in domain.yml")
            if kind == "regex":
                self.regexes.setdefault(name, []).extend(text for text, _ in lines)
                for text, line in lines:
                    self._regex_lines[(name, text)] = (c, line)
            elif kind == "lookup":
                self.lookups.setdefault(name, []).extend(text for text, _ in lines)
            else:
                for surface in [name, *(text for text, _ in lines)]:
                    self._add_synonym(c, key, surface, name)

    def compile_regexes(self) -> None:
        for name, patterns in self.regexes.items():
            for pattern in patterns:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    c, line = self._regex_lines[(name, pattern)]
                    c.fail_line(line, f"regex for `{name}` does not compile: {exc}")

    def examples(self, *, min_examples: int) -> dict[str, list[Example]]:
        # Annotations with an explicit value are synonyms too (as in Rasa).
        for items in self.raw.values():
            for item in items:
                for start, end, _, value in item.spans:
                    if value is not None:
                        self._add_synonym(item.c, item.key, item.text[start:end], str(value))
        examples: dict[str, list[Example]] = {}
        seen: dict[str, tuple[str, str, str, int]] = {}
        first_block: dict[tuple[str, str], tuple[RasaChecker, Key]] = {}
        for language, items in self.raw.items():
            examples[language] = []
            for item in items:
                first_block.setdefault((language, item.intent), (item.c, item.key))
                self._check_unique(item, seen)
                examples[language].append(
                    Example(
                        text=item.text,
                        intent=item.intent,
                        entities=self._entity_spans(item),
                        language=language,
                        path=str(item.c.doc.path),
                        line=item.line,
                    )
                )
        for language, items in examples.items():
            counts: dict[str, int] = {}
            for example in items:
                counts[example.intent] = counts.get(example.intent, 0) + 1
            for intent in self.domain.intents:
                count = counts.get(intent, 0)
                if 0 < count < min_examples:
                    c, key = first_block[(language, intent)]
                    c.fail(
                        (*key, "intent"),
                        f"intent `{intent}` has {count} examples in {language}; it needs {min_examples}",
                    )
        return examples

    def _entity_spans(self, item: _RawExample) -> tuple[EntitySpan, ...]:
        spans = []
        for start, end, entity, value in item.spans:
            surface = item.text[start:end]
            final = value if value is not None else self.synonyms.get(surface.lower(), surface)
            allowed = canonical_values(self.domain, self.lookups, self.synonyms, entity)
            if allowed is not None and final not in allowed:
                item.c.fail_line(
                    item.line,
                    f"`{surface}` is not a known {entity}: add it as a synonym of one of "
                    f"{shortlist(sorted(allowed))} in data/nlu/common.yml",
                )
            spans.append(EntitySpan(start=start, end=end, entity=entity, value=final))
        return tuple(spans)

    def _check_unique(self, item: _RawExample, seen: dict[str, tuple[str, str, str, int]]) -> None:
        folded = " ".join(item.text.lower().split())
        previous = seen.get(folded)
        if previous is None:
            seen[folded] = (item.intent, item.language, str(item.c.doc.path), item.line)
            return
        other_intent, other_language, other_path, other_line = previous
        if other_intent == item.intent and other_language == item.language:
            item.c.fail_line(item.line, f"example repeats line {other_line} of intent `{item.intent}`")
        elif other_intent != item.intent:
            item.c.fail_line(
                item.line,
                f"example of `{item.intent}` is also an example of `{other_intent}` "
                f"at {other_path}:{other_line}: an example belongs to one intent",
            )

    def _add_synonym(self, c: RasaChecker, key: Key, surface: str, value: str) -> None:
        folded = surface.strip().lower()
        previous = self.synonyms.get(folded)
        if previous is not None and previous != value:
            doc, where = self._synonym_sources[folded]
            c.fail(
                key,
                f"`{surface}` maps to `{value}` here and to `{previous}` at {doc.path}:{doc.line(*where)}",
            )
            return
        self.synonyms[folded] = value
        self._synonym_sources.setdefault(folded, (c.doc, key))

    def _example_lines(self, c: RasaChecker, key: Key, examples: object) -> list[tuple[str, int]]:
        if not isinstance(examples, str):
            c.fail(key, "`examples` must be a block of lines `- example` (examples: |)")
            return []
        # A literal block starts on the line after `examples: |`.
        first = c.doc.line(*key, "examples") + 1
        found: list[tuple[str, int]] = []
        for offset, line in enumerate(examples.split("\n")):
            stripped = line.strip()
            if not stripped:
                continue
            if not stripped.startswith("- ") or not stripped[2:].strip():
                c.fail_line(first + offset, f"an example is a line `- text`, not {stripped!r}")
                continue
            found.append((stripped[2:].strip(), first + offset))
        return found

"""Reading content files (YAML) with file and line in every error, and the Checker every content
reader (cases/, partners/, forms/, dialogues/) reads typed values with, so that a city administrator
gets every problem of a folder at once, each as `file:line: message`."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import yaml

Key = tuple[str | int, ...]
#: A weekly schedule: weekday (Monday = 0) -> opening spans (opens_at, closes_at), sorted.
Schedule = dict[int, list[tuple[time, time]]]
#: iCalendar BYDAY codes in Python's weekday order (Monday = 0).
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
#: What a browser or htmx reads as markup in text: a tag, end tag, comment, doctype or processing
#: instruction (`<` then a letter, `/`, `!` or `?`; HTML reads any other `<` as text, so "dzieci < 6
#: lat" stays plain), and the attributes that act by themselves: htmx's (`hx-post=`, `data-hx-get=`,
#: `hx-on:click=`) and event handlers (`onclick=`). Pages escape every text anyway; content and
#: translations that carry markup are refused too, so a tag is never one template mistake from running.
_MARKUP = re.compile(
    r"<(?:[/!?]|[^\W\d_])[^>]*>?"
    r"|(?<![\w-])(?:(?:data-)?hx-[\w:.-]+|on[a-z]{3,})\s*=",
    re.IGNORECASE,
)
P = ParamSpec("P")
T = TypeVar("T")
# libyaml's parser when PyYAML was built with it (it is, in the wheels): ten times faster.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ContentError(Exception):
    """A content file that cannot be used; str() is `file:line: message`."""

    def __init__(self, path: Path | str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = str(path)
        self.line = line
        self.message = message


@dataclass
class YamlDoc:
    """A parsed YAML file and the line of every value in it (1-based)."""

    path: Path
    data: Any
    lines: dict[Key, int]

    def line(self, *key: str | int) -> int:
        """Return the line of the value at key, or of its nearest ancestor."""
        probe: Key = tuple(key)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return self.lines.get((), 1)

    def error(self, key: Key, message: str) -> ContentError:
        """Return a ContentError pointing at key's line."""
        return ContentError(self.path, self.line(*key), message)


def _walk(node: yaml.Node, key: Key, lines: dict[Key, int]) -> None:
    lines[key] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for k_node, v_node in node.value:
            _walk(v_node, (*key, k_node.value), lines)
            lines[(*key, k_node.value)] = k_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*key, index), lines)


def load_yaml(path: Path) -> YamlDoc:
    """Return the YAML document at path with its line map; raise ContentError when it does not parse."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContentError(path, 0, f"cannot read: {exc}") from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            duplicate = _first_duplicate_key(node)
            if duplicate is not None:
                key, line = duplicate
                raise ContentError(path, line, f"the key {key!r} appears twice in the same mapping")
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise ContentError(path, line, f"not valid YAML: {exc.problem or exc}") from None
    finally:
        loader.dispose()
    lines: dict[Key, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return YamlDoc(path=path, data=data, lines=lines)


def _first_duplicate_key(node: yaml.Node) -> tuple[str, int] | None:
    """Return (key, line) of a key repeated in one mapping (PyYAML would keep the last silently)."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k_node, v_node in node.value:
            if isinstance(k_node, yaml.ScalarNode):
                if k_node.value in seen:
                    return k_node.value, k_node.start_mark.line + 1
                seen.add(k_node.value)
            found = _first_duplicate_key(v_node)
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            found = _first_duplicate_key(item)
            if found:
                return found
    return None


class ContentErrors(Exception):
    """Every problem found in a content folder; str() is one `file:line: message` per line."""

    def __init__(self, errors: Iterable[ContentError]) -> None:
        self.errors: list[ContentError] = sorted(errors, key=lambda error: (error.path, error.line))
        super().__init__("\n".join(str(error) for error in self.errors))


def label(key: Key) -> str:
    """Return how a message names the value at key: `name`, item N of `name`, or the file."""
    names = [part for part in key if isinstance(part, str)]
    if not names:
        return "the file"
    if isinstance(key[-1], int):
        return f"item {key[-1] + 1} of `{names[-1]}`"
    return f"`{names[-1]}`"


def _kind(value: object) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def markup(text: str) -> list[str]:
    """Return every piece of text that HTML or htmx would read as markup (tags, htmx and event
    attributes), in order; an empty list for plain text."""
    return [match.group(0) for match in _MARKUP.finditer(text)]


def one_of(options: Iterable[str]) -> str:
    return ", ".join(options)


class Checker:
    """Reads typed values out of one YAML document, recording every problem instead of stopping."""

    def __init__(self, doc: YamlDoc, errors: list[ContentError]) -> None:
        self.doc = doc
        self.errors = errors

    @property
    def error_count(self) -> int:
        """Return how many problems have been recorded so far (in any document)."""
        return len(self.errors)

    def fail(self, key: Key, message: str) -> None:
        """Record a problem at key's line."""
        self.errors.append(self.doc.error(key, message))

    def field(
        self,
        item: dict[str, Any],
        key: Key,
        name: str,
        read: Callable[Concatenate[Key, object, P], T | None],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T | None:
        """Return read() of item[name] at key.name, or None when item lacks name (mapping() reported it)."""
        if name not in item:
            return None
        return read((*key, name), item[name], *args, **kwargs)

    def mapping(
        self, key: Key, value: object, *, required: Collection[str], optional: Collection[str] = ()
    ) -> dict[str, Any] | None:
        """Return value if it is a mapping; record unknown and missing keys (None when not a mapping)."""
        if not isinstance(value, dict):
            self.fail(key, f"{label(key)} must be a mapping of keys to values, not {_kind(value)}")
            return None
        allowed = [*required, *optional]
        for name in value:
            if name not in allowed:
                self.fail((*key, name), f"unknown key `{name}` (allowed here: {one_of(allowed)})")
        for name in required:
            if name not in value:
                self.fail(key, f"{label(key)} lacks the required key `{name}`")
        return value

    def sequence(self, key: Key, value: object, *, min_items: int = 0) -> list[Any] | None:
        """Return value if it is a list with at least min_items items, else record why and return None."""
        if not isinstance(value, list):
            self.fail(key, f"{label(key)} must be a list, not {_kind(value)}")
            return None
        if len(value) < min_items:
            self.fail(key, f"{label(key)} must have at least {min_items} item(s)")
            return None
        return value

    def text(self, key: Key, value: object) -> str | None:
        """Return value if it is non-blank text."""
        if not isinstance(value, str):
            self.fail(key, f"{label(key)} must be text, not {_kind(value)}")
            return None
        if not value.strip():
            self.fail(key, f"{label(key)} must not be blank")
            return None
        if not self.plain(key, value):
            return None
        return value.strip()

    def plain(self, key: Key, value: str) -> bool:
        """Return whether text is plain (no HTML or htmx markup); record the first piece of markup."""
        found = markup(value)
        if found:
            self.fail(
                key,
                f"{label(key)} contains markup {found[0][:60]!r}: content is plain text, shown as written; "
                "leave out HTML tags and hx-/on... attributes (a `<` before a space or digit is fine)",
            )
            return False
        return True

    def matching(self, key: Key, value: object, pattern: re.Pattern[str], expected: str) -> str | None:
        """Return value if it is text matching pattern; expected describes the format for the message."""
        if not isinstance(value, str):
            self.fail(key, f"{label(key)} must be {expected}, not {_kind(value)}")
            return None
        if not pattern.match(value):
            self.fail(key, f"{label(key)} is {value!r}; expected {expected}")
            return None
        return value

    def choice(self, key: Key, value: object, options: Sequence[str]) -> str | None:
        """Return value if it is one of options."""
        if not isinstance(value, str) or value not in options:
            shown = repr(value) if isinstance(value, str) else _kind(value)
            self.fail(key, f"{label(key)} is {shown}; allowed: {one_of(options)}")
            return None
        return value

    def boolean(self, key: Key, value: object) -> bool | None:
        """Return value if it is true or false."""
        if not isinstance(value, bool):
            self.fail(key, f"{label(key)} must be true or false, not {_kind(value)}")
            return None
        return value

    def integer(
        self, key: Key, value: object, *, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        """Return value if it is a whole number within the bounds."""
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"{label(key)} must be a whole number, not {_kind(value)}")
            return None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            bounds = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
            self.fail(key, f"{label(key)} is {value}; it must be {bounds}")
            return None
        return value

    def number(self, key: Key, value: object, *, minimum: float, maximum: float) -> float | None:
        """Return value as a float if it is a number within [minimum, maximum]."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(key, f"{label(key)} must be a number, not {_kind(value)}")
            return None
        if not minimum <= value <= maximum:
            self.fail(key, f"{label(key)} is {value}; it must be from {minimum:g} to {maximum:g}")
            return None
        return float(value)

    def items(
        self,
        key: Key,
        value: object,
        read: Callable[[Key, object], str | None],
        *,
        min_items: int = 1,
    ) -> tuple[str, ...] | None:
        """Return a list of distinct strings, each checked by read; None when anything is wrong."""
        values = self.sequence(key, value, min_items=min_items)
        if values is None:
            return None
        result: list[str] = []
        valid = True
        for index, item in enumerate(values):
            checked = read((*key, index), item)
            if checked is None:
                valid = False
            elif checked in result:
                self.fail((*key, index), f"{label(key)} lists {checked!r} twice")
                valid = False
            else:
                result.append(checked)
        return tuple(result) if valid else None

    def choices(
        self, key: Key, value: object, options: Sequence[str], *, min_items: int = 1
    ) -> tuple[str, ...] | None:
        """Return a list of distinct strings, each one of options."""

        def one(item_key: Key, item: object) -> str | None:
            if isinstance(item, str) and item in options:
                return item
            shown = repr(item) if isinstance(item, str) else _kind(item)
            self.fail(item_key, f"{label(key)} has {shown}; allowed: {one_of(options)}")
            return None

        return self.items(key, value, one, min_items=min_items)

    def time_of_day(self, key: Key, value: object) -> time | None:
        """Return a quoted "HH:MM" value as a time."""
        if isinstance(value, int) and not isinstance(value, bool):
            # YAML 1.1 reads an unquoted 17:00 as the sexagesimal integer 1020.
            self.fail(
                key, f'{label(key)} must be a quoted time such as "08:00"; unquoted it is read as a number'
            )
            return None
        text = self.matching(key, value, _TIME, 'a quoted 24-hour time "HH:MM" from "00:00" to "23:59"')
        if text is None:
            return None
        return time(int(text[:2]), int(text[3:]))

    def schedule(self, key: Key, value: object) -> Schedule | None:
        """Return weekly opening hours ({days, opens_at, closes_at} items) keyed by weekday."""
        entries = self.sequence(key, value, min_items=1)
        if entries is None:
            return None
        start = self.error_count
        spans: dict[int, list[tuple[time, time, Key]]] = {}
        for index, entry in enumerate(entries):
            item_key = (*key, index)
            item = self.mapping(item_key, entry, required=("days", "opens_at", "closes_at"))
            if item is None:
                continue
            days = self.field(item, item_key, "days", self.choices, DAYS)
            opens = self.field(item, item_key, "opens_at", self.time_of_day)
            closes = self.field(item, item_key, "closes_at", self.time_of_day)
            if opens is not None and closes is not None and opens >= closes:
                self.fail(
                    (*item_key, "closes_at"),
                    f"`closes_at` ({closes:%H:%M}) must be later than `opens_at` ({opens:%H:%M}); "
                    "a span may not pass midnight",
                )
                continue
            if days is None or opens is None or closes is None:
                continue
            for day in days:
                spans.setdefault(DAYS.index(day), []).append((opens, closes, item_key))
        for weekday, day_spans in sorted(spans.items()):
            day_spans.sort(key=lambda span: span[:2])
            # Compare each span with the one reaching furthest so far, which catches every overlap.
            furthest = day_spans[0]
            for span in day_spans[1:]:
                if span[0] < furthest[1]:
                    earlier, later = sorted((furthest, span), key=lambda s: s[2])
                    self.fail(
                        later[2],
                        f"opening hours on {DAYS[weekday]} overlap: {earlier[0]:%H:%M}-{earlier[1]:%H:%M} "
                        f"and {later[0]:%H:%M}-{later[1]:%H:%M}",
                    )
                if span[1] > furthest[1]:
                    furthest = span
        if self.error_count > start:
            return None
        return {
            weekday: [(opens, closes) for opens, closes, _ in day_spans]
            for weekday, day_spans in sorted(spans.items())
        }

"""Reading content files (YAML) with file and line in every error."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Key = tuple[str | int, ...]
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

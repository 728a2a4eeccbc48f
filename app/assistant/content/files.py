"""Opening the Rasa files of dialogues/: each is a mapping that starts with `version: "3.1"` and holds
only the sections of its kind. Every problem of the folder goes into one list."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from app.content import Checker, ContentError, Key, load_yaml

VERSION = "3.1"
#: What a name of an intent, entity, slot, action or form may look like.
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


class RasaChecker(Checker):
    """A Checker of one Rasa file that can also point at a line inside a block of examples."""

    def fail_line(self, line: int, message: str) -> None:
        """Record a problem at a line of the file (a line inside an `examples: |` block has no key)."""
        self.errors.append(ContentError(self.doc.path, line, message))

    def entries(self, section: str) -> list[tuple[Key, Any]]:
        """Return (key, item) for every item of a top-level list; record a problem when it is not a list."""
        value = self.doc.data.get(section)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail((section,), f"`{section}` must be a list")
            return []
        return [((section, index), item) for index, item in enumerate(value)]


class DialogueFiles:
    """The files of one dialogues/ folder as they are opened: their problems, and a hash of their bytes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.errors: list[ContentError] = []
        self._digest = hashlib.sha256()

    @property
    def fingerprint(self) -> str:
        """Return the hash of the names and bytes of every file opened so far, in order."""
        return self._digest.hexdigest()

    def fail_at(self, path: Path, line: int, message: str) -> None:
        """Record a problem about a file or folder that has no YAML to point into."""
        self.errors.append(ContentError(path, line, message))

    def remember(self, path: Path) -> None:
        """Add the file's name and bytes to the fingerprint: it names the trained NLU model, so any
        change of any file read retrains it."""
        try:
            self._digest.update(path.relative_to(self.folder).as_posix().encode() + b"\0")
            self._digest.update(path.read_bytes() + b"\0")
        except OSError:
            pass

    def open(self, path: Path, *, sections: tuple[str, ...]) -> RasaChecker | None:
        """Return a checker of the Rasa file at path, its header checked; None when it is not a mapping."""
        self.remember(path)
        try:
            doc = load_yaml(path)
        except ContentError as exc:
            self.errors.append(exc)
            return None
        c = RasaChecker(doc, self.errors)
        if not isinstance(doc.data, dict):
            c.fail((), f'the file must be a mapping that starts with version: "{VERSION}"')
            return None
        version = doc.data.get("version")
        if version is None:
            self.fail_at(path, 1, f'the file must start with version: "{VERSION}"')
        elif str(version) != VERSION or not isinstance(version, str):
            c.fail(("version",), f'version must be "{VERSION}" (in quotes), not {version!r}')
        for key in doc.data:
            if key != "version" and key not in sections:
                c.fail((key,), f"unknown section `{key}`: this file holds {', '.join(sections)}")
        return c

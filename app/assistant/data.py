"""Reads and validates dialogues/ (Rasa 3.1 YAML) as dialogues/README.md specifies.

The checks are those of `rasa data validate` plus the house rules of the README; every problem in
the folder is reported at once, each as `file:line: message`. Each kind of file has its reader in
app/assistant/content/; this module composes them into DialogueData, and gives Babel the texts of
domain.yml to translate.
"""

from __future__ import annotations

import stat
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from app.assistant.content.domain import (
    DEFAULT_INTENTS,
    DOMAIN_SECTIONS,
    Button,
    Domain,
    Form,
    Response,
    Slot,
    parse_payload,
    read_domain,
)
from app.assistant.content.files import DialogueFiles
from app.assistant.content.lexicon import Lexicon, read_lexicon
from app.assistant.content.nlu_data import (
    EntitySpan,
    Example,
    canonical_values,
    intents_have_examples,
    parse_annotations,
    read_nlu,
)
from app.assistant.content.stories import (
    Rule,
    Step,
    Story,
    forms_are_activated,
    read_rules,
    read_stories,
)
from app.content import ContentErrors

__all__ = [
    "DEFAULT_INTENTS",
    "MIN_EXAMPLES",
    "Button",
    "DialogueData",
    "Domain",
    "EntitySpan",
    "Example",
    "Form",
    "Lexicon",
    "Response",
    "Rule",
    "Slot",
    "Step",
    "Story",
    "extract_responses",
    "load_dialogues",
    "parse_annotations",
    "parse_payload",
]

#: Examples every intent needs in every language (issue 4; dialogues/README.md aims for 20-25).
MIN_EXAMPLES = 15


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
    lexicon: Lexicon = field(default_factory=Lexicon)

    @property
    def languages(self) -> tuple[str, ...]:
        """Return the languages that have NLU examples, in folder order."""
        return tuple(self.examples)

    def canonical_values(self, entity: str) -> frozenset[str] | None:
        """Return the values entity may take after synonyms, or None when any value goes."""
        return canonical_values(self.domain, self.lookups, self.synonyms, entity)


def folder_stamp(folder: Path) -> tuple[tuple[str, int, int, int], ...]:
    """Return the name, inode, size and modification time of every file under folder: it changes when
    a file is edited, replaced, added or removed (without reading any)."""
    found = []
    for path in sorted(folder.rglob("*")):
        info = path.stat()
        if stat.S_ISREG(info.st_mode):
            found.append((path.as_posix(), info.st_ino, info.st_size, info.st_mtime_ns))
    return tuple(found)


def load_dialogues(folder: Path, *, min_examples: int = MIN_EXAMPLES) -> DialogueData:
    """Return the validated dialogues in folder; raise ContentErrors listing every problem."""
    files = DialogueFiles(folder)
    data = _read(files, min_examples=min_examples)
    if files.errors or data is None:
        raise ContentErrors(files.errors)
    return data


def _read(files: DialogueFiles, *, min_examples: int) -> DialogueData | None:
    # The order in which files are opened is the order of the fingerprint: keep it.
    folder = files.folder
    domain_path = folder / "domain.yml"
    if not domain_path.is_file():
        files.fail_at(domain_path, 0, "domain.yml is missing")
        return None
    domain_file = files.open(domain_path, sections=DOMAIN_SECTIONS)
    if domain_file is None:
        return None
    domain = read_domain(domain_file)
    nlu = read_nlu(files, domain, min_examples=min_examples)
    if nlu is None:
        return None

    rules: list[Rule] = []
    stories: list[Story] = []
    tests: list[Story] = []
    rules_path = folder / "data" / "rules.yml"
    if rules_path.is_file() and (c := files.open(rules_path, sections=("rules",))) is not None:
        rules = read_rules(c, domain, nlu)
    stories_path = folder / "data" / "stories.yml"
    if stories_path.is_file() and (c := files.open(stories_path, sections=("stories",))) is not None:
        stories = read_stories(c, domain, nlu, tests=False)
    for path in sorted((folder / "tests").glob("*.yml")):
        if (c := files.open(path, sections=("stories",))) is not None:
            tests.extend(read_stories(c, domain, nlu, tests=True))

    lexicon = read_lexicon(folder, files.errors)

    # Checks across files, reported at the line of domain.yml that names the form or intent.
    forms_are_activated(domain_file, domain, [*rules, *stories])
    intents_have_examples(domain_file, domain, nlu.examples)
    return DialogueData(
        domain=domain,
        examples=nlu.examples,
        regexes=nlu.regexes,
        lookups=nlu.lookups,
        synonyms=nlu.synonyms,
        rules=tuple(rules),
        stories=tuple(stories),
        tests=tuple(tests),
        fingerprint=files.fingerprint,
        lexicon=lexicon,
    )


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

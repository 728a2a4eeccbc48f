"""Writing one labelled example into dialogues/data/nlu/<language>/ (issue 18: the review queue).

A content editor marks the intent of a message the assistant did not understand. propose() returns
the change as an Edit (the file's text before and after, and a unified diff to review or to export
as a patch); apply() writes it. The change goes through the same validation as a hand-edited file:
the whole dialogues/ folder is loaded with the change in place (a copy in a temporary folder, since
load_dialogues reads files from disk) and every problem is reported as `file:line: message`.

Only one line is ever added: `- <text>` at the end of the intent's `examples: |` block in the first
file of the language that holds `- intent: <intent>`, every other byte kept. When no file holds it
in that form, a new block is appended to data/nlu/<language>/review.yml (read like every other
file: the loader takes every *.yml under the language's folder).

Entity annotations in the editor's text (`[Nowa Huta](district)`, `[text]{"entity": ..., "value":
...}`) are kept, as in a hand-edited file: the entity must be under `entities` in domain.yml, and its
value must be a known one (the folder's validation checks that). A bracket that is no annotation
("[this]") is plain text, as Rasa reads it; the masking placeholders of the review queue are refused.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import stat
import tempfile
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from app.assistant.data import DialogueData, folder_stamp, load_dialogues, parse_annotations
from app.assistant.nlu import normalize
from app.content import ContentErrors
from app.errors import Conflict, InvalidInput
from app.i18n import _

#: The longest example an editor may add (characters, after whitespace is collapsed).
MAX_LENGTH = 300
#: The file that takes the examples of an intent no file of the language holds as `- intent: <name>`.
REVIEW_FILE = "review.yml"
REVIEW_HEADER = (
    'version: "3.1"\n'
    "\n"
    "# Examples labelled in the assistant's review queue whose intent no other file of this language\n"
    "# holds in the usual form. Move them to the intent's own file when convenient.\n"
    "\n"
    "nlu:\n"
)
#: What the review queue shows instead of personal data; an example must have real words there.
_PLACEHOLDER = re.compile(r"\[(?:name|phone|e-mail|pesel|case|number|address)\]", re.IGNORECASE)
#: The masks of app.assistant.service.mask_contacts (e-mail addresses and phone numbers).
_MASK = "•••"
_INTENT_LINE = re.compile(
    r"^(?P<indent> *)- +intent: *(?P<quote>[\"']?)(?P<name>[^\"'#\s]+)(?P=quote) *(?:#.*)?$"
)
#: Two editors of one process saving at once: the second sees the first's change and gets a Conflict.
_WRITING = threading.Lock()
#: The dialogues last read by propose(), by folder, with the folder_stamp() they were read at.
_LOADED: dict[Path, tuple[tuple[tuple[str, int, int, int], ...], DialogueData]] = {}
_LOADING = threading.Lock()
_EXAMPLES_LINE = re.compile(r"^(?P<indent> *)examples: *\|[-+]? *(?:#.*)?$")


@dataclass(frozen=True)
class Edit:
    """One file's change: its text before ("" for a new file) and after."""

    path: Path
    relative: str
    before: str
    after: str

    def diff(self) -> str:
        """Return the change as a unified diff that `git apply` and `patch -p1` apply from the content folder."""
        old = self.before.splitlines(keepends=True)
        new = self.after.splitlines(keepends=True)
        lines = difflib.unified_diff(
            old, new, fromfile=f"a/{self.relative}" if old else "/dev/null", tofile=f"b/{self.relative}"
        )
        # difflib leaves a last line without its newline as it is; patch tools expect the marker.
        return "".join(
            line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n" for line in lines
        )


def propose(*, content_dir: Path, language: str, intent: str, text: str) -> Edit:
    """Return the Edit that adds text as an example of intent in language; raise InvalidInput when the
    example is not acceptable or the dialogues would not load with it."""
    text = " ".join(text.split())
    _check_text(text)
    folder = content_dir / "dialogues"
    nlu_dir = folder / "data" / "nlu"
    languages = {p.name for p in nlu_dir.iterdir() if p.is_dir()} if nlu_dir.is_dir() else set()
    if language not in languages:
        raise InvalidInput({"language": _("The assistant has no examples in this language.")})
    data = _load(folder)
    if intent not in data.domain.intents:
        raise InvalidInput({"intent": _("There is no intent %(intent)s in the dialogues.", intent=intent)})
    plain = _check_annotations(text, data)
    wanted = normalize(plain)
    for example in data.examples.get(language, []):
        if normalize(example.text) == wanted:
            raise InvalidInput(
                {"text": _("This is already an example of the intent %(intent)s.", intent=example.intent)}
            )
    language_dir = nlu_dir / language
    edit = _insert(content_dir, language_dir, intent, text) or _append(
        content_dir, language_dir, intent, text
    )
    _validate(content_dir, edit)
    return edit


def apply(edit: Edit) -> None:
    """Write edit atomically; raise Conflict when the file changed since propose() or the dialogues
    no longer load with the change (another file changed meanwhile)."""
    relative = Path(edit.relative)
    if (
        relative.parts[:3] != ("dialogues", "data", "nlu")
        or ".." in relative.parts
        or relative.suffix != ".yml"
        or not edit.path.as_posix().endswith("/" + relative.as_posix())
    ):
        # An Edit that went through a browser and came back altered: never write outside data/nlu/.
        raise ValueError(f"not an NLU file: {edit.relative}")
    target = Path(os.path.realpath(edit.path))
    with _WRITING:
        if _current(target) != edit.before:
            raise Conflict(_("The file was changed meanwhile by someone else. Review the change again."))
        _validate(_content_dir(edit), edit, conflict=True)
        _write(target, edit.after)


def _write(target: Path, text: str) -> None:
    """Write text to target through a temporary file renamed over it, keeping target's mode."""
    # A new file takes the mode of the folder's other files (reading the umask would change it).
    model = target if target.exists() else next(iter(sorted(target.parent.glob("*.yml"))), None)
    mode = stat.S_IMODE(model.stat().st_mode) if model is not None else 0o644
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as fp:
            fp.write(text)
            fp.flush()
            os.fsync(fp.fileno())
        os.chmod(temporary, mode)
        # The temporary name does not end in .yml: a loader reading the folder meanwhile skips it.
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def writable(content_dir: Path, edit: Edit, *, read_only: bool = False) -> bool:
    """Return whether this process may write edit's file (else the editor exports edit.diff())."""
    if read_only:
        return False
    target = Path(os.path.realpath(edit.path))
    folder = Path(os.path.realpath(content_dir / "dialogues"))
    if not target.is_relative_to(folder):
        return False
    # os.replace needs to write the folder, and the file, when it exists, is replaced, not written.
    parent_ok = os.access(target.parent, os.W_OK | os.X_OK)
    return parent_ok and (not target.exists() or os.access(target, os.W_OK))


# --- checks ----------------------------------------------------------------------------------------


def _check_text(text: str) -> None:
    if not text:
        raise InvalidInput({"text": _("Enter the example.")})
    if len(text) > MAX_LENGTH:
        raise InvalidInput({"text": _("Enter at most %(max)s characters.", max=MAX_LENGTH)})
    if _PLACEHOLDER.search(text) or _MASK in text:
        raise InvalidInput(
            {"text": _("Replace the hidden personal data ([name], [phone], ...) by example words.")}
        )
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text):
        raise InvalidInput({"text": _("The example contains characters that cannot be written.")})


def _check_annotations(text: str, data: DialogueData) -> str:
    """Return text without its entity annotations; raise InvalidInput for a broken or unknown one."""
    parsed = parse_annotations(text)
    if isinstance(parsed, str):
        raise InvalidInput(
            {
                "text": _(
                    'Mark an entity as [words](entity), or leave out "](" from the text: %(problem)s',
                    problem=parsed,
                )
            }
        )
    plain, spans = parsed
    for _start, _end, entity, _value in spans:
        if entity not in data.domain.entities:
            raise InvalidInput({"text": _("There is no entity %(entity)s in the dialogues.", entity=entity)})
    if not plain.strip():
        raise InvalidInput({"text": _("Enter the example.")})
    return plain


# --- the change --------------------------------------------------------------------------------------


def _insert(content_dir: Path, language_dir: Path, intent: str, text: str) -> Edit | None:
    """Return the Edit adding text at the end of the first `- intent: <intent>` block, or None."""
    for path in sorted(language_dir.rglob("*.yml")):
        before = _current(path)
        lines = before.splitlines(keepends=True)
        at = _block_end(lines, intent)
        if at is None:
            continue
        index, indent = at
        newline = "\r\n" if lines[index].endswith("\r\n") else "\n"
        previous = lines[index]
        if not previous.endswith(("\n", "\r")):
            # The block ends the file without a newline: so does the file after.
            lines[index] = previous + newline
            added = f"{indent}- {text}"
        else:
            added = f"{indent}- {text}{newline}"
        lines.insert(index + 1, added)
        return Edit(path=path, relative=_relative(path, content_dir), before=before, after="".join(lines))
    return None


def _block_end(lines: list[str], intent: str) -> tuple[int, str] | None:
    """Return (index of the last example line, its indentation) of intent's first block in lines
    written as `- intent: <intent>` then `examples: |`, or None."""
    for start, line in enumerate(lines):
        match = _INTENT_LINE.match(line.rstrip("\r\n"))
        if not match or match["name"] != intent:
            continue
        item_indent = line.index("intent:")  # the column of the list item's keys
        for index in range(start + 1, len(lines)):
            current = lines[index].rstrip("\r\n")
            if not current.strip() or current.lstrip().startswith("#"):
                continue
            width = len(current) - len(current.lstrip(" "))
            if width < item_indent:
                break  # the item ended without an examples block after its intent
            if width == item_indent and _EXAMPLES_LINE.match(current):
                found = _last_example(lines, index, width)
                if found is not None:
                    return found
                break
    return None


def _last_example(lines: list[str], header: int, key_indent: int) -> tuple[int, str] | None:
    # A literal block's lines are more indented than its key; the first one sets the indentation.
    last, indent = None, None
    for index in range(header + 1, len(lines)):
        current = lines[index].rstrip("\r\n")
        if not current.strip():
            continue
        width = len(current) - len(current.lstrip(" "))
        if width <= key_indent or (indent is not None and width < len(indent)):
            break
        if indent is None:
            indent = current[:width]
        last = index
    if last is None or indent is None:
        return None  # an empty block: written in review.yml instead
    return last, indent


def _append(content_dir: Path, language_dir: Path, intent: str, text: str) -> Edit:
    path = language_dir / REVIEW_FILE
    before = _current(path)
    head = before if before.strip() else REVIEW_HEADER
    if not head.endswith("\n"):
        head += "\n"
    block = f"  - intent: {intent}\n    examples: |\n      - {text}\n"
    after = head + ("" if head.endswith("nlu:\n") else "\n") + block
    return Edit(path=path, relative=_relative(path, content_dir), before=before, after=after)


# --- validation --------------------------------------------------------------------------------------


def _validate(content_dir: Path, edit: Edit, *, conflict: bool = False) -> DialogueData:
    """Return the dialogues loaded with edit in place; raise InvalidInput (Conflict when conflict) with
    their problems when they do not load."""
    folder = content_dir / "dialogues"
    inside = Path(edit.relative).relative_to("dialogues")
    with tempfile.TemporaryDirectory(prefix="witaj-nlu-edit-") as temporary:
        copy = Path(temporary) / "dialogues"
        shutil.copytree(folder, copy)
        with (copy / inside).open("w", encoding="utf-8", newline="") as fp:
            fp.write(edit.after)
        try:
            return load_dialogues(copy)
        except ContentErrors as exc:
            problems = _problems(exc, copy)
    message = _("The assistant's dialogues would not load with this example: %(problems)s", problems=problems)
    if conflict:
        raise Conflict(message)
    raise InvalidInput({"text": message})


def _load(folder: Path) -> DialogueData:
    """Return the dialogues in folder, loaded again only when a file changed (an editor labels many
    messages in a row); raise InvalidInput when they do not load."""
    stamp = folder_stamp(folder)
    with _LOADING:
        cached = _LOADED.get(folder)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        data = load_dialogues(folder)
    except ContentErrors as exc:
        problems = _problems(exc, folder)
    else:
        with _LOADING:
            _LOADED.clear()
            _LOADED[folder] = (stamp, data)
        return data
    raise InvalidInput(
        {
            "text": _(
                "The assistant's dialogues have problems; fix them first: %(problems)s", problems=problems
            )
        }
    )


def _problems(exc: ContentErrors, folder: Path) -> str:
    return "; ".join(_shown(p.path, folder, p.line, p.message) for p in exc.errors)


def _shown(path: str, folder: Path, line: int, message: str) -> str:
    """Return `dialogues/<path in folder>:line: message` (a temporary copy's paths are no one's business)."""
    try:
        name = "dialogues/" + Path(path).relative_to(folder).as_posix()
    except ValueError:
        name = path
    return f"{name}:{line}: {message}"


def _relative(path: Path, content_dir: Path) -> str:
    return path.relative_to(content_dir).as_posix()


def _content_dir(edit: Edit) -> Path:
    parts = Path(edit.relative).parts
    return Path(*edit.path.parts[: len(edit.path.parts) - len(parts)])


def _current(path: Path) -> str:
    try:
        with path.open(encoding="utf-8", newline="") as fp:
            return fp.read()
    except FileNotFoundError:
        return ""

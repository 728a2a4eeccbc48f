"""Writing a labelled example into the NLU files (issue 18): one line added, every other byte kept,
the folder validated with the change, the diff usable as a patch, and the model retrained from it."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from app.assistant import nlu
from app.assistant.data import load_dialogues
from app.assistant.nlu_edit import MAX_LENGTH, Edit, apply, propose, writable
from app.config import PROJECT_ROOT
from app.errors import Conflict, InvalidInput
from app.i18n import use_locale
from tests.assistant.subset import content_with_languages

LABOUR = "dialogues/data/nlu/uk/labour.yml"


@pytest.fixture
def content(tmp_path: Path) -> Path:
    """Return a content folder holding a copy of the shipped dialogues/ (never the repository's) with
    the Ukrainian examples only: what is written and checked is the same with all eleven
    languages, and each proposal validates the whole folder, which then loads in a third of the time."""
    return content_with_languages(tmp_path / "content", ("uk",))


@pytest.fixture(autouse=True)
def english():
    with use_locale("en"):
        yield


def refused(content: Path, **kwargs: str) -> dict[str, str]:
    """Return the field errors of a refused proposal (language uk, intent job_search unless given)."""
    arguments = {
        "language": "uk",
        "intent": "job_search",
        "text": "шукаю роботу кухаря в неділю вночі",
    } | kwargs
    with pytest.raises(InvalidInput) as caught:
        propose(content_dir=content, **arguments)
    return caught.value.field_errors


def added_lines(edit: Edit) -> list[str]:
    body = edit.diff().splitlines()[2:]
    assert not [line for line in body if line.startswith("-")], "nothing may be removed"
    return [line[1:] for line in body if line.startswith("+")]


# --- where the example goes -------------------------------------------------------------------------


def test_the_example_ends_the_intents_block_and_nothing_else_changes(content: Path) -> None:
    key = nlu.cache_key(load_dialogues(content / "dialogues"))
    edit = propose(
        content_dir=content, language="uk", intent="job_search", text="  шукаю   роботу\tзварника "
    )
    path = content / LABOUR
    assert edit.path == path and edit.relative == LABOUR
    assert edit.before == path.read_text(encoding="utf-8"), "propose writes nothing"
    assert added_lines(edit) == ["      - шукаю роботу зварника"]
    before, after = edit.before.splitlines(keepends=True), edit.after.splitlines(keepends=True)
    block_start = before.index("  - intent: job_search\n")
    next_item = before.index("  - intent: work_permit\n")
    last_example = max(i for i in range(block_start, next_item) if before[i].strip())
    assert after == [
        *before[: last_example + 1],
        "      - шукаю роботу зварника\n",
        *before[last_example + 1 :],
    ]

    apply(edit)
    assert path.read_text(encoding="utf-8") == edit.after
    data = load_dialogues(content / "dialogues")
    [example] = [e for e in data.examples["uk"] if e.text == "шукаю роботу зварника"]
    assert (example.intent, Path(example.path).name, example.line) == (
        "job_search",
        "labour.yml",
        last_example + 2,
    )
    assert nlu.cache_key(data) != key, "the changed file retrains the model (its cache key changes)"


def test_characters_with_a_meaning_in_yaml_stay_text(content: Path) -> None:
    texts = [
        "- шукаю роботу маляра",
        "# шукаю роботу тесляра, це не коментар",
        "[шукаю] роботу: {кранівник} & *зірка !tag % @ `x` \"лапки\" 'так' | > ---",
    ]
    for text in texts:
        apply(propose(content_dir=content, language="uk", intent="job_search", text=text))
    found = {e.text: e for e in load_dialogues(content / "dialogues").examples["uk"]}
    for text in texts:
        assert found[text].intent == "job_search", text
        assert found[text].entities == ()


def test_an_entity_annotation_is_kept_when_the_entity_and_value_are_known(content: Path) -> None:
    edit = propose(
        content_dir=content,
        language="uk",
        intent="job_search",
        text="шукаю роботу біля дому в [Nowa Huta](district)",
    )
    assert added_lines(edit) == ["      - шукаю роботу біля дому в [Nowa Huta](district)"]
    apply(edit)
    found = {e.text: e for e in load_dialogues(content / "dialogues").examples["uk"]}
    [span] = found["шукаю роботу біля дому в Nowa Huta"].entities
    assert (span.entity, span.value) == ("district", "Nowa Huta")


def test_an_intent_no_file_holds_as_intent_then_examples_goes_to_review_yml(content: Path) -> None:
    # Valid Rasa with the keys the other way round: the block cannot be found by its `- intent:` line.
    path = content / LABOUR
    text = path.read_text(encoding="utf-8")
    text = text.replace("  - intent: job_search\n    examples: |\n", "  - examples: |\n", 1)
    text = text.replace(
        "\n\n  - intent: work_permit", "\n    intent: job_search\n\n  - intent: work_permit", 1
    )
    path.write_text(text, encoding="utf-8")
    load_dialogues(content / "dialogues")

    edit = propose(
        content_dir=content, language="uk", intent="job_search", text="шукаю роботу на складі вночі"
    )
    review = content / "dialogues/data/nlu/uk/review.yml"
    assert (edit.path, edit.relative, edit.before) == (review, "dialogues/data/nlu/uk/review.yml", "")
    assert edit.after.startswith('version: "3.1"\n')
    assert edit.after.endswith(
        "nlu:\n  - intent: job_search\n    examples: |\n      - шукаю роботу на складі вночі\n"
    )
    apply(edit)
    assert path.read_text(encoding="utf-8") == text
    assert stat.S_IMODE(review.stat().st_mode) == stat.S_IMODE(path.stat().st_mode)

    # The next example of that intent joins the block in review.yml.
    second = propose(content_dir=content, language="uk", intent="job_search", text="шукаю роботу в порту")
    assert second.path == review and added_lines(second) == ["      - шукаю роботу в порту"]
    apply(second)
    examples = load_dialogues(content / "dialogues").examples["uk"]
    in_review = [(e.intent, e.text) for e in examples if Path(e.path).name == "review.yml"]
    assert in_review == [
        ("job_search", "шукаю роботу на складі вночі"),
        ("job_search", "шукаю роботу в порту"),
    ]


# --- refusals --------------------------------------------------------------------------------------


def test_empty_or_long_text_is_refused(content: Path) -> None:
    assert "text" in refused(content, text=" \t\n ")
    assert "text" in refused(content, text="шукаю " + "а" * MAX_LENGTH)
    assert "text" in refused(content, text="[](district)")


def test_an_example_of_any_intent_is_refused_naming_the_intent(content: Path) -> None:
    data = load_dialogues(content / "dialogues")
    other = next(e for e in data.examples["uk"] if e.intent == "work_permit" and not e.entities)
    # Compared as the classifier reads text: case and diacritics do not make a new example.
    assert "work_permit" in refused(content, intent="job_search", text=other.text.upper())["text"]
    assert "job_search" in refused(content, intent="job_search", text="Шукаю  роботу")["text"]


def test_unknown_intent_and_language_are_refused(content: Path) -> None:
    assert "intent" in refused(content, intent="job_searching")
    assert "intent" in refused(content, intent="nlu_fallback")
    for language in ("xx", "../uk", "common.yml", ""):
        assert "language" in refused(content, language=language)


@pytest.mark.parametrize(
    "placeholder", ["[name]", "[phone]", "[e-mail]", "[PESEL]", "[case]", "[number]", "[address]"]
)
def test_masked_personal_data_is_refused(content: Path, placeholder: str) -> None:
    assert "example words" in refused(content, text=f"шукаю роботу, мій номер {placeholder}")["text"]


def test_masked_contacts_are_refused(content: Path) -> None:
    assert "text" in refused(content, text="шукаю роботу, пишіть •••@•••")


def test_annotations_must_name_a_known_entity_and_value(content: Path) -> None:
    assert "colour" in refused(content, text="шукаю роботу [червону](colour)")["text"]
    assert "text" in refused(content, text="шукаю роботу ](district)")
    # The value is checked by the folder's validation, reported at the line of the edited file.
    before_next_block = (content / LABOUR).read_text(encoding="utf-8").split("\n\n  - intent: work_permit")[0]
    line = len(before_next_block.splitlines()) + 1  # the line after the block's last example
    message = refused(content, text="шукаю роботу на [Марсі](district)")["text"]
    assert f"{LABOUR}:{line}:" in message and "Марсі" in message
    assert str(content) not in message and "witaj-nlu-edit" not in message


def test_content_that_is_already_broken_is_refused(content: Path) -> None:
    (content / "dialogues/data/nlu/uk/basics.yml").write_text("version: 3.1\nnlu: []\n", encoding="utf-8")
    assert "dialogues/data/nlu/uk/basics.yml" in refused(content)["text"]


# --- the diff as a patch ----------------------------------------------------------------------------


def test_the_diff_applies_with_git_and_patch(content: Path, tmp_path: Path) -> None:
    inserted = propose(
        content_dir=content, language="uk", intent="job_search", text="# шукаю роботу: 'сторожа'"
    )
    review = Edit(
        path=content / "dialogues/data/nlu/uk/review.yml",
        relative="dialogues/data/nlu/uk/review.yml",
        before="",
        after='version: "3.1"\n\nnlu:\n  - intent: job_search\n    examples: |\n      - шукаю роботу',  # no newline
    )
    for edit in (inserted, review):
        for tool in (["git", "apply"], ["patch", "-p1", "--quiet"]):
            target = tmp_path / "exported"
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(content, target)
            subprocess.run(["git", "init", "-q", str(target)], check=True)
            subprocess.run(
                [*tool, "--check" if tool[0] == "git" else "--dry-run"],
                cwd=target,
                input=edit.diff(),
                text=True,
                check=True,
            )
            subprocess.run(tool, cwd=target, input=edit.diff(), text=True, check=True)
            assert (target / edit.relative).read_bytes() == edit.after.encode(), tool


# --- writing ----------------------------------------------------------------------------------------


def test_apply_refuses_a_file_changed_since_the_review(content: Path) -> None:
    edit = propose(content_dir=content, language="uk", intent="job_search", text="шукаю роботу прибиральниці")
    changed = edit.before + "# a comment added meanwhile\n"
    (content / LABOUR).write_text(changed, encoding="utf-8")
    with pytest.raises(Conflict):
        apply(edit)
    assert (content / LABOUR).read_text(encoding="utf-8") == changed


def test_apply_refuses_a_new_file_created_meanwhile(content: Path) -> None:
    edit = Edit(
        path=content / "dialogues/data/nlu/uk/review.yml",
        relative="dialogues/data/nlu/uk/review.yml",
        before="",
        after='version: "3.1"\n\nnlu:\n',
    )
    (content / edit.relative).write_text('version: "3.1"\n', encoding="utf-8")
    with pytest.raises(Conflict):
        apply(edit)


def test_apply_refuses_a_change_another_file_made_invalid_meanwhile(content: Path) -> None:
    edit = propose(content_dir=content, language="uk", intent="job_search", text="шукаю роботу листоноші")
    basics = content / "dialogues/data/nlu/uk/basics.yml"
    text = basics.read_text(encoding="utf-8")
    basics.write_text(
        text.replace(
            "  - intent: greet\n    examples: |\n",
            "  - intent: greet\n    examples: |\n      - шукаю роботу листоноші\n",
            1,
        ),
        encoding="utf-8",
    )
    with pytest.raises(Conflict) as caught:
        apply(edit)
    assert "greet" in caught.value.public_message()
    assert (content / LABOUR).read_text(encoding="utf-8") == edit.before


def test_apply_replaces_the_file_atomically_keeping_its_mode(content: Path) -> None:
    path = content / LABOUR
    path.chmod(0o640)
    edit = propose(content_dir=content, language="uk", intent="job_search", text="шукаю роботу швачки")
    inode = path.stat().st_ino
    apply(edit)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.stat().st_ino != inode, "a new file renamed over the old one, never the old one rewritten"
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(
        p.name for p in (PROJECT_ROOT / "dialogues/data/nlu/uk").iterdir()
    ), "no temporary file is left"


def test_writable(content: Path) -> None:
    edit = propose(content_dir=content, language="uk", intent="job_search", text="шукаю роботу муляра")
    assert writable(content, edit)
    assert not writable(content, edit, read_only=True)
    assert not writable(content / "dialogues" / "data", edit), "outside the content folder's dialogues/"
    if os.geteuid() != 0:  # root may write any file: a folder's mode says nothing to os.access then
        folder = content / "dialogues/data/nlu/uk"
        folder.chmod(0o555)
        try:
            assert not writable(content, edit)
        finally:
            folder.chmod(0o755)


# --- retraining --------------------------------------------------------------------------------------


def test_a_model_trained_on_the_changed_files_knows_the_new_example(tmp_path: Path) -> None:
    # Two languages train in about 2 s (all eleven take about 14 s); the mechanism is the same.
    content = content_with_languages(tmp_path / "content", ("pl", "en"))
    sentence = "my quokka sprockets wobble near the zorbulator"
    vocabulary = {w for e in load_dialogues(content / "dialogues").examples["en"] for w in nlu.words(e.text)}
    assert not {"quokka", "sprockets", "zorbulator"} & vocabulary, "the sentence must be new to the model"
    apply(propose(content_dir=content, language="en", intent="library_card", text=sentence))
    model = nlu.train(load_dialogues(content / "dialogues"))
    intent, confidence = model.classifier.predict(sentence)[0]
    assert intent == "library_card" and confidence >= nlu.DEFAULT_THRESHOLD


def test_a_hand_edit_between_two_proposals_is_seen(content: Path) -> None:
    propose(content_dir=content, language="uk", intent="job_search", text="шукаю роботу бджоляра")
    basics = content / "dialogues/data/nlu/uk/basics.yml"
    text = basics.read_text(encoding="utf-8")
    header = "  - intent: greet\n    examples: |\n"
    basics.write_text(text.replace(header, header + "      - шукаю роботу бджоляра\n", 1), encoding="utf-8")
    message = refused(content, text="шукаю роботу бджоляра")["text"]
    assert message == "This is already an example of the intent greet."


def test_apply_writes_only_nlu_files(content: Path) -> None:
    for relative in (
        "dialogues/domain.yml",
        "dialogues/data/nlu/uk/../../rules.yml",
        "dialogues/data/nlu/uk/x.txt",
    ):
        with pytest.raises(ValueError):
            apply(Edit(path=content / relative, relative=relative, before="", after="x"))
    with pytest.raises(ValueError):
        apply(Edit(path=content / "dialogues/domain.yml", relative=LABOUR, before="", after="x"))

"""A content folder whose dialogues keep only some languages' examples and conversation tests.

The command-line and cache tests check what `witaj dialogues ...` and the model cache do, which
does not depend on how many languages the examples have: a model of two languages trains in about
a second instead of half a minute. The held-out accuracy of the real data is tested on all of it
(test_nlu.py).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import yaml

from app.config import PROJECT_ROOT

CONTENT = ("cases", "forms", "locales", "partners", "templates")


def content_with_languages(target: Path, languages: tuple[str, ...] = ("pl", "en")) -> Path:
    """Return target, a content folder (WITAJ_CONTENT_DIR) with the shipped content and dialogues
    whose NLU examples and conversation tests are those of languages only."""
    target.mkdir(parents=True, exist_ok=True)
    for name in CONTENT:
        (target / name).symlink_to(PROJECT_ROOT / name, target_is_directory=True)
    dialogues = Path(shutil.copytree(PROJECT_ROOT / "dialogues", target / "dialogues"))
    for folder in (dialogues / "data" / "nlu").iterdir():
        if folder.is_dir() and folder.name not in languages:
            shutil.rmtree(folder)
    for tests in (dialogues / "tests").glob("*.yml"):
        stories = yaml.safe_load(tests.read_text(encoding="utf-8"))
        # A story is named after the languages it is held in: "uk - ...", "ru then uk - ...".
        kept = [
            story for story in stories.get("stories", [])
            if set(re.findall(r"\b[a-z]{2}\b", story["story"].split(" - ")[0])) <= set(languages)
        ]
        if kept:
            tests.write_text(yaml.safe_dump({**stories, "stories": kept}, allow_unicode=True), encoding="utf-8")
        else:
            tests.unlink()
    return target

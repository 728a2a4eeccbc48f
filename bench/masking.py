"""Masking personal data (app/assistant/masking.py): speed, and how often it masks what is no name.

    .venv/bin/python bench/masking.py                  # 10,000 messages, false positives per language
    .venv/bin/python bench/masking.py --messages 50000 --show 5

Speed: real NLU examples of every language, every fifth with a phone number, an e-mail or a name
added, masked with the vocabulary the app passes (built once, timed apart).

False positives, two ways. "Seen": the user turns of dialogues/tests/ (not training examples) with
the full vocabulary. "Held out": each language's training examples masked with a vocabulary built
without that language's examples, as a pessimistic stand-in for messages worded in ways the
training data never saw. Only [name] and [address] count, and only in messages with no digit and
no "@" (those hold real test data).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.assistant.data import load_dialogues  # noqa: E402
from app.assistant.masking import mask, vocabulary  # noqa: E402

EXTRAS = (" +48 600 123 456", " olena.k@example.com", " my name is Olena Kowalenko", " PESEL 92010112345")


def false_positive(text: str, masked: str) -> bool:
    """Return whether masking changed a message that holds no personal data it could find by shape."""
    if any(c.isdigit() for c in text) or "@" in text:
        return False
    return masked != text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--show", type=int, default=3, help="examples of false positives per language")
    args = parser.parse_args()

    data = load_dialogues(ROOT / "dialogues")
    started = time.perf_counter()
    known = vocabulary(data)
    print(f"vocabulary: {len(known):,} words in {time.perf_counter() - started:.2f} s")

    rng = random.Random(18)
    examples = [e.text for exs in data.examples.values() for e in exs]
    messages = [
        rng.choice(examples) + (rng.choice(EXTRAS) if i % 5 == 0 else "") for i in range(args.messages)
    ]
    mask("warm-up", known_words=known)
    started = time.perf_counter()
    for message in messages:
        mask(message, known_words=known)
    elapsed = time.perf_counter() - started
    print(
        f"masked {len(messages):,} messages in {elapsed:.2f} s "
        f"({elapsed / len(messages) * 1e6:.0f} µs a message)"
    )

    turns = sorted({s.user_text for t in data.tests for s in t.steps if s.user_text})
    wrong = [(t, m) for t in turns if false_positive(t, m := mask(t, known_words=known).text)]
    clean = sum(1 for t in turns if not any(c.isdigit() for c in t) and "@" not in t)
    print(f"seen (dialogues/tests): {len(wrong)} of {clean} clean messages changed ({len(wrong) / clean:.1%})")
    for text, masked in wrong[: args.show]:
        print(f"    {text!r} -> {masked!r}")

    print("held out (language's own examples left out of the vocabulary):")
    total = total_wrong = 0
    for language in data.examples:
        others = dataclasses.replace(data, examples={k: v for k, v in data.examples.items() if k != language})
        held_out = vocabulary(others)
        texts = [e.text for e in data.examples[language] if not any(c.isdigit() for c in e.text) and "@" not in e.text]
        wrong = [(t, m) for t in texts if false_positive(t, m := mask(t, known_words=held_out).text)]
        total, total_wrong = total + len(texts), total_wrong + len(wrong)
        print(f"  {language}: {len(wrong)} of {len(texts)} ({len(wrong) / len(texts):.1%})")
        for text, masked in wrong[: args.show]:
            print(f"    {text!r} -> {masked!r}")
    print(f"  all: {total_wrong} of {total} ({total_wrong / total:.1%})")


if __name__ == "__main__":
    main()

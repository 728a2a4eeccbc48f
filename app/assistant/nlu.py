"""Understanding a message: its language, its intent and its entities.

- Language: lingua-language-detector limited to the enabled languages, combined with a small
  character model trained on the NLU examples (which knows the Latin transliterations of uk/ru/be
  that lingua reads as Polish or English); the conversation's language is kept unless the message
  is clearly in another one.
- Intent: one linear model (character n-grams 2-5 and words 1-2 over lower-cased text without
  diacritics, LinearSVC) for all languages, with probabilities from a softmax whose temperature is
  fitted on out-of-fold scores; below a threshold the intent is `nlu_fallback`.
- Entities: the regexes, lookup tables and synonyms of the NLU files, the texts annotated in the
  examples, and ISO or dd.mm.yyyy dates.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import random
import re
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from app.assistant.data import DEFAULT_INTENTS, DialogueData, parse_payload
from app.languages import DETECTABLE, MIN_LETTERS, detect_language, language_words

log = logging.getLogger("witaj.nlu")

#: Intent confidence below which a message is `nlu_fallback` (Rasa's FallbackClassifier default,
#: and the value dialogues/README.md suggests). On held-out examples (80/20 split, three seeds)
#: it keeps 99 % of the right answers and sends 40 % of the wrong ones to the two-stage fallback.
DEFAULT_THRESHOLD = 0.6
#: Confidence factor for a message none of whose words occur in the examples; with the default
#: threshold such a message always goes to the fallback (2-3 % of held-out examples, and gibberish).
UNKNOWN_WORDS_FACTOR = 0.5
FALLBACK_INTENT = "nlu_fallback"
#: Bump when the features or the model change, so that cached models are retrained.
MODEL_VERSION = 6

_ISO_DATE = re.compile(r"(?<![\w-])(\d{4})-(\d{2})-(\d{2})(?![\w-])")
_DOTTED_DATE = re.compile(r"(?<![\w.])(\d{1,2})\.(\d{1,2})\.(\d{4})(?![\w.])")
#: A word: letters and digits, and the vowel signs of Indic scripts (which are no \w characters).
_WORD = re.compile(r"(?:\w|[\u0900-\u0963\u0966-\u0DFF])+")
#: Letters that lose no mark in NFKD but are typed without it: Polish ł, Turkish dotless ı; Arabic's
#: alif maqsura and ta marbuta as people type them (ي, ه); Arabic-Indic and Devanagari digits.
_FOLD = str.maketrans(
    {
        "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ø": "o", "Ø": "o", "ß": "s", "ı": "i",
        "ى": "ي", "ة": "ه",
        **{chr(0x0660 + d): str(d) for d in range(10)},
        **{chr(0x06F0 + d): str(d) for d in range(10)},
        **{chr(0x0966 + d): str(d) for d in range(10)},
    }
)


# --- text normalisation --------------------------------------------------------------------------


def normalize(text: str) -> str:
    """Return text lower-cased, without diacritics and with single spaces (what the classifier sees)."""
    folded = unicodedata.normalize("NFKD", text.lower().translate(_FOLD))
    return " ".join("".join(ch for ch in folded if not unicodedata.combining(ch)).split())


def words(text: str) -> list[str]:
    """Return the words of text as the classifier sees them (normalized)."""
    return _WORD.findall(normalize(text))


def fold(text: str) -> str:
    """Return text lower-cased and without diacritics, one character for one, so spans stay valid."""
    return "".join(_fold_char(ch) for ch in text)


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    base = [
        c for c in unicodedata.normalize("NFKD", ch.lower().translate(_FOLD)) if not unicodedata.combining(c)
    ]
    return base[0] if len(base) == 1 else ch.lower()[:1] or ch


# --- a linear text model with fast single-message scoring ----------------------------------------


class _LinearTextModel:
    """TF-IDF feature sets + LinearSVC, with softmax probabilities at a fitted temperature.

    Training uses scikit-learn; scoring one message reimplements TfidfVectorizer.transform and
    the decision function with the fitted vocabularies, because scikit-learn's per-call checks
    cost about ten times the arithmetic (1.5 ms instead of 0.1 ms).
    """

    def __init__(self, vectorizers: Sequence[Any], *, c: float = 1.0) -> None:
        self.vectorizers = list(vectorizers)
        self.c = c
        self.classes: list[str] = []
        self.temperature = 1.0
        self._weights: np.ndarray | None = None  # (n_features, n_classes)
        self._intercept: np.ndarray | None = None
        self._analyzers: list[Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Analyzers are closures (not picklable); they are rebuilt from the vectorizers on load.
        return {**self.__dict__, "_analyzers": None}

    def fit(
        self, texts: Sequence[str], labels: Sequence[str], *, calibrate: bool = True, seed: int = 0,
        helper: Executor | None = None,
    ) -> _LinearTextModel:
        """Fit the features and the SVM (and the temperature, with calibrate); return self. With a
        helper (another process), the temperature's own SVM is fitted there meanwhile: same result."""
        from scipy.sparse import hstack
        from sklearn.svm import LinearSVC

        matrix = hstack([v.fit_transform(texts) for v in self.vectorizers]).tocsr()
        y = np.asarray(labels)
        # LinearSVC's classes_ are the sorted distinct labels: known before it is fitted.
        self.classes = [str(c) for c in np.unique(y)]
        pending = None
        if calibrate and helper is not None:
            pending = _submit(helper, _temperature, matrix, y, c=self.c, classes=self.classes, seed=seed)
        svm = LinearSVC(C=self.c, random_state=seed).fit(matrix, y)
        coef = svm.coef_ if len(self.classes) > 2 else np.vstack([-svm.coef_[0], svm.coef_[0]])
        intercept = (
            svm.intercept_ if len(self.classes) > 2 else np.array([-svm.intercept_[0], svm.intercept_[0]])
        )
        self._weights = np.ascontiguousarray(coef.T)
        self._intercept = np.asarray(intercept, dtype=float)
        if calibrate:
            self.temperature = _result(pending, _temperature, matrix, y, c=self.c, classes=self.classes, seed=seed)
        return self

    def decision(self, text: str) -> np.ndarray:
        """Return the decision score of every class for one text (same as decision_function)."""
        assert self._weights is not None and self._intercept is not None
        if self._analyzers is None:
            self._analyzers = [v.build_analyzer() for v in self.vectorizers]
        indices: list[int] = []
        values: list[float] = []
        offset = 0
        for vectorizer, analyzer in zip(self.vectorizers, self._analyzers, strict=True):
            vocabulary = vectorizer.vocabulary_
            counts = Counter(vocabulary[g] for g in analyzer(text) if g in vocabulary)
            if counts:
                columns = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
                tf = np.fromiter(counts.values(), dtype=float, count=len(counts))
                if vectorizer.sublinear_tf:
                    tf = np.log(tf) + 1.0
                weights = tf * vectorizer.idf_[columns]
                norm = float(np.sqrt(np.dot(weights, weights)))
                if norm > 0:
                    weights /= norm
                indices.extend((columns + offset).tolist())
                values.extend(weights.tolist())
            offset += len(vocabulary)
        if not indices:
            return self._intercept.copy()
        return self._intercept + np.asarray(values) @ self._weights[indices]

    def probabilities(self, text: str) -> dict[str, float]:
        """Return the probability of every class for one text."""
        probs = _softmax(self.decision(text)[None, :] / self.temperature)[0]
        return dict(zip(self.classes, probs.tolist(), strict=True))

    def decision_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Return decision scores for many texts at once (scikit-learn's path, for evaluation)."""
        from scipy.sparse import hstack

        assert self._weights is not None and self._intercept is not None
        matrix = hstack([v.transform(texts) for v in self.vectorizers]).tocsr()
        return np.asarray(matrix @ self._weights) + self._intercept


def _temperature(matrix: Any, y: np.ndarray, *, c: float, classes: list[str], seed: int) -> float:
    """Return the softmax temperature that fits a held-out fifth of the examples best."""
    from sklearn.model_selection import StratifiedKFold
    from sklearn.svm import LinearSVC

    smallest = min(Counter(y.tolist()).values())
    if smallest < 2:
        return 1.0
    # One held-out fifth (stratified) is enough to fit one number: a fifth of the training
    # time of scoring every example out of fold, and a temperature within about 5 % of it.
    train, test = next(StratifiedKFold(n_splits=min(5, smallest), shuffle=True, random_state=seed).split(matrix, y))
    model = LinearSVC(C=c, random_state=seed).fit(matrix[train], y[train])
    scores = model.decision_function(matrix[test])
    if scores.ndim == 1:
        scores = np.vstack([-scores, scores]).T
    held_out = np.zeros((len(test), len(classes)))
    held_out[:, [classes.index(str(label)) for label in model.classes_]] = scores
    truth = np.array([classes.index(label) for label in y[test].tolist()])
    best, best_loss = 1.0, float("inf")
    for temperature in np.geomspace(0.02, 2.0, 80):
        probs = _softmax(held_out / temperature)
        loss = -float(np.mean(np.log(probs[np.arange(len(truth)), truth] + 1e-12)))
        if loss < best_loss:
            best, best_loss = float(temperature), loss
    return best


def _submit(helper: Executor, work: Any, *args: Any, **kwargs: Any) -> Future[Any] | None:
    """Return work(*args) started on the helper process, or None when the helper cannot take it."""
    try:
        return helper.submit(work, *args, **kwargs)
    except (OSError, RuntimeError, BrokenProcessPool):
        return None


def _result(pending: Future[Any] | None, work: Any, *args: Any, **kwargs: Any) -> Any:
    """Return what the helper computed, or compute it here (no helper, or it failed)."""
    if pending is not None:
        try:
            return pending.result()
        except (OSError, RuntimeError, BrokenProcessPool, EOFError):
            log.warning("a training helper process failed; training on in this one")
    return work(*args, **kwargs)


@contextmanager
def _helpers(workers: int) -> Iterator[Executor | None]:
    """Yield a pool of helper processes for a training when this machine has a core to spare, else None.

    Started with forkserver: forking a process that runs threads (a server's) could copy a lock held
    by one of them. Parts of a training that need no other part (the language model, the intent
    model's temperature) then run beside it, with the same results: about half the time on 2 cores."""
    if workers < 1 or (os.cpu_count() or 1) < 2:
        yield None
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    try:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("forkserver"))
    except (OSError, ValueError):
        yield None
        return
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _fit_language_model(texts: Sequence[str], languages: Sequence[str]) -> _LanguageModel:
    return _LanguageModel().fit(texts, languages)


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def _intent_vectorizers() -> list[Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return [
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, dtype=np.float64),
        TfidfVectorizer(
            analyzer="word",
            ngram_range=(1, 2),
            sublinear_tf=True,
            token_pattern=_WORD.pattern,
            dtype=np.float64,
        ),
    ]


def _language_vectorizers() -> list[Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    # Diacritics are kept here: they are what tells Polish from Belarusian Latin script.
    return [TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, dtype=np.float64)]


class IntentClassifier:
    """One intent model for every language, trained on the NLU examples.

    With an extractor, the names it finds (districts, case references) are replaced by one
    placeholder per entity, so that "I'm from Bieńczyce" reads like every "I'm from <district>"
    the examples have (+0.4 point of held-out accuracy).
    """

    def __init__(self, *, extractor: EntityExtractor | None = None) -> None:
        self._model = _LinearTextModel(_intent_vectorizers())
        self._extractor = extractor

    @property
    def intents(self) -> list[str]:
        """Return the intents the model knows."""
        return list(self._model.classes)

    def fit(
        self, texts: Sequence[str], intents: Sequence[str], *, calibrate: bool = True, helper: Executor | None = None
    ) -> IntentClassifier:
        """Train on texts labelled with intents; return self (calibrate=False: rankings only, 5x faster)."""
        self._model.fit([self._prepare(t) for t in texts], list(intents), calibrate=calibrate, helper=helper)
        return self

    def _prepare(self, text: str, entities: list[dict[str, Any]] | None = None) -> str:
        if self._extractor is not None:
            found = entities if entities is not None else self._extractor.extract(text)
            text = _replace(text, found, kinds=self._extractor.names)
        return normalize(text)

    def predict(
        self, text: str, *, language: str | None = None, entities: list[dict[str, Any]] | None = None
    ) -> list[tuple[str, float]]:
        """Return (intent, confidence) pairs, best first.

        language is unused (one model serves all languages); entities: the extractor's result for
        text when the caller already has it.
        """
        normalized = self._prepare(text, entities)
        probs = self._model.probabilities(normalized)
        if not self._knows_a_word(normalized):
            # Only letter patterns to go on ("blorp fizz wobble", "zzz"): a guess, never an answer.
            probs = {intent: p * UNKNOWN_WORDS_FACTOR for intent, p in probs.items()}
        return sorted(probs.items(), key=lambda item: item[1], reverse=True)

    def _knows_a_word(self, normalized: str) -> bool:
        words = [w for w in _WORD.findall(normalized) if not w.isdigit()]
        vocabulary = self._model.vectorizers[1].vocabulary_
        return not words or any(word in vocabulary for word in words)

    def predict_batch(self, texts: Sequence[str]) -> list[str]:
        """Return the best intent of each text (for evaluation)."""
        scores = self._model.decision_batch([self._prepare(t) for t in texts])
        return [self._model.classes[i] for i in scores.argmax(axis=1)]


class _LanguageModel:
    """Which language folder of the NLU data a text looks like (knows the transliterations)."""

    def __init__(self) -> None:
        self._model = _LinearTextModel(_language_vectorizers())

    def fit(self, texts: Sequence[str], languages: Sequence[str]) -> _LanguageModel:
        self._model.fit([" ".join(t.lower().split()) for t in texts], list(languages))
        return self

    def probabilities(self, text: str) -> dict[str, float]:
        if len(self._model.classes) < 2:
            return dict.fromkeys(self._model.classes, 1.0)
        return self._model.probabilities(" ".join(text.lower().split()))


# --- entities ------------------------------------------------------------------------------------


class EntityExtractor:
    """Finds entities with the regexes, lookup tables, synonyms and annotated texts of the NLU data."""

    def __init__(self, data: DialogueData) -> None:
        self.synonyms = dict(data.synonyms)
        self.regexes = [
            (entity, re.compile(pattern, re.IGNORECASE))
            for entity, patterns in data.regexes.items()
            for pattern in patterns
        ]
        self.dates = "date" in data.domain.entities
        #: Entities that are names (regexes, lookup tables), not words of the message's language.
        self.names = tuple(sorted(set(data.regexes) | set(data.lookups)))
        # folded surface -> (entity, canonical value or None to keep the typed text)
        surfaces: dict[str, tuple[str, str | None]] = {}
        for entity in data.domain.entities:
            allowed = data.canonical_values(entity)
            if allowed is None:
                continue
            for surface in data.lookups.get(entity, []):
                surfaces.setdefault(
                    fold(surface.strip()), (entity, self.synonyms.get(surface.lower(), surface))
                )
            for surface, value in self.synonyms.items():
                if value in allowed:
                    surfaces.setdefault(fold(surface), (entity, value))
            for value in allowed:
                if len(value) >= 4:
                    surfaces.setdefault(fold(value), (entity, value))
        for examples in data.examples.values():
            for example in examples:
                for span in example.entities:
                    if data.canonical_values(span.entity) is None and span.entity in data.domain.entities:
                        typed = example.text[span.start : span.end]
                        known = self.synonyms.get(typed.lower())
                        surfaces.setdefault(fold(typed), (span.entity, known))
        self.surfaces = {s: v for s, v in surfaces.items() if len(s.strip()) >= 3}
        alternatives = "|".join(re.escape(s) for s in sorted(self.surfaces, key=len, reverse=True))
        self.pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)") if alternatives else None
        # Place names as people inflect them ("w Nowej Hucie", "у Новій Гуті", "в Новой Хуте"): each
        # word of a known name of a lookup entity with its ending free, after the exact names.
        stems: dict[str, tuple[str, str | None]] = {}
        for surface, (entity, value) in self.surfaces.items():
            if entity in data.lookups and value is not None:
                stem = _inflected(surface)
                if stem is not None:
                    stems.setdefault(stem, (entity, value))
        self.stems = [(re.compile(stem), entity, value) for stem, (entity, value) in stems.items()]
        joined = "|".join(f"(?:{stem})" for stem in sorted(stems, key=len, reverse=True))
        self.inflected = re.compile(rf"(?<!\w)(?:{joined})(?!\w)") if joined else None

    def extract(self, text: str) -> list[dict[str, Any]]:
        """Return the entities in text as dicts with entity, value, start and end."""
        found: list[dict[str, Any]] = []
        taken: list[tuple[int, int]] = []

        def free(start: int, end: int) -> bool:
            return all(end <= s or start >= e for s, e in taken)

        def add(entity: str, value: object, start: int, end: int) -> None:
            if free(start, end):
                taken.append((start, end))
                found.append({"entity": entity, "value": value, "start": start, "end": end})

        for entity, regex in self.regexes:
            for match in regex.finditer(text):
                value = self.synonyms.get(match.group(0).lower(), match.group(0))
                add(entity, value, match.start(), match.end())
        if self.dates:
            for match in _ISO_DATE.finditer(text):
                parsed = _date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
                if parsed:
                    add("date", parsed, match.start(), match.end())
            for match in _DOTTED_DATE.finditer(text):
                parsed = _date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
                if parsed:
                    add("date", parsed, match.start(), match.end())
        folded = fold(text)
        if self.pattern is not None:
            for match in self.pattern.finditer(folded):
                entity, value = self.surfaces[match.group(0)]
                add(
                    entity,
                    value if value is not None else text[match.start() : match.end()],
                    match.start(),
                    match.end(),
                )
        if self.inflected is not None:
            for match in self.inflected.finditer(folded):
                entity, value = next((e, v) for r, e, v in self.stems if r.fullmatch(match.group(0)))
                add(entity, value, match.start(), match.end())
        return sorted(found, key=lambda item: item["start"])


#: A word of a place name keeps this much of itself when inflected, and may end in up to 3 letters.
_STEM_KEEP = 4


def _inflected(surface: str) -> str | None:
    """Return a pattern for the inflected forms of a (folded) place name: every word of 5 letters or
    more loses its last letter or two ("nowa huta" -> "nowa? hut\\w{0,3}"); None when no word can change."""
    parts = []
    changed = False
    for word in surface.split():
        if len(word) >= 5 and word.isalpha():
            cut = 2 if len(word) >= 7 else 1
            parts.append(re.escape(word[:-cut]) + r"\w{0,3}")
            changed = True
        elif len(word) >= _STEM_KEEP and word.isalpha():
            parts.append(re.escape(word[:-1]) + r"\w{0,3}")
            changed = True
        else:
            parts.append(re.escape(word))
    return r"\s+".join(parts) if changed else None


def _date(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


_EXTRACTORS: dict[str, EntityExtractor] = {}


def extract_entities(text: str, data: DialogueData) -> list[dict[str, Any]]:
    """Return the entities of text (entity, value, start, end) found with the NLU data's tables."""
    extractor = _EXTRACTORS.get(data.fingerprint)
    if extractor is None:
        extractor = _EXTRACTORS[data.fingerprint] = EntityExtractor(data)
    return extractor.extract(text)


# --- the model -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parse:
    """What the NLU understood of one message."""

    text: str
    language: str
    language_confidence: float
    intent: str
    confidence: float
    ranking: list[tuple[str, float]]
    entities: list[dict[str, Any]]
    #: The example model's probability of each language (None: too few letters to say).
    language_hint: dict[str, float] | None = None
    #: The largest share of the message's words found in the examples of one enabled language: a
    #: message mostly made of words of a language the city speaks is in that language, whatever
    #: lingua makes of it ("social assistance in Krakow" is no French).
    known_share: float = 1.0


@dataclass
class NLUModel:
    """The trained NLU: intents, the example language model and the entity tables."""

    key: str
    intents: tuple[str, ...]
    classifier: IntentClassifier
    language_model: _LanguageModel
    entities: EntityExtractor
    training_seconds: float
    #: The words of each language's examples (normalized as the classifier sees them).
    vocabulary: dict[str, frozenset[str]] = field(default_factory=dict)
    loaded_from_cache: bool = field(default=False, compare=False)

    def known_share(self, text: str, languages: Sequence[str]) -> float:
        """Return the largest share of text's words (two letters and more) found in the examples of
        one of languages (1.0 for a text without such words)."""
        found = [w for w in words(text) if len(w) >= 2 and not w.isdigit()]
        if not found:
            return 1.0
        return max(
            (sum(w in self.vocabulary.get(code, ()) for w in found) / len(found) for code in languages),
            default=0.0,
        )

    def parse(
        self,
        text: str,
        *,
        enabled_languages: Sequence[str],
        prior_language: str | None,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> Parse:
        """Return the language, intent (nlu_fallback below threshold) and entities of a message."""
        payload = parse_payload(text, intents=(*self.intents, *DEFAULT_INTENTS))
        codes = [code for code in enabled_languages if code in DETECTABLE]
        if payload is not None:
            intent, values = payload
            language = prior_language if prior_language in codes else (codes[0] if codes else "")
            entities = [{"entity": k, "value": v, "start": None, "end": None} for k, v in values.items()]
            return Parse(text, language, 0.0, intent, 1.0, [(intent, 1.0)], entities)
        entities = self.entities.extract(text)
        # References, secrets, place names, e-mails, links and numbers say nothing about the language
        # of the message ("I live in Kazimierz" is English) and mislead lingua and the example model.
        words = language_words(_blank(text, entities, kinds=self.entities.names))
        hint = (
            self.language_model.probabilities(words)
            if sum(ch.isalpha() for ch in words) >= MIN_LETTERS
            else None
        )
        language, language_confidence = detect_language(words, enabled=codes, prior=prior_language, hint=hint)
        if not text.strip():
            return Parse(text, language, language_confidence, FALLBACK_INTENT, 0.0, [], entities, hint, 1.0)
        ranking = self.classifier.predict(text, entities=entities)[:10]
        intent, confidence = ranking[0]
        if confidence < threshold:
            intent = FALLBACK_INTENT
        known = self.known_share(words, codes)
        return Parse(text, language, language_confidence, intent, confidence, ranking, entities, hint, known)


def _replace(text: str, entities: list[dict[str, Any]], *, kinds: Sequence[str]) -> str:
    parts: list[str] = []
    cursor = 0
    for entity in sorted(entities, key=lambda e: e["start"] if e["start"] is not None else -1):
        if entity["entity"] in kinds and entity["start"] is not None and entity["start"] >= cursor:
            parts.append(text[cursor : entity["start"]])
            parts.append(f" zz{entity['entity']}zz ")
            cursor = entity["end"]
    parts.append(text[cursor:])
    return "".join(parts)


def _blank(text: str, entities: list[dict[str, Any]], *, kinds: Sequence[str]) -> str:
    chars = list(text)
    for entity in entities:
        if entity["entity"] in kinds and entity["start"] is not None:
            chars[entity["start"] : entity["end"]] = " " * (entity["end"] - entity["start"])
    return "".join(chars)


def train(data: DialogueData) -> NLUModel:
    """Return a model trained on every example of data (takes a few seconds)."""
    started = time.perf_counter()
    texts = [e.text for examples in data.examples.values() for e in examples]
    intents = [e.intent for examples in data.examples.values() for e in examples]
    languages = [e.language for examples in data.examples.values() for e in examples]
    extractor = EntityExtractor(data)
    with _helpers(2) as helper:
        language = _submit(helper, _fit_language_model, texts, languages) if helper is not None else None
        classifier = IntentClassifier(extractor=extractor).fit(texts, intents, helper=helper)
        language_model = _result(language, _fit_language_model, texts, languages)
    return NLUModel(
        key=cache_key(data),
        intents=tuple(data.domain.intents),
        classifier=classifier,
        language_model=language_model,
        entities=extractor,
        training_seconds=time.perf_counter() - started,
        vocabulary=_vocabulary(texts, languages),
    )


def _vocabulary(texts: Sequence[str], languages: Sequence[str]) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    for text, language in zip(texts, languages, strict=True):
        found.setdefault(language, set()).update(words(text))
    return {language: frozenset(vocabulary) for language, vocabulary in found.items()}


def cache_key(data: DialogueData) -> str:
    """Return the cache key of a model for data: the data's fingerprint and the library versions."""
    import scipy
    import sklearn

    parts = {
        "data": data.fingerprint,
        "model": MODEL_VERSION,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "python": platform.python_version(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def model_path(data: DialogueData, cache_dir: Path) -> Path:
    """Return the file the model for data is cached in."""
    return cache_dir / f"nlu-{cache_key(data)[:24]}.joblib"


#: Models kept in the cache folder: the newest few (an edit undone, a second content folder, a model
#: being replaced while another process still loads it); older ones are deleted.
KEEP_MODELS = 4


def _cached(path: Path, key: str) -> NLUModel | None:
    import joblib

    if not path.is_file():
        return None
    try:
        model = joblib.load(path)
    except Exception:  # any unreadable cache (truncated, other versions) is simply rebuilt
        return None
    if isinstance(model, NLUModel) and model.key == key:
        model.loaded_from_cache = True
        path.touch()  # used: kept among the newest
        return model
    return None


def train_or_load(data: DialogueData, cache_dir: Path, *, force: bool = False) -> NLUModel:
    """Return the cached model for data from cache_dir, or train, store and return a new one.

    Processes that need the same model at once (the workers of one server, starting) take turns: the
    first trains it, the others wait for it and load it (a lock file beside the models)."""
    import fcntl

    import joblib

    key = cache_key(data)
    path = model_path(data, cache_dir)
    if not force and (model := _cached(path, key)) is not None:
        return model
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / f".{path.stem}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed, even if this process dies
        if not force and (model := _cached(path, key)) is not None:
            return model  # trained by another process meanwhile
        model = train(data)
        # Written aside and renamed, so that a reader never sees half a file and two writers never mix.
        handle, temporary = tempfile.mkstemp(dir=cache_dir, prefix=".nlu-", suffix=".tmp")
        os.close(handle)
        try:
            joblib.dump(model, temporary)  # uncompressed: 10 MB, loads in 0.02 s instead of 0.2 s
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    models = sorted(cache_dir.glob("nlu-*.joblib"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in models[KEEP_MODELS:]:
        stale.unlink(missing_ok=True)
        (cache_dir / f".{stale.stem}.lock").unlink(missing_ok=True)
    return model


# --- evaluation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """Intent accuracy per language on held-out NLU examples."""

    accuracy: dict[str, float]
    tested: dict[str, int]
    confusions: dict[str, Counter[tuple[str, str]]]  # language -> (expected, predicted) -> count
    errors: dict[str, list[tuple[str, str, str]]]  # language -> [(text, expected, predicted)]
    folds: int
    repeats: int
    training_seconds: float  # one training on 80 % of the examples
    #: language -> (expected, predicted) -> count, right answers included (precision and recall).
    outcomes: dict[str, Counter[tuple[str, str]]] = field(default_factory=dict)


def _folds(data: DialogueData, *, folds: int, seed: int) -> list[Any]:
    # Stratified by (language, intent): every fold holds about 1/folds of each intent in each language.
    rng = random.Random(seed)  # noqa: S311 -- a reproducible split, not a secret
    assigned: list[list[Any]] = [[] for _ in range(folds)]
    groups: dict[tuple[str, str], list[Any]] = {}
    for examples in data.examples.values():
        for example in examples:
            groups.setdefault((example.language, example.intent), []).append(example)
    for key in sorted(groups):
        items = list(groups[key])
        rng.shuffle(items)
        start = rng.randrange(folds)
        for index, example in enumerate(items):
            assigned[(start + index) % folds].append(example)
    return assigned


def split_examples(
    data: DialogueData, *, test_size: float = 0.2, seed: int = 0
) -> tuple[list[Any], list[Any]]:
    """Return (train, test) examples, stratified by language and intent."""
    groups: dict[tuple[str, str], list[Any]] = {}
    for examples in data.examples.values():
        for example in examples:
            groups.setdefault((example.language, example.intent), []).append(example)
    rng = random.Random(seed)  # noqa: S311 -- a reproducible split, not a secret
    train_part: list[Any] = []
    test_part: list[Any] = []
    for key in sorted(groups):
        items = list(groups[key])
        rng.shuffle(items)
        held = round(len(items) * test_size) if len(items) > 1 else 0
        test_part.extend(items[:held])
        train_part.extend(items[held:])
    return train_part, test_part


def _predict_round(
    extractor: EntityExtractor, texts: list[str], intents: list[str], tested: list[str]
) -> tuple[list[str], float]:
    """Return the intents a classifier trained on (texts, intents) predicts for tested, and the
    seconds its training took."""
    started = time.perf_counter()
    classifier = IntentClassifier(extractor=extractor).fit(texts, intents, calibrate=False)
    took = time.perf_counter() - started
    return classifier.predict_batch(tested), took


def evaluate(
    data: DialogueData, *, folds: int = 5, repeats: int = 1, test_size: float = 0.2, seed: int = 0
) -> Evaluation:
    """Return the intent accuracy per language on held-out examples.

    folds >= 2: stratified k-fold cross-validation, every example held out once per repeat (with
    5 folds, five 80/20 splits); folds == 1: stratified splits holding out test_size of the
    examples, one per repeat. Repeats use seeds seed, seed + 1, ...; their results are pooled.
    """
    rounds: list[tuple[list[Any], list[Any]]] = []
    for repeat in range(max(repeats, 1)):
        if folds >= 2:
            parts = _folds(data, folds=folds, seed=seed + repeat)
            rounds.extend(
                ([e for j, part in enumerate(parts) if j != i for e in part], parts[i]) for i in range(folds)
            )
        else:
            rounds.append(split_examples(data, test_size=test_size, seed=seed + repeat))
    pairs: list[tuple[Any, str]] = []
    seconds = []
    extractor = EntityExtractor(data)

    def work(index: int) -> tuple[Any, ...]:
        train_part, test_part = rounds[index]
        return extractor, [e.text for e in train_part], [e.intent for e in train_part], [e.text for e in test_part]

    # Every other round runs in a helper process meanwhile (rounds need nothing of each other).
    with _helpers(1) as helper:
        pending = {i: _submit(helper, _predict_round, *work(i)) for i in range(1, len(rounds), 2)} if helper else {}
        done = {i: _predict_round(*work(i)) for i in range(len(rounds)) if i not in pending}
        done |= {i: _result(future, _predict_round, *work(i)) for i, future in pending.items()}
    for index, (_train_part, test_part) in enumerate(rounds):
        predicted, took = done[index]
        seconds.append(took)
        pairs.extend(zip(test_part, predicted, strict=True))
    accuracy: dict[str, float] = {}
    tested: dict[str, int] = {}
    confusions: dict[str, Counter[tuple[str, str]]] = {}
    errors: dict[str, list[tuple[str, str, str]]] = {}
    outcomes: dict[str, Counter[tuple[str, str]]] = {}
    for language in data.examples:
        mine = [(e, p) for e, p in pairs if e.language == language]
        tested[language] = len(mine)
        accuracy[language] = sum(e.intent == p for e, p in mine) / len(mine) if mine else 1.0
        confusions[language] = Counter((e.intent, p) for e, p in mine if e.intent != p)
        outcomes[language] = Counter((e.intent, p) for e, p in mine)
        errors[language] = [(e.text, e.intent, p) for e, p in mine if e.intent != p]
    return Evaluation(
        accuracy=accuracy,
        tested=tested,
        confusions=confusions,
        errors=errors,
        folds=max(folds, 1),
        repeats=max(repeats, 1),
        training_seconds=sum(seconds) / len(seconds),
        outcomes=outcomes,
    )

"""The translation service: the configured backend, a cache in memory, and helpers for async code.

Cache: an LRU in this process, keyed by (engine, model version, source, target, sha256 of the
text), bounded by entries and by characters. No database table, on purpose: the translations of
chat messages, notes and form answers are personal data, and they are already stored with the
message they translate (with engine and model version), where retention and erasure find them.
A second, shared copy in a cache table would outlive an erased message, and a hash of a short
message ("tak", "yes") does not hide it. What the cache saves is the repeated translation of one
text for several readers and the retry after a timeout (the late result lands in the cache).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from app.config import PROJECT_ROOT, get_settings
from app.languages import KNOWN_LOCALES
from app.translation.argos import EXTRA_HINT, INSTALL_HINT, ArgosBackend, argos_installed
from app.translation.base import (
    Backend,
    NoTranslationAvailable,
    Translation,
    TranslationError,
    normalize_code,
)
from app.translation.libretranslate import LibreTranslateBackend
from app.translation.none import NoneBackend

log = logging.getLogger("witaj.translation")

T = TypeVar("T")

DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_CACHE_ENTRIES = 4096
DEFAULT_CACHE_CHARS = 4_000_000
BACKENDS = ("argos", "libretranslate", "none")

CacheKey = tuple[str, str, str, str, str]


def cache_key(engine: str, model_version: str, source: str, target: str, text: str) -> CacheKey:
    """Return the cache key of a translation: the text only as its sha256."""
    return (engine, model_version, source, target, hashlib.sha256(text.encode("utf-8")).hexdigest())


@dataclass(frozen=True)
class CacheInfo:
    """Counters of a TranslationCache."""

    hits: int
    misses: int
    entries: int
    chars: int


class TranslationCache:
    """A thread-safe LRU of translations, bounded by entries and by characters held."""

    def __init__(
        self, *, max_entries: int = DEFAULT_CACHE_ENTRIES, max_chars: int = DEFAULT_CACHE_CHARS
    ) -> None:
        self.max_entries = max_entries
        self.max_chars = max_chars
        self._data: OrderedDict[CacheKey, Translation] = OrderedDict()
        self._chars = 0
        self._hits = 0
        self._misses = 0
        self._lock = threading.Lock()

    def get(self, key: CacheKey) -> Translation | None:
        """Return the cached translation for key (and mark it recently used), or None."""
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self._misses += 1
                return None
            self._data.move_to_end(key)
            self._hits += 1
            return value

    def put(self, key: CacheKey, value: Translation) -> None:
        """Store value under key, evicting the least recently used entries beyond the bounds."""
        if self.max_entries <= 0 or len(value.text) > self.max_chars:
            return
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._chars -= len(old.text)
            self._data[key] = value
            self._chars += len(value.text)
            while self._data and (len(self._data) > self.max_entries or self._chars > self.max_chars):
                _, evicted = self._data.popitem(last=False)
                self._chars -= len(evicted.text)

    def clear(self) -> None:
        """Drop every entry (the counters stay)."""
        with self._lock:
            self._data.clear()
            self._chars = 0

    def info(self) -> CacheInfo:
        """Return hits, misses, entries and characters held."""
        with self._lock:
            return CacheInfo(self._hits, self._misses, len(self._data), self._chars)


@dataclass(frozen=True)
class TranslationConfig:
    """What the service is built from (WITAJ_TRANSLATION_* and friends, see from_settings)."""

    backend: str = "argos"
    argos_data_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "var" / "argos")
    libretranslate_url: str = "http://127.0.0.1:5000"
    libretranslate_api_key: str | None = None
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    cache_entries: int = DEFAULT_CACHE_ENTRIES
    languages: tuple[str, ...] = KNOWN_LOCALES

    @classmethod
    def from_settings(cls, settings: Any) -> TranslationConfig:
        """Return the configuration found on settings; fields it lacks keep their defaults."""
        defaults = cls()
        data_dir = getattr(settings, "argos_data_dir", None) or defaults.argos_data_dir
        return cls(
            backend=str(getattr(settings, "translation_backend", defaults.backend)),
            argos_data_dir=Path(data_dir),
            libretranslate_url=str(getattr(settings, "libretranslate_url", defaults.libretranslate_url)),
            libretranslate_api_key=getattr(settings, "libretranslate_api_key", None) or None,
            timeout_seconds=float(getattr(settings, "translation_timeout_seconds", defaults.timeout_seconds)),
            cache_entries=int(getattr(settings, "translation_cache_entries", defaults.cache_entries)),
            languages=tuple(getattr(settings, "locales", defaults.languages)),
        )


def build_backend(config: TranslationConfig) -> Backend:
    """Return the backend config names; raise ValueError for an unknown one."""
    if config.backend == "argos":
        return ArgosBackend(config.argos_data_dir, languages=config.languages)
    if config.backend == "libretranslate":
        return LibreTranslateBackend(
            config.libretranslate_url, api_key=config.libretranslate_api_key, timeout=config.timeout_seconds
        )
    if config.backend == "none":
        return NoneBackend(languages=config.languages)
    raise ValueError(f"unknown translation backend {config.backend!r}; choose from {list(BACKENDS)}")


class TranslationService:
    """A backend behind a cache; the one object the rest of the app translates through."""

    def __init__(
        self,
        backend: Backend,
        *,
        cache: TranslationCache | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        workers: int = 2,
    ) -> None:
        self.backend = backend
        self.cache = cache if cache is not None else TranslationCache()
        self.timeout = timeout
        self._workers = workers
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    @property
    def engine(self) -> str:
        """Return the backend's engine name."""
        return self.backend.engine

    @property
    def executor(self) -> ThreadPoolExecutor:
        """Return the threads translations run on when called from async code."""
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="witaj-mt")
            return self._executor

    def close(self) -> None:
        """Stop the worker threads (a running translation finishes first) and close the backend."""
        with self._executor_lock:
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None
        close = getattr(self.backend, "close", None)
        if callable(close):
            close()

    def warm_up(self) -> None:
        """Load the backend's libraries and models now (argos: seconds), e.g. from a start-up thread."""
        warm_up = getattr(self.backend, "warm_up", None)
        if callable(warm_up):
            warm_up()

    def lookup(self, text: str, source: str, target: str) -> Translation | None:
        """Return the translation if it needs no backend work (cached, same language, blank), else None.

        Never blocks on a model or the network, so async code may call it on the event loop.
        Raises NoTranslationAvailable when no model translates source -> target.
        """
        source, target = normalize_code(source), normalize_code(target)
        if source == target or not text.strip():
            return Translation(
                text=text, source=source, target=target, engine=self.engine, model_version="", machine=False
            )
        version = self.backend.model_version(source, target)
        return self.cache.get(cache_key(self.engine, version, source, target, text))

    def translate(self, text: str, source: str, target: str) -> Translation:
        """Return text translated from source to target, from the cache when it can.

        Raises NoTranslationAvailable (show the original with a note) or BackendUnavailable.
        """
        source, target = normalize_code(source), normalize_code(target)
        found = self.lookup(text, source, target)
        if found is not None:
            return found
        return self._compute(text, source, target)

    def _compute(self, text: str, source: str, target: str) -> Translation:
        result = self.backend.translate(text, source, target)
        self.cache.put(cache_key(result.engine, result.model_version, source, target, text), result)
        return result

    def detect(self, text: str) -> tuple[str, float]:
        """Return (language, confidence 0..1) of text."""
        return self.backend.detect(text)

    def pairs(self) -> list[tuple[str, str]]:
        """Return the (source, target) pairs that can be translated now; [] when the backend cannot say."""
        try:
            return self.backend.pairs()
        except TranslationError as exc:
            log.warning("translation pairs unavailable: %s", exc)
            return []

    def describe(self) -> str:
        """Return one line for start-up and `witaj mt list`: the engine and its pairs, or how to get some."""
        if self.engine == "none":
            return "machine translation: off (WITAJ_TRANSLATION_BACKEND=none)"
        pairs = self.pairs()
        if pairs:
            shown = ", ".join(f"{source}->{target}" for source, target in pairs)
            return f"machine translation: {self.engine}, {len(pairs)} pairs ({shown})"
        if self.engine == "argos":
            hint = INSTALL_HINT if argos_installed() else EXTRA_HINT
            return f"machine translation: argos, no model installed (originals are shown); {hint}"
        return f"machine translation: {self.engine}, no language pair available (originals are shown)"

    def can_translate(self, source: str, target: str) -> bool:
        """Return whether source -> target can be translated now (same language: yes)."""
        source, target = normalize_code(source), normalize_code(target)
        return source == target or (source, target) in self.pairs()

    async def translate_async(
        self, text: str, source: str, target: str, *, timeout: float | None = None
    ) -> Translation | None:
        """Return the translation, or None when there is none, it failed or took longer than timeout.

        Runs the backend on worker threads so the event loop never waits; never raises (but for
        cancellation) and logs only the exception's type, never the text. A translation that times
        out goes on in its thread and lands in the cache, where the next call finds it.
        """
        try:
            source, target = normalize_code(source), normalize_code(target)
            found = self.lookup(text, source, target)
        except NoTranslationAvailable:
            return None
        except Exception as exc:  # noqa: BLE001 (never break the caller's flow)
            log.warning("translation %s->%s failed: %s", source, target, type(exc).__name__)
            return None
        if found is not None:
            return found
        return await self._off_loop(
            lambda: self._compute(text, source, target), timeout, f"translation {source}->{target}"
        )

    async def detect_async(self, text: str, *, timeout: float | None = None) -> tuple[str, float] | None:
        """Return (language, confidence) like detect, off the event loop; None on failure or timeout."""
        return await self._off_loop(lambda: self.detect(text), timeout, "language detection")

    async def _off_loop(self, work: Callable[[], T], timeout: float | None, what: str) -> T | None:
        limit = self.timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.run_in_executor(self.executor, work), limit)
        except TimeoutError:
            log.warning("%s took longer than %g s", what, limit)
        except NoTranslationAvailable:
            pass
        except Exception as exc:  # noqa: BLE001 (never break the caller's flow)
            log.warning("%s failed: %s", what, type(exc).__name__)
        return None


def build_service(config: TranslationConfig) -> TranslationService:
    """Return a service for config with its own cache and worker threads."""
    return TranslationService(
        build_backend(config),
        cache=TranslationCache(max_entries=config.cache_entries),
        timeout=config.timeout_seconds,
    )


_services: dict[TranslationConfig, TranslationService] = {}
_services_lock = threading.Lock()


def get_service(settings: Any = None) -> TranslationService:
    """Return the process-wide service for settings (the app's settings by default)."""
    if settings is None:
        settings = get_settings()
    config = TranslationConfig.from_settings(settings)
    with _services_lock:
        service = _services.get(config)
        if service is None:
            service = _services[config] = build_service(config)
        return service


async def translate_async(
    text: str,
    source: str,
    target: str,
    *,
    service: TranslationService | None = None,
    timeout: float | None = None,
) -> Translation | None:
    """Return text translated off the event loop, or None (no model, failure, timeout); never raises."""
    try:
        chosen = service or get_service()
    except Exception as exc:  # noqa: BLE001
        log.warning("translation service unavailable: %s", type(exc).__name__)
        return None
    return await chosen.translate_async(text, source, target, timeout=timeout)


async def detect_async(
    text: str, *, service: TranslationService | None = None, timeout: float | None = None
) -> tuple[str, float] | None:
    """Return (language, confidence) off the event loop, or None on failure or timeout; never raises."""
    try:
        chosen = service or get_service()
    except Exception as exc:  # noqa: BLE001
        log.warning("translation service unavailable: %s", type(exc).__name__)
        return None
    return await chosen.detect_async(text, timeout=timeout)


_waiting_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="witaj-mt-wait")


def translate_within(settings: Any, text: str, source: str | None, target: str) -> Translation | None:
    """Return a machine translation of text if one comes within WITAJ_TRANSLATION_WAIT_SECONDS, else None.

    For synchronous request handlers: never raises, never blocks longer than the wait. A slower
    translation goes on in the background and lands in the cache, where `lookup` finds it later.
    """
    if not text or not source or source == target:
        return None
    from concurrent.futures import TimeoutError as FuturesTimeout

    wait = getattr(settings, "translation_wait_seconds", 2.0)
    try:
        future = _waiting_pool.submit(get_service(settings).translate, text, source, target)
        result = future.result(timeout=wait)
    except FuturesTimeout:
        return None
    except Exception as exc:  # noqa: BLE001 - no translation never stops the caller
        log.info("no machine translation %s->%s: %s", source, target, type(exc).__name__)
        return None
    return result if result.machine else None


def as_stored(result: Translation) -> dict[str, str]:
    """Return what a record keeps of a translation: text, engine, model version."""
    return {"text": result.text, "engine": result.engine, "model_version": result.model_version}

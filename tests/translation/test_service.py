"""The translation service: cache, same-language and blank texts, configuration, the async helper."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from app.config import PROJECT_ROOT
from app.translation import (
    NoTranslationAvailable,
    Translation,
    TranslationCache,
    TranslationConfig,
    TranslationService,
    translate_async,
)
from app.translation.argos import ArgosBackend
from app.translation.none import NoneBackend
from app.translation.service import build_backend, cache_key


class CountingArgos(ArgosBackend):
    """The real argos backend, counting the translations it is asked for."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.calls = 0

    def translate(self, text: str, source: str, target: str) -> Translation:
        self.calls += 1
        return super().translate(text, source, target)


@pytest.fixture
def counting(argos_dir: Path) -> CountingArgos:
    return CountingArgos(argos_dir)


def test_a_cache_hit_does_not_call_the_backend_again(counting: CountingArgos) -> None:
    service = TranslationService(counting)

    first = service.translate("Pies je chleb.", "pl", "uk")
    second = service.translate("Pies je chleb.", "pl", "uk")

    assert first == second
    assert second.text == "Пес їсть хліб."
    assert counting.calls == 1
    assert service.cache.info().hits == 1


def test_the_cache_tells_texts_targets_and_model_versions_apart(counting: CountingArgos) -> None:
    service = TranslationService(counting)

    assert service.translate("pies je", "pl", "en").text == "dog eats"
    assert service.translate("pies je", "pl", "uk").text == "пес їсть"
    assert service.translate("kot je", "pl", "en").text == "cat eats"
    assert counting.calls == 3

    key = cache_key("argos", "pl-en 1.0", "pl", "en", "pies je")
    assert service.cache.get(key) is not None
    assert service.cache.get(cache_key("argos", "pl-en 2.0", "pl", "en", "pies je")) is None
    assert "pies je" not in repr(key)


def test_same_language_and_blank_texts_are_not_translated(counting: CountingArgos) -> None:
    service = TranslationService(counting)

    same = service.translate("Dzień dobry", "pl", "PL")
    blank = service.translate("  \n", "pl", "en")

    assert (same.text, same.machine, same.target) == ("Dzień dobry", False, "pl")
    assert (blank.text, blank.machine) == ("  \n", False)
    assert counting.calls == 0


def test_can_translate_follows_the_installed_models(argos_backend: ArgosBackend) -> None:
    service = TranslationService(argos_backend)
    service.warm_up()

    assert service.can_translate("pl", "uk")
    assert service.can_translate("uk", "uk")
    assert not service.can_translate("uk", "pl")


def test_the_cache_is_bounded_by_entries_and_characters() -> None:
    cache = TranslationCache(max_entries=2, max_chars=10)

    def put(text: str) -> None:
        cache.put(cache_key("e", "1", "pl", "en", text), Translation(text, "pl", "en", "e", "1"))

    put("aaa")
    put("bbb")
    cache.get(cache_key("e", "1", "pl", "en", "aaa"))  # aaa is now the most recent
    put("ccc")  # evicts bbb
    assert cache.get(cache_key("e", "1", "pl", "en", "bbb")) is None
    assert cache.get(cache_key("e", "1", "pl", "en", "aaa")) is not None
    put("dddddddd")  # 3 + 8 > 10 characters: evicts down to the newest
    assert cache.info().entries == 1
    put("x" * 11)  # larger than the whole cache: not kept
    assert cache.info().entries == 1


def test_the_none_backend_translates_nothing_but_detects() -> None:
    service = TranslationService(NoneBackend())

    with pytest.raises(NoTranslationAvailable, match="turned off"):
        service.translate("Добрий день, як справи?", "uk", "pl")
    assert service.pairs() == []
    assert asyncio.run(service.translate_async("Добрий день", "uk", "pl")) is None
    language, confidence = service.detect("Добрий день, мені потрібна допомога з реєстрацією")
    assert language == "uk" and confidence > 0.5


def test_translate_async_returns_the_translation_off_the_loop(counting: CountingArgos) -> None:
    service = TranslationService(counting)

    async def run() -> tuple[Translation | None, Translation | None, str | None]:
        first = await translate_async("Dzień dobry!", "pl", "uk", service=service)
        again = await service.translate_async("Dzień dobry!", "pl", "uk")
        return first, again, None

    first, again, _ = asyncio.run(run())
    assert first is not None and first.text == "День добрий!"
    assert again == first
    assert counting.calls == 1
    service.close()


def test_translate_async_never_raises(argos_backend: ArgosBackend, caplog: pytest.LogCaptureFixture) -> None:
    service = TranslationService(argos_backend)
    caplog.set_level(logging.DEBUG)

    assert asyncio.run(service.translate_async("Добрий день, Оксана", "uk", "pl")) is None
    assert asyncio.run(service.translate_async("Добрий день, Оксана", "uk", "not a code")) is None
    assert "Оксана" not in caplog.text


def test_configuration_from_settings(tmp_path: Path) -> None:
    settings = SimpleNamespace(
        translation_backend="libretranslate",
        libretranslate_url="http://127.0.0.1:5999",
        libretranslate_api_key="k",
        argos_data_dir=tmp_path,
        translation_timeout_seconds=3,
        locales=["pl", "uk"],
    )
    config = TranslationConfig.from_settings(settings)

    assert config.backend == "libretranslate" and config.timeout_seconds == 3.0
    assert config.argos_data_dir == tmp_path and config.languages == ("pl", "uk")
    assert build_backend(config).engine == "libretranslate"
    assert TranslationConfig.from_settings(SimpleNamespace()).argos_data_dir == PROJECT_ROOT / "var" / "argos"
    with pytest.raises(ValueError, match="unknown translation backend"):
        build_backend(TranslationConfig(backend="deepl"))


def test_importing_the_package_loads_no_model_library(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "import app.translation, app.translation.cli, app.translation.argos, app.translation.libretranslate\n"
        "from app.translation.argos import ArgosBackend\n"
        f"backend = ArgosBackend({str(tmp_path)!r})\n"
        "assert backend.pairs() == []\n"
        "heavy = ('argostranslate', 'torch', 'ctranslate2', 'stanza')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_describe_says_what_translates_or_how_to_install(argos_backend: ArgosBackend, tmp_path: Path) -> None:
    assert TranslationService(argos_backend).describe() == (
        "machine translation: argos, 3 pairs (en->uk, pl->en, pl->uk)"
    )
    empty = TranslationService(ArgosBackend(tmp_path)).describe()
    assert empty.startswith("machine translation: argos, no model installed (originals are shown)")
    assert "witaj mt install FILE.argosmodel" in empty
    assert (
        TranslationService(NoneBackend()).describe()
        == "machine translation: off (WITAJ_TRANSLATION_BACKEND=none)"
    )

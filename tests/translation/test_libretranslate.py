"""The LibreTranslate client against a server on 127.0.0.1 that speaks LibreTranslate's HTTP API."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from app.translation import BackendUnavailable, NoTranslationAvailable, TranslationService
from app.translation.libretranslate import LibreTranslateBackend
from tests.translation.fake_libretranslate import FakeLibreTranslate


def test_translates_over_http(libretranslate: FakeLibreTranslate) -> None:
    backend = LibreTranslateBackend(libretranslate.url)

    result = backend.translate("Pies je chleb. Dzień dobry!", "pl", "en")

    assert result.text == "Dog eats bread. Day good!"
    assert (result.engine, result.model_version) == (
        "libretranslate",
        f"libretranslate@{libretranslate.url[7:]}",
    )
    assert libretranslate.requests["/translate"] == 1


def test_lists_pairs_from_languages_and_refuses_others(libretranslate: FakeLibreTranslate) -> None:
    backend = LibreTranslateBackend(libretranslate.url)

    assert backend.pairs() == [("en", "pl"), ("en", "uk"), ("pl", "en"), ("pl", "uk"), ("uk", "en")]
    with pytest.raises(NoTranslationAvailable, match="uk->pl"):
        backend.translate("Добрий день", "uk", "pl")
    assert libretranslate.requests["/translate"] == 0
    backend.pairs()
    assert libretranslate.requests["/languages"] == 1  # the language list is cached


def test_detects_with_the_server(libretranslate: FakeLibreTranslate) -> None:
    backend = LibreTranslateBackend(libretranslate.url)

    assert backend.detect("Добрий день") == ("uk", 0.9)
    assert backend.detect("Dzień dobry") == ("pl", 0.9)


def test_sends_the_api_key_when_configured() -> None:
    server = FakeLibreTranslate(api_key="secret-key").start()
    try:
        with pytest.raises(BackendUnavailable, match="API key"):
            LibreTranslateBackend(server.url).translate("pies", "pl", "en")
        with pytest.raises(BackendUnavailable, match="API key"):
            LibreTranslateBackend(server.url, api_key="wrong").translate("pies", "pl", "en")
        assert (
            LibreTranslateBackend(server.url, api_key="secret-key").translate("pies", "pl", "en").text
            == "dog"
        )
    finally:
        server.stop()


def test_server_errors_are_reported_without_the_text(libretranslate: FakeLibreTranslate) -> None:
    libretranslate.fail_with = 500
    backend = LibreTranslateBackend(libretranslate.url)

    with pytest.raises(BackendUnavailable) as raised:
        backend.translate("Pani Oksana, PESEL 90010112345", "pl", "en")

    assert "HTTP 500" in str(raised.value)
    assert "Oksana" not in str(raised.value) and "90010112345" not in str(raised.value)


def test_a_server_that_is_down_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = LibreTranslateBackend(f"http://127.0.0.1:{port}", timeout=2)

    with pytest.raises(BackendUnavailable, match="cannot reach LibreTranslate"):
        backend.translate("pies", "pl", "en")
    assert asyncio.run(TranslationService(backend).translate_async("pies", "pl", "en")) is None


def test_a_slow_server_never_holds_up_the_caller(
    libretranslate: FakeLibreTranslate, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    service = TranslationService(LibreTranslateBackend(libretranslate.url, timeout=30))
    libretranslate.gate.clear()  # the server holds every /translate until the test lets it go

    async def while_the_server_is_stuck() -> tuple[object, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        result = await service.translate_async("Dziękuję, pani Oksano", "pl", "en", timeout=0.3)
        task.cancel()
        return result, ticks

    result, ticks = asyncio.run(while_the_server_is_stuck())

    assert result is None
    assert ticks > 1, "the event loop went on while the translation waited"
    assert "took longer than" in caplog.text and "Oksan" not in caplog.text

    # The translation goes on in its thread; once the server answers, it lands in the cache.
    libretranslate.gate.set()
    service.executor.shutdown(wait=True)  # returns when that thread has finished its work
    assert service.cache.info().entries == 1
    later = asyncio.run(service.translate_async("Dziękuję, pani Oksano", "pl", "en"))
    assert later is not None and later.text == "Thanks, pani Oksano"
    assert libretranslate.requests["/translate"] == 1
    service.close()

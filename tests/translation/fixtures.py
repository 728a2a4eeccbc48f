"""Fixtures for machine translation: tiny argos models built by the suite, installed with argostranslate.

argostranslate reads its folders once per process, so every test of a run shares one argos data
folder (ARGOS_DIR). Add "tests.translation.fixtures" to pytest_plugins to use these elsewhere.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.translation.tiny_model import EN_UK, PL_EN, build_argosmodel

#: The one argos data folder of this test process (and the tiny models built for it), removed at exit.
_ROOT = Path(tempfile.mkdtemp(prefix="witaj-argos-"))
# The app's settings point at the same folder (tests/conftest.py sets WITAJ_ARGOS_DATA_DIR).
ARGOS_DIR = Path(os.environ.get("WITAJ_ARGOS_DATA_DIR") or _ROOT / "argos")
_BUILD_DIR = _ROOT / "build"
_build_lock = threading.Lock()
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)


def require_argos() -> None:
    """Skip when the `mt` extra is missing, except in CI, where it must be there."""
    if os.environ.get("CI"):
        import argostranslate  # noqa: F401 (fails loudly in CI)
    else:
        pytest.importorskip(
            "argostranslate", reason="the mt extra is not installed: pip install -e '.[mt,test]'"
        )
        pytest.importorskip("onnx", reason="the test extra is not installed")


def tiny_model(
    source: str, target: str, words: dict[str, str], version: str = "1.0", *, splitter: bool = True
) -> Path:
    """Return the path of a tiny .argosmodel, built once per process."""
    suffix = "" if splitter else "-nosbd"
    path = _BUILD_DIR / f"{version}{suffix}" / f"{source}_{target}.argosmodel"
    with _build_lock:
        if not path.exists():
            build_argosmodel(
                path.parent,
                source=source,
                target=target,
                words=words,
                version=version,
                sentence_splitter=splitter,
            )
    return path


@pytest.fixture(scope="session")
def argos_dir() -> Path:
    """Return the argos data folder with the tiny pl->en and en->uk models installed."""
    require_argos()
    from app.translation.argos import ArgosBackend

    backend = ArgosBackend(ARGOS_DIR)
    installed = {(m.source, m.target, m.version) for m in backend.models()}
    for source, target, words in (("pl", "en", PL_EN), ("en", "uk", EN_UK)):
        if (source, target, "1.0") not in installed:
            backend.install(tiny_model(source, target, words))
    return ARGOS_DIR


@pytest.fixture
def argos_backend(argos_dir: Path):
    """Return an argos backend on the shared folder (pl->en, en->uk, so pl->uk through English)."""
    from app.translation.argos import ArgosBackend

    return ArgosBackend(argos_dir)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Refuse every connection that leaves 127.0.0.1; return the addresses that were tried."""
    attempts: list[object] = []
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost") and self.family != socket.AF_UNIX:
            attempts.append(address)
            raise OSError("network disabled by the test")
        real_connect(self, address)

    def getaddrinfo(host: object, *args: object, **kwargs: object):  # noqa: ANN202
        if host not in ("127.0.0.1", "::1", "localhost", None):
            attempts.append(host)
            raise socket.gaierror("network disabled by the test")
        return real_getaddrinfo(host, *args, **kwargs)

    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return attempts


@pytest.fixture
def extra_model(argos_dir: Path) -> Iterator[tuple[str, str]]:
    """Install a tiny de->en model for one test, then remove it."""
    from app.translation.argos import ArgosBackend

    backend = ArgosBackend(argos_dir)
    backend.install(tiny_model("de", "en", {"hund": "dog", "brot": "bread"}))
    try:
        yield ("de", "en")
    finally:
        if any((m.source, m.target) == ("de", "en") for m in backend.models()):
            backend.remove("de", "en")


@pytest.fixture
def both_ways(argos_dir: Path) -> Iterator[Path]:
    """Install uk->en and en->pl for one test (so pl<->uk works both ways), then remove them:
    the translation tests count on the shared folder holding only pl->en and en->uk."""
    from app.translation.argos import ArgosBackend
    from tests.translation.tiny_model import EN_UK, PL_EN

    backend = ArgosBackend(argos_dir)
    reverse = (("uk", "en", {uk: en for en, uk in EN_UK.items()}), ("en", "pl", {en: pl for pl, en in PL_EN.items()}))
    added = []
    installed = {(m.source, m.target) for m in backend.models()}
    for source, target, words in reverse:
        if (source, target) not in installed:
            backend.install(tiny_model(source, target, words))
            added.append((source, target))
    try:
        yield argos_dir
    finally:
        for source, target in added:
            backend.remove(source, target)


#: Words of the tiny models of newer languages (a newcomer and a Polish caseworker, through English).
NEWER_WORDS = {
    "ar": {"cat": "قطة", "eats": "تأكل", "bread": "خبزا", "day": "يوم", "good": "جيد", "thanks": "شكرا"},
    "hi": {"cat": "बिल्ली", "eats": "खाती", "bread": "रोटी", "day": "दिन", "good": "अच्छा", "thanks": "धन्यवाद"},
}


@pytest.fixture
def newer_models(both_ways: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """Install <lang>->en and en-><lang> (beside both_ways' pl<->en) for one test, then remove them;
    the language is the test's `language` parameter."""
    from app.translation.argos import ArgosBackend

    language = request.getfixturevalue("language")
    words = NEWER_WORDS[language]
    backend = ArgosBackend(both_ways)
    pairs = ((language, "en", {theirs: en for en, theirs in words.items()}), ("en", language, words))
    added = []
    installed = {(m.source, m.target) for m in backend.models()}
    for source, target, words in pairs:
        if (source, target) not in installed:
            backend.install(tiny_model(source, target, words))
            added.append((source, target))
    try:
        yield both_ways
    finally:
        for source, target in added:
            backend.remove(source, target)

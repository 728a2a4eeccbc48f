"""The argos backend with the real argostranslate library and tiny models the suite builds."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import pytest

from app.translation import NoTranslationAvailable, TranslationError
from app.translation.argos import ArgosBackend, read_models
from tests.translation.fixtures import tiny_model
from tests.translation.tiny_model import PL_EN, minisbd_onnx


def test_translates_with_the_installed_model(argos_backend: ArgosBackend, no_network: list[object]) -> None:
    result = argos_backend.translate("Pies je chleb. Dzień dobry, Kraków!", "pl", "en")

    assert result.text == "Dog eats bread. Day good, Kraków!"
    assert (result.source, result.target, result.engine) == ("pl", "en", "argos")
    assert result.model_version == "pl-en 1.0"
    assert result.machine is True
    assert no_network == []


def test_pivots_through_english_when_no_direct_model(
    argos_backend: ArgosBackend, no_network: list[object]
) -> None:
    result = argos_backend.translate("Kot je chleb. Dziękuję!", "pl", "uk")

    assert result.text == "Кіт їсть хліб. Дякую!"
    assert result.model_version == "pl-en 1.0+en-uk 1.0"
    assert no_network == []


def test_keeps_paragraphs(argos_backend: ArgosBackend) -> None:
    assert argos_backend.translate("pies je\n\nkot je chleb", "pl", "en").text == "dog eats\n\ncat eats bread"


def test_lists_direct_and_pivot_pairs(argos_backend: ArgosBackend) -> None:
    assert argos_backend.pairs() == [("en", "uk"), ("pl", "en"), ("pl", "uk")]


def test_a_pair_without_models_says_so(argos_backend: ArgosBackend) -> None:
    with pytest.raises(NoTranslationAvailable) as raised:
        argos_backend.translate("Добрий день", "uk", "pl")

    assert str(raised.value).startswith("no translation available for uk->pl")
    assert (raised.value.source, raised.value.target) == ("uk", "pl")


def test_no_model_installed_tells_how_to_install(tmp_path: Path) -> None:
    backend = ArgosBackend(tmp_path / "empty")

    assert backend.pairs() == []
    with pytest.raises(NoTranslationAvailable, match="witaj mt install"):
        backend.translate("Добрий день", "uk", "pl")


def test_never_logs_the_text(argos_backend: ArgosBackend, caplog: pytest.LogCaptureFixture, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    argos_backend.translate("Dziękuję, Kraków 31-004, pies Burek", "pl", "uk")

    logged = caplog.text + "".join(capsys.readouterr())
    for fragment in ("Burek", "31-004", "Kraków", "Dziękuję", "Дякую"):
        assert fragment not in logged


def test_a_replaced_model_serves_at_once_with_its_version(argos_backend: ArgosBackend) -> None:
    before = argos_backend.translate("pies je chleb", "pl", "en")
    try:
        model, replaced = argos_backend.install(
            tiny_model("pl", "en", {"pies": "hound", "je": "eats"}, version="2.0")
        )
        assert replaced is not None and replaced.version == "1.0"
        assert model.version == "2.0"

        after = argos_backend.translate("pies je chleb", "pl", "en")

        assert (before.text, before.model_version) == ("dog eats bread", "pl-en 1.0")
        assert (after.text, after.model_version) == ("hound eats chleb", "pl-en 2.0")
        assert [
            (m.source, m.target, m.version) for m in read_models(argos_backend.data_dir) if m.source == "pl"
        ] == [("pl", "en", "2.0")]
    finally:
        argos_backend.install(tiny_model("pl", "en", PL_EN))
    assert argos_backend.translate("pies je chleb", "pl", "en").text == "dog eats bread"


def test_refuses_files_that_are_not_models(argos_backend: ArgosBackend, tmp_path: Path) -> None:
    not_zip = tmp_path / "notes.argosmodel"
    not_zip.write_text("hello", encoding="utf-8")
    no_metadata = tmp_path / "empty.argosmodel"
    with zipfile.ZipFile(no_metadata, "w") as archive:
        archive.writestr("translate-pl_en/README.md", "nothing")

    with pytest.raises(TranslationError, match="not an argos model"):
        argos_backend.install(not_zip)
    with pytest.raises(TranslationError, match="metadata.json"):
        argos_backend.install(no_metadata)
    assert {(m.source, m.target) for m in argos_backend.models()} == {("pl", "en"), ("en", "uk")}


def test_a_model_without_a_sentence_splitter_needs_one_on_a_closed_network(
    argos_dir: Path, no_network: list[object]
) -> None:
    # Like the packages of argostranslate's index, this one carries stanza/ and no minisbd/ model.
    # Stanza would fetch resources.json from GitHub on every start; Witaj makes argostranslate use
    # MiniSBD, which downloads a splitter on first use. Offline that fails, clearly; installing the
    # splitter (`witaj mt install pl.onnx`) makes it work with no network.
    backend = ArgosBackend(argos_dir)
    backend.install(tiny_model("de", "en", {"hund": "dog", "brot": "bread"}, splitter=False))
    try:
        assert [m.sentence_splitter for m in backend.models() if m.source == "de"] == [
            "minisbd de.onnx (downloaded from GitHub on first use)"
        ]
        with pytest.raises(TranslationError, match="argostranslate failed on de-en 1.0"):
            backend.translate("hund brot", "de", "en")
        assert "github.com" in no_network  # MiniSBD's download
        assert "raw.githubusercontent.com" not in no_network  # Stanza's resources.json: never

        splitter = argos_dir.parent / "de.onnx"
        splitter.write_bytes(minisbd_onnx("de"))
        backend.install_sentence_splitter(splitter, "de")

        assert [m.sentence_splitter for m in backend.models() if m.source == "de"] == ["minisbd (installed)"]
        assert backend.translate("hund brot", "de", "en").text == "dog bread"
    finally:
        backend.remove("de", "en")
        (argos_dir / "share" / "argos-translate" / "minisbd" / "de.onnx").unlink(missing_ok=True)

"""`witaj mt`: install (offline and from an index), list, remove, translate."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.translation.cli import mt
from tests.translation.fixtures import tiny_model
from tests.translation.tiny_model import minisbd_onnx


def run(data_dir: Path, *args: str):  # noqa: ANN201
    return CliRunner().invoke(mt, ["--data-dir", str(data_dir), *args], catch_exceptions=False)


def test_list_without_models_says_how_to_install(tmp_path: Path) -> None:
    result = run(tmp_path / "empty", "list")

    assert result.exit_code == 0
    assert "no translation models installed" in result.output
    assert "witaj mt install FILE.argosmodel" in result.output


def test_list_shows_models_and_pairs(argos_dir: Path) -> None:
    result = run(argos_dir, "list")

    assert result.exit_code == 0
    assert "pl -> en  1.0  translate-pl_en-1_0  [minisbd (packaged)]" in result.output
    assert "translates: en->uk, pl->en, pl->uk" in result.output


def test_install_translate_and_remove_offline(argos_dir: Path, no_network: list[object]) -> None:
    archive = tiny_model("de", "en", {"hund": "dog", "brot": "bread"})

    installed = run(argos_dir, "install", str(archive))
    translated = run(argos_dir, "translate", "--from", "de", "--to", "uk", "Hund brot!")
    removed = run(argos_dir, "remove", "de", "en")
    listed = run(argos_dir, "list")

    assert installed.exit_code == 0, installed.output
    assert "installed de -> en 1.0" in installed.output
    assert translated.exit_code == 0 and translated.stdout.splitlines()[0] == "Пес хліб!"
    assert "argos de-en 1.0+en-uk 1.0" in translated.stderr
    assert removed.exit_code == 0 and "removed de-en 1.0" in removed.output
    assert "de ->" not in listed.output
    assert no_network == []


def test_install_refuses_what_is_not_a_model(argos_dir: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.argosmodel"
    junk.write_bytes(b"not a zip")

    result = run(argos_dir, "install", str(junk))

    assert result.exit_code == 1
    assert "is not an argos model" in result.stderr


def test_install_needs_a_file_or_an_index_pair(argos_dir: Path) -> None:
    assert run(argos_dir, "install").exit_code == 2
    assert run(argos_dir, "remove", "xx", "yy").exit_code == 1


def test_install_a_sentence_splitter(argos_dir: Path, tmp_path: Path) -> None:
    splitter = tmp_path / "cs.onnx"
    splitter.write_bytes(minisbd_onnx("cs"))

    result = run(argos_dir, "install", str(splitter))

    target = argos_dir / "share" / "argos-translate" / "minisbd" / "cs.onnx"
    try:
        assert result.exit_code == 0, result.output
        assert target.read_bytes() == splitter.read_bytes()
    finally:
        target.unlink(missing_ok=True)


@pytest.fixture
def argos_index(tmp_path: Path) -> Iterator[tuple[str, object]]:
    """Serve an argos package index and one package on 127.0.0.1; point argostranslate at it."""
    from app.translation.argos import load_argos, loaded_data_dir
    from tests.translation.fixtures import ARGOS_DIR

    runtime = load_argos(loaded_data_dir() or ARGOS_DIR)
    served = tmp_path / "served"
    served.mkdir()
    (served / "translate-cs_en.argosmodel").write_bytes(tiny_model("cs", "en", {"pes": "dog"}).read_bytes())
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(served)))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    index = [
        {
            "package_version": "1.0",
            "argos_version": "1.9",
            "from_code": "cs",
            "from_name": "Czech",
            "to_code": "en",
            "to_name": "English",
            "type": "translate",
            "links": [base + "translate-cs_en.argosmodel"],
        }
    ]
    (served / "index.json").write_text(json.dumps(index), encoding="utf-8")
    saved = runtime.settings.remote_package_index
    runtime.settings.remote_package_index = base + "index.json"
    try:
        yield base, runtime
    finally:
        runtime.settings.remote_package_index = saved
        server.shutdown()
        server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def test_install_from_an_index(argos_dir: Path, argos_index: tuple[str, object]) -> None:
    result = run(argos_dir, "install", "--from-index", "cs", "en")
    try:
        assert result.exit_code == 0, result.output
        assert "installed cs -> en 1.0" in result.output
        assert run(argos_dir, "translate", "--from", "cs", "--to", "en", "pes").stdout.strip() == "dog"
    finally:
        run(argos_dir, "remove", "cs", "en")

    missing = run(argos_dir, "install", "--from-index", "cs", "pl")
    assert missing.exit_code == 1 and "no translation available for cs->pl" in missing.stderr


def test_install_from_an_unreachable_index(argos_dir: Path, argos_index: tuple[str, object]) -> None:
    _, runtime = argos_index
    runtime.settings.remote_package_index = "http://127.0.0.1:9/index.json"  # nothing listens there
    local_index = Path(runtime.settings.local_package_index)
    local_index.unlink(missing_ok=True)

    result = run(argos_dir, "install", "--from-index", "pl", "uk")

    assert result.exit_code == 1
    assert "cannot reach the model index at http://127.0.0.1:9/index.json" in result.stderr
    assert "witaj mt install FILE.argosmodel" in result.stderr

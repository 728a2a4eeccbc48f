"""The `argos` backend: argostranslate in this process, pivoting through English, plus model management.

argostranslate reads its folders from the environment once, when `argostranslate.settings` is
first imported, and creates them (in the home folder by default). `load_argos()` points all of
them (packages, index, downloads, MiniSBD models, settings.json) into WITAJ_ARGOS_DATA_DIR for the
length of that import only, so one process serves one argos data folder.

Which models are installed, their versions and the routes between languages are read from the
packages' `metadata.json` (argostranslate's package format) without importing argostranslate:
listing and the "no translation available" answer cost no torch import. Translating, installing
and removing go through argostranslate itself.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import socket
import sys
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import SimpleNamespace

from app.languages import KNOWN_LOCALES
from app.translation.base import (
    PIVOT,
    BackendUnavailable,
    NoTranslationAvailable,
    Translation,
    TranslationError,
    detect_locally,
    pivot_pairs,
)

log = logging.getLogger("witaj.translation")

EXTRA_HINT = "machine translation is an optional extra: pip install 'witaj[mt]'"
INSTALL_HINT = (
    "install a model with `witaj mt install FILE.argosmodel` (offline) "
    "or `witaj mt install --from-index pl uk`"
)

#: MiniSBD's names for argostranslate's language codes (argostranslate.sbd.MiniSBDSentencizer).
_MINISBD_NAMES = {
    "zt": "zh-hant",
    "zh": "zh-hans",
    "pb": "pt",
    "az": "tr",
    "bn": "hi",
    "eo": "en",
    "ms": "en",
    "tl": "en",
}


@cache
def argos_installed() -> bool:
    """Return whether the `mt` extra (argostranslate) is installed."""
    return importlib.util.find_spec("argostranslate") is not None


@dataclass(frozen=True)
class InstalledModel:
    """One installed argostranslate translation package."""

    name: str
    source: str
    target: str
    version: str
    path: Path
    sentence_splitter: str

    @property
    def label(self) -> str:
        """Return "pl-en 1.9", how a model is named in versions and messages."""
        return f"{self.source}-{self.target} {self.version}".strip()


def packages_dir(data_dir: Path) -> Path:
    """Return the folder that holds installed packages under an argos data folder."""
    return data_dir / "packages"


def minisbd_dir(data_dir: Path) -> Path:
    """Return where argostranslate keeps downloaded MiniSBD sentence splitters (under XDG_DATA_HOME)."""
    return data_dir / "share" / "argos-translate" / "minisbd"


def minisbd_name(code: str) -> str:
    """Return the MiniSBD model name argostranslate looks for when splitting code's sentences."""
    return _MINISBD_NAMES.get(code, code)


def _splitter(package: Path, source: str, data_dir: Path) -> str:
    # Mirrors argostranslate.package.Package and sbd: packaged minisbd/ wins over stanza/ and spacy/.
    if any((package / "minisbd").glob("*.onnx")):
        return "minisbd (packaged)"
    if (minisbd_dir(data_dir) / f"{minisbd_name(source)}.onnx").is_file():
        return "minisbd (installed)"
    chunk_type = os.environ.get("ARGOS_CHUNK_TYPE", "MINISBD").upper()
    if (package / "stanza").is_dir() and chunk_type in ("STANZA", "DEFAULT", "ARGOSTRANSLATE"):
        return "stanza (fetches resources.json from GitHub each time it loads)"
    return f"minisbd {minisbd_name(source)}.onnx (downloaded from GitHub on first use)"


def read_models(data_dir: Path) -> list[InstalledModel]:
    """Return the installed translation packages under data_dir, read from their metadata.json."""
    root = packages_dir(data_dir)
    if not root.is_dir():
        return []
    models = []
    for entry in sorted(root.iterdir()):
        metadata_path = entry / "metadata.json"
        if not metadata_path.is_file():
            continue
        try:
            metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            log.warning("unreadable argos package metadata: %s", metadata_path)
            continue
        if metadata.get("type", "translate") != "translate" or not metadata.get("from_code"):
            continue
        source, target = str(metadata["from_code"]), str(metadata.get("to_code") or "")
        models.append(
            InstalledModel(
                name=entry.name,
                source=source,
                target=target,
                version=str(metadata.get("package_version", "")),
                path=entry,
                sentence_splitter=_splitter(entry, source, data_dir),
            )
        )
    return models


def _signature(data_dir: Path) -> tuple[tuple[str, int], ...]:
    root = packages_dir(data_dir)
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return ()
    signature = []
    for entry in entries:
        try:
            signature.append((entry.name, os.stat(os.path.join(entry.path, "metadata.json")).st_mtime_ns))
        except OSError:
            continue
    try:
        # Sentence splitters installed beside the packages change what `mt list` says of them.
        signature.extend((f"minisbd/{name}", 0) for name in os.listdir(minisbd_dir(data_dir)))
    except OSError:
        pass
    return tuple(sorted(signature))


# --- argostranslate, imported once per process ---------------------------------------------------

_runtime: SimpleNamespace | None = None
_runtime_lock = threading.Lock()
#: argostranslate's state is per process: one translation, install or removal at a time. Its
#: per-pair caches are not thread-safe, and CTranslate2 already uses every core for one batch.
_argos_lock = threading.RLock()


def load_argos(data_dir: Path) -> SimpleNamespace:
    """Import argostranslate with every folder of it under data_dir; return its modules.

    Raises TranslationError when the `mt` extra is not installed, or when this process already
    loaded argostranslate for another folder (its settings are read at import time).
    """
    global _runtime
    data_dir = Path(data_dir).resolve()
    with _runtime_lock:
        if _runtime is not None:
            if _runtime.data_dir != data_dir:
                raise TranslationError(
                    f"argostranslate is already loaded for {_runtime.data_dir} in this process; "
                    f"it cannot switch to {data_dir}"
                )
            return _runtime
        if not argos_installed():
            raise TranslationError(EXTRA_HINT)
        if "argostranslate.settings" in sys.modules:
            raise TranslationError("argostranslate was imported before Witaj configured its folders")
        for sub in ("share", "config", "cache", "packages"):
            (data_dir / sub).mkdir(parents=True, exist_ok=True)
        overrides = {
            "XDG_DATA_HOME": str(data_dir / "share"),
            "XDG_CONFIG_HOME": str(data_dir / "config"),
            "XDG_CACHE_HOME": str(data_dir / "cache"),
            "ARGOS_PACKAGES_DIR": str(packages_dir(data_dir)),
            # MiniSBD rather than Stanza for packages that carry a stanza/ folder: Stanza fetches
            # resources.json from GitHub every time it builds a pipeline, so it cannot work offline;
            # MiniSBD uses the package's minisbd/ model, or one in the data folder.
            "ARGOS_CHUNK_TYPE": os.environ.get("ARGOS_CHUNK_TYPE", "MINISBD"),
        }
        saved = {key: os.environ.get(key) for key in overrides}
        os.environ.update(overrides)
        try:
            import argostranslate.settings as argos_settings
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        try:
            import argostranslate.package as argos_package
            import argostranslate.translate as argos_translate
        except Exception as exc:  # noqa: BLE001 (torch, stanza, ctranslate2: anything can fail to load)
            raise TranslationError(f"argostranslate failed to load: {type(exc).__name__}: {exc}") from exc

        # argostranslate logs every text it translates at INFO ("apply_packaged_translation", the
        # sentences, the tokens): personal data must never reach the logs.
        logging.getLogger("argostranslate").setLevel(logging.WARNING)
        logging.getLogger("argostranslate.utils").setLevel(logging.WARNING)
        _runtime = SimpleNamespace(
            data_dir=data_dir,
            settings=argos_settings,
            package=argos_package,
            translate=argos_translate,
            signature=None,
        )
        return _runtime


def loaded_data_dir() -> Path | None:
    """Return the folder argostranslate was loaded for in this process, if it was."""
    return _runtime.data_dir if _runtime is not None else None


# --- the backend ---------------------------------------------------------------------------------


class ArgosBackend:
    """argostranslate in process; source -> target directly, else source -> en -> target."""

    engine = "argos"

    def __init__(self, data_dir: Path, *, languages: Sequence[str] = KNOWN_LOCALES) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.languages = tuple(languages)
        self._state_lock = threading.Lock()
        self._signature: tuple[tuple[str, int], ...] | None = None
        self._models: list[InstalledModel] = []

    # models and routes (no argostranslate import)

    def models(self) -> list[InstalledModel]:
        """Return the installed models, re-read when a package folder was added, removed or replaced."""
        signature = _signature(self.data_dir)
        with self._state_lock:
            if signature != self._signature:
                self._models = read_models(self.data_dir)
                self._signature = signature
            return self._models

    def _direct(self) -> dict[tuple[str, str], InstalledModel]:
        direct: dict[tuple[str, str], InstalledModel] = {}
        for model in self.models():
            direct.setdefault((model.source, model.target), model)
        return direct

    def route(self, source: str, target: str) -> list[InstalledModel]:
        """Return the models that translate source -> target (one, or two through en)."""
        if not argos_installed():
            raise NoTranslationAvailable(source, target, EXTRA_HINT)
        direct = self._direct()
        if (source, target) in direct:
            return [direct[(source, target)]]
        if source != PIVOT and target != PIVOT and (source, PIVOT) in direct and (PIVOT, target) in direct:
            return [direct[(source, PIVOT)], direct[(PIVOT, target)]]
        reason = (
            INSTALL_HINT if not direct else f"no {source}->{target} model, nor {source}->en and en->{target}"
        )
        raise NoTranslationAvailable(source, target, reason)

    def pairs(self) -> list[tuple[str, str]]:
        """Return the pairs the installed models translate, directly or through English."""
        if not argos_installed():
            return []
        return pivot_pairs(set(self._direct()))

    def model_version(self, source: str, target: str) -> str:
        """Return "pl-en 1.9" or, through English, "pl-en 1.9+en-uk 1.9"."""
        return "+".join(model.label for model in self.route(source, target))

    # translating (argostranslate)

    def _sync(self, runtime: SimpleNamespace) -> None:
        # argostranslate caches its language graph (get_installed_languages) and keeps one
        # translator per "from-to" code pair for the life of the process (installed_translates):
        # after a model is added, removed or replaced, both must go, or the old model keeps serving.
        signature = _signature(self.data_dir)
        if signature == runtime.signature:
            return
        runtime.translate.get_installed_languages.cache_clear()
        installed = getattr(runtime.translate, "installed_translates", None)
        if isinstance(installed, list):
            installed.clear()
        runtime.signature = signature

    def translate(self, text: str, source: str, target: str) -> Translation:
        """Return text translated by the installed models; NoTranslationAvailable, BackendUnavailable."""
        route = self.route(source, target)
        version = "+".join(model.label for model in route)
        runtime = load_argos(self.data_dir)
        with _argos_lock:
            self._sync(runtime)
            result = text
            for model in route:
                try:
                    src = runtime.translate.get_language_from_code(model.source)
                    tgt = runtime.translate.get_language_from_code(model.target)
                    hop = src.get_translation(tgt) if src is not None and tgt is not None else None
                except Exception as exc:  # noqa: BLE001 (argostranslate raises anything)
                    raise BackendUnavailable(
                        f"argostranslate could not load {model.label}: {type(exc).__name__}"
                    ) from None
                if hop is None:
                    raise NoTranslationAvailable(
                        source, target, f"argostranslate could not load {model.label}"
                    )
                try:
                    result = hop.translate(result)
                except Exception as exc:  # noqa: BLE001
                    # Never chain or repeat the exception's message: MiniSBD's errors quote the text.
                    raise BackendUnavailable(
                        f"argostranslate failed on {model.label}: {type(exc).__name__}"
                    ) from None
        return Translation(
            text=result, source=source, target=target, engine=self.engine, model_version=version
        )

    def warm_up(self) -> None:
        """Import argostranslate and read the installed models now (seconds), not on the first message."""
        if argos_installed() and self.models():
            runtime = load_argos(self.data_dir)
            with _argos_lock:
                self._sync(runtime)
                runtime.translate.get_installed_languages()

    def detect(self, text: str) -> tuple[str, float]:
        """Return (language, confidence) among the enabled locales (argostranslate does not detect)."""
        return detect_locally(text, self.languages)

    # managing models (argostranslate's own install and uninstall)

    def install(self, path: Path) -> tuple[InstalledModel, InstalledModel | None]:
        """Install an .argosmodel file with argostranslate; return (new model, model it replaced)."""
        metadata = _archive_metadata(path)
        source, target = str(metadata["from_code"]), str(metadata.get("to_code") or "")
        runtime = load_argos(self.data_dir)
        replaced = None
        with _argos_lock:
            for package in runtime.package.get_installed_packages():
                if package.type == "translate" and (package.from_code, package.to_code) == (source, target):
                    replaced = self._model_at(Path(package.package_path))
                    runtime.package.uninstall(package)
            runtime.package.install_from_path(Path(path))
        installed = [m for m in read_models(self.data_dir) if (m.source, m.target) == (source, target)]
        if not installed:
            raise TranslationError(f"{path} was unpacked but holds no {source}->{target} package folder")
        return installed[0], replaced

    def install_from_index(
        self, source: str, target: str, *, timeout: float = 30.0
    ) -> tuple[InstalledModel, InstalledModel | None]:
        """Download source -> target from argostranslate's package index and install it."""
        runtime = load_argos(self.data_dir)
        index = Path(runtime.settings.local_package_index)
        before = index.stat().st_mtime_ns if index.exists() else None
        previous_timeout = socket.getdefaulttimeout()
        socket.setdefaulttimeout(timeout)  # argostranslate's urlopen calls have no timeout of their own
        try:
            runtime.package.update_package_index()  # logs and returns on failure
            if not index.exists():
                raise BackendUnavailable(
                    f"cannot reach the model index at {runtime.settings.remote_package_index}; on a closed "
                    "network download the .argosmodel elsewhere and run `witaj mt install FILE.argosmodel`"
                )
            if index.stat().st_mtime_ns == before:
                log.warning("could not refresh the argos model index; using the copy already downloaded")
            available = [
                p
                for p in runtime.package.get_available_packages()
                if (p.from_code, p.to_code) == (source, target)
            ]
            if not available:
                raise NoTranslationAvailable(source, target, "the model index has no such package")
            try:
                download = Path(available[0].download())
            except Exception as exc:  # noqa: BLE001 (argostranslate raises a bare Exception)
                raise BackendUnavailable(f"download of {source}->{target} failed: {exc}") from None
        finally:
            socket.setdefaulttimeout(previous_timeout)
        try:
            return self.install(download)
        finally:
            download.unlink(missing_ok=True)

    def remove(self, source: str, target: str) -> InstalledModel:
        """Uninstall the source -> target model with argostranslate; NoTranslationAvailable if absent."""
        runtime = load_argos(self.data_dir)
        with _argos_lock:
            for package in runtime.package.get_installed_packages():
                if package.type == "translate" and (package.from_code, package.to_code) == (source, target):
                    model = self._model_at(Path(package.package_path))
                    runtime.package.uninstall(package)
                    return model
        raise NoTranslationAvailable(source, target, "no such model is installed")

    def install_sentence_splitter(self, path: Path, language: str) -> Path:
        """Copy a MiniSBD model (<lang>.onnx) where argostranslate looks before downloading one."""
        destination = minisbd_dir(self.data_dir) / f"{minisbd_name(language)}.onnx"
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
        return destination

    def _model_at(self, path: Path) -> InstalledModel | None:
        return next((m for m in read_models(self.data_dir) if m.path.resolve() == path.resolve()), None)


def _archive_metadata(path: Path) -> dict:
    """Return the metadata.json of an .argosmodel archive, or raise TranslationError saying what is wrong."""
    if not zipfile.is_zipfile(path):
        raise TranslationError(f"{path} is not an argos model (a zip archive, .argosmodel)")
    with zipfile.ZipFile(path) as archive:
        names = [
            name for name in archive.namelist() if name.count("/") == 1 and name.endswith("/metadata.json")
        ]
        if len(names) != 1:
            raise TranslationError(
                f"{path} is not an argos model: expected one <folder>/metadata.json inside"
            )
        try:
            metadata = json.loads(archive.read(names[0]).decode("utf-8"))
        except ValueError:
            raise TranslationError(f"{path}: metadata.json is not valid JSON") from None
    if (
        metadata.get("type", "translate") != "translate"
        or not metadata.get("from_code")
        or not metadata.get("to_code")
    ):
        raise TranslationError(
            f"{path} is not a translation model (metadata.json needs from_code and to_code)"
        )
    return metadata

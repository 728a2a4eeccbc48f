"""`witaj mt ...`: install, list and remove argostranslate models; try the configured backend."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

import click

from app.cli_helpers import settings_or_exit
from app.translation.argos import EXTRA_HINT, INSTALL_HINT, ArgosBackend, argos_installed
from app.translation.base import TranslationError, normalize_code
from app.translation.service import TranslationConfig, TranslationService, build_backend


def _config() -> TranslationConfig:
    config = TranslationConfig.from_settings(settings_or_exit())
    data_dir = click.get_current_context().find_root().meta.get("witaj.mt.data_dir")
    return replace(config, argos_data_dir=data_dir) if data_dir else config


def _fail(message: str) -> NoReturn:
    click.echo(f"witaj mt: {message}", err=True)
    sys.exit(1)


def _argos(config: TranslationConfig) -> ArgosBackend:
    return ArgosBackend(config.argos_data_dir, languages=config.languages)


def _code(value: str) -> str:
    try:
        return normalize_code(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.group("mt")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="argos data folder (default: WITAJ_ARGOS_DATA_DIR, else var/argos).",
)
@click.pass_context
def mt(ctx: click.Context, data_dir: Path | None) -> None:
    """Machine translation: argostranslate models (install, list, remove) and a quick try."""
    if data_dir is not None:
        ctx.find_root().meta["witaj.mt.data_dir"] = data_dir


@mt.command("list")
def list_models() -> None:
    """List the installed models and the language pairs they translate (through English too)."""
    config = _config()
    argos = _argos(config)
    click.echo(f"backend: {config.backend}; argos models in {argos.data_dir}")
    if not argos_installed():
        click.echo(f"argostranslate is not installed: {EXTRA_HINT}")
    models = argos.models()
    if not models:
        click.echo(f"no translation models installed; {INSTALL_HINT}")
        return
    seen: set[tuple[str, str]] = set()
    for model in models:
        duplicate = (model.source, model.target) in seen
        seen.add((model.source, model.target))
        note = "  (a second model for this pair: remove one)" if duplicate else ""
        click.echo(
            f"{model.source} -> {model.target}  {model.version or '?'}  {model.name}  "
            f"[{model.sentence_splitter}]{note}"
        )
    pairs = argos.pairs()
    if pairs:
        click.echo("translates: " + ", ".join(f"{s}->{t}" for s, t in pairs))


@mt.command()
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--from-index",
    "from_index",
    nargs=2,
    metavar="FROM TO",
    help="Download FROM->TO from the argos index (online).",
)
@click.option("--lang", default=None, help="With a MiniSBD FILE.onnx: the language it splits into sentences.")
def install(file: Path | None, from_index: tuple[str, str] | None, lang: str | None) -> None:
    """Install FILE.argosmodel (offline), or --from-index FROM TO (online).

    FILE.onnx with --lang installs a MiniSBD sentence splitter, which models that lack one need on
    a closed network (argostranslate would download it on first use).
    """
    if (file is None) == (not from_index):
        raise click.UsageError("give either FILE or --from-index FROM TO")
    argos = _argos(_config())
    try:
        if file is not None and file.suffix == ".onnx":
            language = _code(lang or file.stem)
            destination = argos.install_sentence_splitter(file, language)
            click.echo(f"installed the {language} sentence splitter: {destination}")
            return
        if file is not None:
            model, replaced = argos.install(file)
        else:
            assert from_index is not None
            model, replaced = argos.install_from_index(_code(from_index[0]), _code(from_index[1]))
    except TranslationError as exc:
        _fail(str(exc))
    if replaced is not None:
        click.echo(f"replaced {replaced.label}")
    click.echo(
        f"installed {model.source} -> {model.target} {model.version} in {model.path} "
        f"[{model.sentence_splitter}]"
    )


@mt.command()
@click.argument("source")
@click.argument("target")
def remove(source: str, target: str) -> None:
    """Remove the SOURCE -> TARGET model."""
    argos = _argos(_config())
    try:
        model = argos.remove(_code(source), _code(target))
    except TranslationError as exc:
        _fail(str(exc))
    click.echo(f"removed {model.label if model else f'{source} -> {target}'}")


@mt.command()
@click.option("--from", "source", required=True, help="Language of the text.")
@click.option("--to", "target", required=True, help="Language to translate into.")
@click.argument("text")
def translate(source: str, target: str, text: str) -> None:
    """Translate TEXT with the configured backend and print it with engine and model version."""
    service = TranslationService(build_backend(_config()))
    try:
        result = service.translate(text, _code(source), _code(target))
    except TranslationError as exc:
        _fail(str(exc))
    finally:
        service.close()
    click.echo(result.text)
    click.echo(f"({result.engine} {result.model_version})".rstrip(), err=True)

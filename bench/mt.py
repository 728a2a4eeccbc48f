"""Machine translation throughput and latency: the installed argos model, and the cache-hit path.

    .venv/bin/python bench/mt.py                          # models in WITAJ_ARGOS_DATA_DIR (var/argos)
    .venv/bin/python bench/mt.py --data-dir DIR --source pl --target en --sentences 300

When the folder holds no model, the suite's tiny pl->en and en->uk models are built and installed
in a temporary folder (figures then measure argostranslate's and CTranslate2's own overhead, not a
real network's). Each sentence is distinct, so the first pass always runs the model; the second
pass is answered from the cache, once called directly and once through translate_async on an
event loop. Needs the mt extra (and onnx, from the test extra, for the tiny models).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.translation import TranslationService  # noqa: E402
from app.translation.argos import ArgosBackend, load_argos, read_models  # noqa: E402

SENTENCES = {
    "pl": [
        "Dzień dobry, chcę się zarejestrować jako bezrobotny.",
        "Pies je chleb, a kot pije mleko.",
        "Gdzie jest najbliższa biblioteka?",
        "Dziękuję bardzo za pomoc w sprawie pracy.",
        "Czy mogę przyjść jutro o dziesiątej?",
    ],
    "en": [
        "Good morning, I would like to register as unemployed.",
        "Where is the nearest library branch?",
        "Thank you very much for your help with the job offer.",
        "Can I come tomorrow at ten o'clock?",
        "The dog eats bread and the cat drinks milk.",
    ],
    "uk": [
        "Добрий день, я хочу зареєструватися як безробітний.",
        "Де найближча бібліотека?",
        "Дуже дякую за допомогу з роботою.",
        "Чи можу я прийти завтра о десятій?",
    ],
}


def percentile(samples: list[float], share: float) -> float:
    """Return the share-th percentile of samples (nearest rank)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def sentences_for(language: str, count: int) -> list[str]:
    """Return count distinct sentences in language (English when there are none for it)."""
    base = SENTENCES.get(language, SENTENCES["en"])
    return [f"{base[i % len(base)][:-1]} {i}{base[i % len(base)][-1]}" for i in range(count)]


def tiny_models(folder: Path) -> None:
    """Install the test suite's tiny pl->en and en->uk models into folder."""
    from tests.translation.tiny_model import EN_UK, PL_EN, build_argosmodel

    backend = ArgosBackend(folder)
    for source, target, words in (("pl", "en", PL_EN), ("en", "uk", EN_UK)):
        backend.install(build_argosmodel(folder.parent / "build", source=source, target=target, words=words))


def row(label: str, samples: list[float], total: float) -> str:
    """Return one line of the table: per-second rate and p50/p95/max in milliseconds."""
    rate = len(samples) / total if total else float("inf")
    ms = [s * 1000 for s in samples]
    p50, p95 = statistics.median(ms), percentile(ms, 0.95)
    return f"{label:<34}{rate:>12,.0f}{p50:>10.3f}{p95:>10.3f}{max(ms):>10.3f}"


Timings = tuple[list[float], float]


def measure(service: TranslationService, texts: list[str], source: str, target: str) -> Timings:
    """Translate each text once; return per-call seconds and the total."""
    samples = []
    started = time.perf_counter()
    for text in texts:
        t0 = time.perf_counter()
        service.translate(text, source, target)
        samples.append(time.perf_counter() - t0)
    return samples, time.perf_counter() - started


def measure_async(service: TranslationService, texts: list[str], source: str, target: str) -> Timings:
    """Translate each text with translate_async on an event loop; return per-call seconds and the total."""

    async def run() -> tuple[list[float], float]:
        samples = []
        started = time.perf_counter()
        for text in texts:
            t0 = time.perf_counter()
            result = await service.translate_async(text, source, target)
            samples.append(time.perf_counter() - t0)
            assert result is not None
        return samples, time.perf_counter() - started

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="argos data folder (default: var/argos)")
    parser.add_argument("--source", default=None, help="source language (default: the first installed pair)")
    parser.add_argument("--target", default=None)
    parser.add_argument("--sentences", type=int, default=200)
    args = parser.parse_args()

    from app.translation.service import TranslationConfig

    data_dir = args.data_dir or TranslationConfig().argos_data_dir
    if not read_models(data_dir):
        data_dir = Path(tempfile.mkdtemp(prefix="witaj-bench-mt-")) / "argos"
        print(f"no model in {args.data_dir or 'var/argos'}; building the tiny test models in {data_dir}")
        atexit.register(shutil.rmtree, data_dir.parent, ignore_errors=True)
        tiny = True
    else:
        tiny = False
    t0 = time.perf_counter()
    load_argos(data_dir)
    print(f"argostranslate import (torch, stanza, ctranslate2): {time.perf_counter() - t0:.2f} s")
    if tiny:
        tiny_models(data_dir)
    backend = ArgosBackend(data_dir)
    models = backend.models()
    source = args.source or models[0].source
    target = args.target or models[0].target
    pairs = [(source, target)]
    pivot = next(((s, t) for s, t in backend.pairs() if len(backend.route(s, t)) == 2), None)
    if pivot and not args.source:
        pairs.append(pivot)

    service = TranslationService(backend, timeout=60)
    t0 = time.perf_counter()
    service.translate(sentences_for(source, 1)[0] + " warm", source, target)
    cold = time.perf_counter() - t0
    print(f"models: {', '.join(m.label for m in models)} in {data_dir}")
    print(f"first translation (model load): {cold:.2f} s")
    print(f"\n{args.sentences} distinct sentences per row")
    print(f"{'path':<34}{'per s':>12}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for src, tgt in pairs:
        texts = sentences_for(src, args.sentences)
        version = backend.model_version(src, tgt)
        samples, total = measure(service, texts, src, tgt)
        print(row(f"model {src}->{tgt} ({len(backend.route(src, tgt))} hop)", samples, total))
        samples, total = measure(service, texts, src, tgt)
        print(row(f"cache hit {src}->{tgt}", samples, total))
        samples, total = measure_async(service, texts, src, tgt)
        print(row(f"cache hit, translate_async {src}->{tgt}", samples, total))
        fresh = [text + " +" for text in texts[: max(20, args.sentences // 5)]]
        samples, total = measure_async(service, fresh, src, tgt)
        print(row(f"model via translate_async {src}->{tgt}", samples, total))
        print(f"  ({version})")
    info = service.cache.info()
    print(f"\ncache: {info.entries} entries, {info.hits} hits, {info.misses} misses")
    service.close()


if __name__ == "__main__":
    main()

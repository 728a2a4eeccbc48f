"""The assistant's speed: NLU time per message, and chat turns per second through HTTP with SQLite.

    .venv/bin/python bench/chat.py                          # 2,000 NLU messages, 1,200 HTTP turns
    .venv/bin/python bench/chat.py --messages 5000 --turns 3000 --concurrency 16

NLU: the model `witaj dialogues train` caches (trained here when missing) parses real NLU examples
of every language, once without and once with the conversation's language as the prior, the way
the engine calls it; the figures are per message (language detection, entities, intent).

HTTP: `witaj serve` runs in a child process on a fresh SQLite database in a temporary folder
(migrated, content checked, assistant warmed up), and simulated newcomers hold conversations
through Rasa's REST channel (`POST /webhooks/rest/webhook`) and the web chat (`POST /{lang}/chat`,
with its cookie and CSRF token), several at once. Every turn runs the whole engine and stores the
conversation in the database. Turns per second are counted over all of them; latency is per turn.
The client runs on the same machine and takes some of its CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from app.assistant.cli import default_models_dir  # noqa: E402
from app.assistant.data import load_dialogues  # noqa: E402
from app.assistant.nlu import train_or_load  # noqa: E402

LANGUAGES = ("pl", "uk", "ru", "en", "be")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def line(label: str, values_ms: list[float]) -> str:
    return (
        f"{label:<34} n={len(values_ms):>5}  p50 {statistics.median(values_ms):7.2f} ms  "
        f"p95 {percentile(values_ms, 0.95):7.2f} ms  max {max(values_ms):7.2f} ms"
    )


def bench_nlu(messages: int, seed: int) -> None:
    data = load_dialogues(ROOT / "dialogues")
    started = time.perf_counter()
    model = train_or_load(data, default_models_dir())
    how = "loaded from cache" if model.loaded_from_cache else f"trained in {model.training_seconds:.1f} s"
    print(f"NLU model: {how} ({time.perf_counter() - started:.2f} s); {len(model.intents)} intents")
    rng = random.Random(seed)
    examples = [(language, e.text) for language, items in data.examples.items() for e in items]
    sample = [rng.choice(examples) for _ in range(messages)]
    enabled = list(LANGUAGES)
    for _ in range(50):  # warm the caches of lingua and the vectorisers
        model.parse(sample[0][1], enabled_languages=enabled, prior_language=None)
    for prior in (False, True):
        times: dict[str, list[float]] = {language: [] for language in LANGUAGES}
        for language, text in sample:
            t0 = time.perf_counter()
            model.parse(text, enabled_languages=enabled, prior_language=language if prior else None)
            times[language].append((time.perf_counter() - t0) * 1000)
        everything = [t for values in times.values() for t in values]
        title = "with the conversation's language" if prior else "first message (no prior)"
        print(f"\nNLU per message, {title}:")
        print(line("  all languages", everything))
        for language in LANGUAGES:
            if times[language]:
                print(line(f"  {language}", times[language]))


# --- HTTP -----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "WITAJ_ENVIRONMENT": "development",
        "WITAJ_DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
        "WITAJ_TRANSLATION_BACKEND": "none",
        "WITAJ_JOBS_INTERVAL_SECONDS": "0",
        "WITAJ_PORT": str(port),
    }
    witaj = str(Path(sys.executable).with_name("witaj"))
    subprocess.run([witaj, "db", "upgrade"], env=env, check=True, capture_output=True, cwd=ROOT)
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - closed with the process
    server = subprocess.Popen([witaj, "serve", "--port", str(port)], env=env, cwd=ROOT, stdout=log, stderr=log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server stopped: see {folder / 'server.log'}\n{(folder / 'server.log').read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.kill()
    sys.exit("the server did not answer /healthz within 120 s")


def conversations(turns: int, per_conversation: int, seed: int) -> list[tuple[str, list[str]]]:
    """Return (language, messages) scripts: a greeting, then real examples of that language."""
    data = load_dialogues(ROOT / "dialogues")
    rng = random.Random(seed)
    by_language = {
        language: [e.text for e in items if e.intent not in ("human_handoff", "goodbye")]
        for language, items in data.examples.items()
    }
    greetings = {language: [e.text for e in items if e.intent == "greet"] for language, items in data.examples.items()}
    scripts = []
    for i in range((turns + per_conversation - 1) // per_conversation):
        language = LANGUAGES[i % len(LANGUAGES)]
        messages = [rng.choice(greetings[language])]
        messages += [rng.choice(by_language[language]) for _ in range(per_conversation - 1)]
        scripts.append((language, messages))
    return scripts


async def rest_conversation(client: httpx.AsyncClient, sender: str, script: list[str], out: list[float]) -> None:
    for message in script:
        t0 = time.perf_counter()
        reply = await client.post("/webhooks/rest/webhook", json={"sender": sender, "message": message})
        out.append((time.perf_counter() - t0) * 1000)
        if reply.status_code != 200 or not isinstance(reply.json(), list):
            raise RuntimeError(f"REST channel answered {reply.status_code}: {reply.text[:200]}")


async def web_conversation(base: str, language: str, script: list[str], out: list[float]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        page = await client.get(f"/{language}/chat")
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        if page.status_code != 200 or not match:
            raise RuntimeError(f"chat page answered {page.status_code} without a CSRF token")
        token = match.group(1)
        for message in script:
            t0 = time.perf_counter()
            reply = await client.post(
                f"/{language}/chat",
                data={"message": message, "csrf_token": token},
                headers={"HX-Request": "true"},
            )
            out.append((time.perf_counter() - t0) * 1000)
            if reply.status_code != 200:
                raise RuntimeError(f"web chat answered {reply.status_code}: {reply.text[:200]}")


async def run_channel(
    channel: str, base: str, scripts: list[tuple[str, list[str]]], concurrency: int
) -> tuple[list[float], float]:
    latencies: list[float] = []
    queue: asyncio.Queue[tuple[int, str, list[str]]] = asyncio.Queue()
    for i, (language, script) in enumerate(scripts):
        queue.put_nowait((i, language, script))

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            i, language, script = queue.get_nowait()
            if channel == "rest":
                await rest_conversation(client, f"bench-{channel}-{i}-{random.getrandbits(32)}", script, latencies)
            else:
                await web_conversation(base, language, script, latencies)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, elapsed


def bench_http(turns: int, per_conversation: int, concurrency: int, seed: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="witaj-bench-chat-"))
    port = free_port()
    server = start_server(folder, port)
    base = f"http://127.0.0.1:{port}"
    try:
        # Warm-up: the first turns load the engine's caches in the server.
        asyncio.run(run_channel("rest", base, conversations(40, 4, seed + 1), 4))
        for channel in ("rest", "web"):
            scripts = conversations(turns, per_conversation, seed)
            latencies, elapsed = asyncio.run(run_channel(channel, base, scripts, concurrency))
            name = "Rasa REST channel" if channel == "rest" else "web chat (htmx post)"
            print(
                f"\n{name}: {len(latencies)} turns in {len(scripts)} conversations, {concurrency} at once: "
                f"{len(latencies) / elapsed:.0f} turns/s"
            )
            print(line("  latency per turn", latencies))
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=2000, help="NLU messages to parse")
    parser.add_argument("--turns", type=int, default=1200, help="HTTP turns per channel")
    parser.add_argument("--per-conversation", type=int, default=6, help="turns in each conversation")
    parser.add_argument("--concurrency", type=int, default=8, help="conversations at once")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-http", action="store_true", help="only the NLU figures")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    bench_nlu(args.messages, args.seed)
    if not args.skip_http:
        bench_http(args.turns, args.per_conversation, args.concurrency, args.seed)


if __name__ == "__main__":
    main()

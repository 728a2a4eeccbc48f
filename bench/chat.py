"""The assistant's speed: NLU time per message, and chat turns per second through HTTP with SQLite.

    .venv/bin/python bench/chat.py                          # 2,000 NLU messages, 1,200 HTTP turns
    .venv/bin/python bench/chat.py --skip-nlu --channels rest --rounds 3 --workers 1
    .venv/bin/python bench/chat.py --messages 5000 --turns 3000 --concurrency 16 --workers 2
    .venv/bin/python bench/chat.py --url http://127.0.0.1:8000   # a server that is already running
    .venv/bin/python bench/chat.py --skip-nlu --channels rest,telegram --rounds 3

NLU: the model `witaj dialogues train` caches (trained here when missing) parses real NLU examples
of every language, once without and once with the conversation's language as the prior, the way
the engine calls it; the figures are per message (language detection, entities, intent).

HTTP: `witaj serve` runs in a child process (`--workers N` processes, by default one per core, as a
city would run it) on a fresh SQLite database in
a temporary folder (migrated, demo content loaded, assistant warmed up), and simulated newcomers hold
conversations through Rasa's REST channel (`POST /webhooks/rest/webhook`), the web chat
(`POST /{lang}/chat` as htmx sends it, with its cookies and CSRF token) and Telegram's webhook
(`POST /webhooks/telegram`: an Update with the secret token; the server answers through the outbox,
sending each answer with sendMessage to a minimal Bot API server this script runs), several at once,
each on a keep-alive connection of its own. Every turn
runs the whole engine and stores the conversation in the database. Turns per second are counted
over all of them; latency is per turn; CPU per turn is the server's (all its processes, from
/proc) and this client's. The client is a minimal keep-alive HTTP/1.1 client on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from app.assistant.cli import default_models_dir  # noqa: E402
from app.assistant.data import load_dialogues  # noqa: E402
from app.assistant.flows import dialogue_engine  # noqa: E402
from app.assistant.nlu import train_or_load  # noqa: E402
from app.assistant.runtime import Tracker  # noqa: E402
from app.config import get_settings  # noqa: E402
from app.languages import KNOWN_LOCALES  # noqa: E402

LANGUAGES = KNOWN_LOCALES


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
    # The engine's whole reading of a message: the NLU, the days and audience it names, and each part
    # of a message with more than one thing in it (one message in four is two examples joined).
    engine = dialogue_engine(get_settings())
    readings: list[float] = []
    for index, (language, text) in enumerate(sample):
        if index % 4 == 0:
            text = f"{text}. {rng.choice(examples)[1]}"
        t0 = time.perf_counter()
        engine.parse(text, Tracker(language=language))
        readings.append((time.perf_counter() - t0) * 1000)
    print("\nThe engine's reading of a message (NLU, days and audience, parts; 1 in 4 has two questions):")
    print(line("  all languages", readings))


# --- HTTP -----------------------------------------------------------------------------------------


def tree_cpu_seconds(pid: int) -> float | None:
    """Return the CPU time (user + system) of pid and its descendants so far (Linux /proc), else None."""
    proc = Path("/proc")
    if not (proc / str(pid) / "stat").exists():
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    tree, total = {pid}, 0.0
    changed = True
    while changed:
        changed = False
        for child, (parent, _) in stats.items():
            if parent in tree and child not in tree:
                tree.add(child)
                changed = True
    for member in tree:
        total += stats.get(member, (0, 0.0))[1]
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


TELEGRAM_TOKEN = "123456:bench-token"
TELEGRAM_SECRET = "bench-secret"


class FakeBotApi:
    """A minimal Telegram Bot API on 127.0.0.1 (its own thread and event loop, keep-alive HTTP/1.1):
    every method answers {"ok": true, ...}; it counts the sendMessage calls."""

    def __init__(self) -> None:
        import threading

        self.port = free_port()
        self.sent = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", self.port))
        self.ready.set()
        self.loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answer = b'{"ok":true,"result":{"message_id":1,"date":0,"chat":{"id":1,"type":"private"}}}'
        try:
            while request := await reader.readline():
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                if b"/sendMessage" in request:
                    self.sent += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(answer) + answer)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def start_server(folder: Path, port: int, workers: int, telegram_api: str | None = None) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "WITAJ_ENVIRONMENT": "development",
        "WITAJ_DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
        "WITAJ_TRANSLATION_BACKEND": "none",
        "WITAJ_JOBS_INTERVAL_SECONDS": "0",
        "WITAJ_PORT": str(port),
    }
    if telegram_api:
        env |= {
            "WITAJ_TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "WITAJ_TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
            "WITAJ_TELEGRAM_API_URL": telegram_api,
        }
    witaj = str(Path(sys.executable).with_name("witaj"))
    subprocess.run([witaj, "db", "upgrade"], env=env, check=True, capture_output=True, cwd=ROOT)
    # The city office and its staff: a chat that falls back twice is handed over as a case.
    subprocess.run([witaj, "demo", "load"], env=env, check=True, capture_output=True, cwd=ROOT)
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - closed with the process
    command = [witaj, "serve", "--port", str(port), "--workers", str(workers)]
    server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=log)
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


class Connection:
    """A minimal keep-alive HTTP/1.1 client: the measured loop must not spend the 2 cores on the
    client (httpx takes about as much CPU per request as the server does)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.cookies: dict[str, str] = {}
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", content_type: str = "", extra: tuple[str, ...] = ()
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        if content_type:
            head.append(f"Content-Type: {content_type}")
        head.extend(extra)
        if self.cookies:
            head.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "set-cookie":
                key, _, rest = value.strip().partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def rest_conversation(conn: Connection, sender: str, script: list[str], out: list[float]) -> None:
    for message in script:
        body = json.dumps({"sender": sender, "message": message}).encode()
        t0 = time.perf_counter()
        status, answer = await conn.request("POST", "/webhooks/rest/webhook", body, "application/json")
        out.append((time.perf_counter() - t0) * 1000)
        if status != 200 or not isinstance(json.loads(answer), list):
            raise RuntimeError(f"REST channel answered {status}: {answer[:200]!r}")


async def telegram_conversation(conn: Connection, chat_id: int, script: list[str], out: list[float]) -> None:
    for number, message in enumerate(script):
        update = {
            "update_id": chat_id * 100 + number,
            "message": {
                "message_id": number + 1,
                "from": {"id": chat_id, "is_bot": False, "first_name": "Bench"},
                "chat": {"id": chat_id, "type": "private"},
                "date": 1764777600,
                "text": message,
            },
        }
        body = json.dumps(update).encode()
        t0 = time.perf_counter()
        status, answer = await conn.request(
            "POST", "/webhooks/telegram", body, "application/json", (f"X-Telegram-Bot-Api-Secret-Token: {TELEGRAM_SECRET}",)
        )
        out.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            raise RuntimeError(f"Telegram webhook answered {status}: {answer[:200]!r}")


async def web_conversation(conn: Connection, language: str, script: list[str], out: list[float]) -> None:
    conn.cookies.clear()  # a new visitor: new chat and CSRF cookies
    status, page = await conn.request("GET", f"/{language}/chat")
    match = re.search(rb'name="csrf_token" value="([^"]+)"', page)
    if status != 200 or not match:
        raise RuntimeError(f"chat page answered {status} without a CSRF token")
    token = match.group(1).decode()
    for message in script:
        body = urlencode({"message": message, "csrf_token": token}).encode()
        t0 = time.perf_counter()
        status, answer = await conn.request(
            "POST", f"/{language}/chat", body, "application/x-www-form-urlencoded", ("HX-Request: true",)
        )
        out.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            raise RuntimeError(f"web chat answered {status}: {answer[:200]!r}")


async def run_channel(
    channel: str, host: str, port: int, scripts: list[tuple[str, list[str]]], concurrency: int
) -> tuple[list[float], float]:
    latencies: list[float] = []
    queue: asyncio.Queue[tuple[int, str, list[str]]] = asyncio.Queue()
    for i, (language, script) in enumerate(scripts):
        queue.put_nowait((i, language, script))
    tag = random.getrandbits(32)

    async def worker() -> None:
        while not queue.empty():
            i, language, script = queue.get_nowait()
            # Every newcomer has a connection of their own (kept alive through the conversation), as
            # different browsers do; with several workers the kernel spreads them over the processes.
            conn = Connection(host, port)
            try:
                if channel == "rest":
                    await rest_conversation(conn, f"bench-{tag}-{i}", script, latencies)
                elif channel == "telegram":
                    await telegram_conversation(conn, (tag % 1_000_000) * 10_000 + i, script, latencies)
                else:
                    await web_conversation(conn, language, script, latencies)
            finally:
                conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started


def bench_http(
    turns: int,
    per_conversation: int,
    concurrency: int,
    seed: int,
    url: str | None = None,
    workers: int = 1,
    channels: tuple[str, ...] = ("rest", "web", "telegram"),
    rounds: int = 1,
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="witaj-bench-chat-"))
    server = None
    bot_api = FakeBotApi() if "telegram" in channels and not url else None
    if url:
        parsed = urlsplit(url)
        host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    else:
        host, port = "127.0.0.1", free_port()
        server = start_server(folder, port, workers, f"http://127.0.0.1:{bot_api.port}" if bot_api else None)
    try:
        # Warm-up: the first turns load the engine's caches in the server (in every worker).
        asyncio.run(run_channel("rest", host, port, conversations(60 * workers, 4, seed + 1), 4))
        for channel, round_ in [(c, r) for c in channels for r in range(rounds)]:
            scripts = conversations(turns, per_conversation, seed + round_)
            server_before = tree_cpu_seconds(server.pid) if server is not None else None
            sent_before = bot_api.sent if bot_api is not None else 0
            client_before = time.process_time()
            latencies, elapsed = asyncio.run(run_channel(channel, host, port, scripts, concurrency))
            client_cpu = (time.process_time() - client_before) * 1000 / len(latencies)
            server_after = tree_cpu_seconds(server.pid) if server is not None else None
            name = {"rest": "Rasa REST channel", "web": "web chat (htmx post)", "telegram": "Telegram webhook"}[channel]
            name += f", {workers} worker{'s' if workers > 1 else ''}" if server is not None else ""
            name += f", round {round_ + 1} of {rounds}" if rounds > 1 else ""
            print(
                f"\n{name}: {len(latencies)} turns in {len(scripts)} conversations, {concurrency} at once: "
                f"{len(latencies) / elapsed:.0f} turns/s"
            )
            print(line("  latency per turn", latencies))
            if channel == "telegram" and bot_api is not None:
                print(f"  answers the Bot API took (sendMessage): {bot_api.sent - sent_before} (some may come after the count)")
            if server_before is not None and server_after is not None:
                server_cpu = (server_after - server_before) * 1000 / len(latencies)
                print(f"  CPU per turn: server {server_cpu:.2f} ms, this client {client_cpu:.2f} ms")
    finally:
        if server is not None:
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
    parser.add_argument("--skip-nlu", action="store_true", help="only the HTTP figures")
    parser.add_argument("--channels", default="rest,web,telegram", help="HTTP channels to measure: rest, web, telegram")
    parser.add_argument("--rounds", type=int, default=1, help="measure each channel this many times (figures vary)")
    parser.add_argument("--url", help="measure a running server instead of starting one (its data is kept)")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="server processes (witaj serve --workers; default: one per core)"
    )
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    channels = tuple(c.strip() for c in args.channels.split(",") if c.strip())
    if unknown := [c for c in channels if c not in ("rest", "web", "telegram")]:
        parser.error(f"unknown channel(s) {unknown}: choose rest, web, telegram")
    if not args.skip_nlu:
        bench_nlu(args.messages, args.seed)
    if not args.skip_http:
        bench_http(
            args.turns, args.per_conversation, args.concurrency, args.seed, args.url, args.workers, channels, args.rounds
        )


if __name__ == "__main__":
    main()

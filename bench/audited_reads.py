"""Audited reads under chat load on SQLite: case pages and API reads while newcomers chat.

    .venv/bin/python bench/audited_reads.py                  # 20 s, 8 chats, 2 staff, 2 API clients
    .venv/bin/python bench/audited_reads.py --seconds 60 --chats 16 --workers 2

A case page and an API read record the read (an audit entry), so on SQLite they write while the chat
writes. `witaj serve` runs as in bench/chat.py (a fresh database, demo content, one worker per core);
simulated newcomers hold REST conversations without pause while caseworkers open the demo cases'
pages and a partner's system reads its cases through the API. It prints, per kind of request, how
many were answered and how many failed (any status but 200), with latency; the aim is 0 failures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import chat  # noqa: E402  (bench/chat.py: the server, the conversations, a lean HTTP client)

PASSWORD = "bench-password-0123456789"


def prepare(folder: Path, port: int, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    """Return the running server (demo content, a caseworker who signs in) and a partner's API token."""
    server = chat.start_server(folder, port, workers)
    env = {**os.environ, "WITAJ_ENVIRONMENT": "development", "WITAJ_DATABASE_URL": f"sqlite:///{folder / 'bench.db'}"}
    witaj = str(Path(sys.executable).with_name("witaj"))
    run = dict(env=env, check=True, capture_output=True, text=True, cwd=chat.ROOT)
    subprocess.run(
        [witaj, "users", "create", "--email", "bench@witaj.example", "--name", "Bench", "--role", "caseworker",
         "--password", PASSWORD],
        **run,
    )
    created = subprocess.run([witaj, "tokens", "create", "--org", "fundacja-przystan", "--name", "bench"], **run)
    token = created.stdout.strip().rsplit(" ", 1)[-1]
    return server, token


async def sign_in(conn: chat.Connection) -> None:
    status, page = await conn.request("GET", "/pl/staff/login")
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()  # type: ignore[union-attr]
    body = urlencode({"email": "bench@witaj.example", "password": PASSWORD, "csrf_token": token}).encode()
    status, _ = await conn.request("POST", "/pl/staff/login", body, "application/x-www-form-urlencoded")
    if status != 303:
        raise RuntimeError(f"sign-in answered {status}")


async def staff(host: str, port: int, until: float, out: dict[str, list]) -> None:
    conn = chat.Connection(host, port)
    await sign_in(conn)
    status, inbox = await conn.request("GET", "/pl/staff/cases/")
    references = sorted(set(re.findall(rb"KRK-\d{4}-\d{6}", inbox)))
    while time.monotonic() < until:
        reference = random.choice(references).decode()
        t0 = time.perf_counter()
        status, _ = await conn.request("GET", f"/pl/staff/cases/{reference}")
        out["case page"].append(((time.perf_counter() - t0) * 1000, status))
    conn.close()


async def api(host: str, port: int, token: str, until: float, out: dict[str, list]) -> None:
    conn = chat.Connection(host, port)
    auth = (f"Authorization: Bearer {token}",)
    status, listed = await conn.request("GET", "/api/v1/cases", extra=auth)
    references = [c["reference"] for c in json.loads(listed)["items"]] if status == 200 else []
    if not references:
        raise RuntimeError(f"the partner's API list answered {status} with no case")
    while time.monotonic() < until:
        t0 = time.perf_counter()
        status, _ = await conn.request("GET", f"/api/v1/cases/{random.choice(references)}", extra=auth)
        out["API read"].append(((time.perf_counter() - t0) * 1000, status))
    conn.close()


async def newcomers(host: str, port: int, scripts: list, concurrency: int, until: float, out: dict[str, list]) -> None:
    async def one(i: int) -> None:
        while time.monotonic() < until:
            language, script = scripts[i % len(scripts)]
            conn = chat.Connection(host, port)
            for message in script:
                if time.monotonic() >= until:
                    break
                body = json.dumps({"sender": f"bench-{i}-{random.getrandbits(32)}", "message": message}).encode()
                t0 = time.perf_counter()
                status, _ = await conn.request("POST", "/webhooks/rest/webhook", body, "application/json")
                out["chat turn"].append(((time.perf_counter() - t0) * 1000, status))
            conn.close()
            i += concurrency

    await asyncio.gather(*(one(i) for i in range(concurrency)))


async def load(host: str, port: int, token: str, args: argparse.Namespace) -> dict[str, list]:
    out: dict[str, list] = {"chat turn": [], "case page": [], "API read": []}
    until = time.monotonic() + args.seconds
    scripts = chat.conversations(args.chats * 6, 6, args.seed)
    await asyncio.gather(
        newcomers(host, port, scripts, args.chats, until, out),
        *(staff(host, port, until, out) for _ in range(args.staff)),
        *(api(host, port, token, until, out) for _ in range(args.api)),
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--chats", type=int, default=8, help="newcomers chatting at once")
    parser.add_argument("--staff", type=int, default=2, help="caseworkers opening case pages at once")
    parser.add_argument("--api", type=int, default=2, help="partner systems reading cases at once")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="witaj-bench-audited-"))
    host, port = "127.0.0.1", chat.free_port()
    server, token = prepare(folder, port, args.workers)
    try:
        out = asyncio.run(load(host, port, token, args))
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(folder, ignore_errors=True)
    print(f"machine: {os.cpu_count()} cores; {args.workers} workers; {args.seconds:g} s; {args.chats} chats, "
          f"{args.staff} staff, {args.api} API clients (SQLite)")
    for kind, results in out.items():
        failed = sorted({status for _ms, status in results if status != 200})
        print(f"{kind:<10} {len(results):>6} answered, {sum(1 for _ms, s in results if s != 200):>4} failed"
              + (f" (statuses {failed})" if failed else ""))
        if results:
            print(chat.line(f"  {kind} latency", [ms for ms, _status in results]))


if __name__ == "__main__":
    main()

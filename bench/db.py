"""How soon a waiting SQLite writer starts once the write lock is free: from one writer's commit() to
the moment a writer that was waiting for it has begun (BEGIN IMMEDIATE returned).

    .venv/bin/python bench/db.py                         # 10 rounds of each waiter, holds of 20, 100, 300 ms
    .venv/bin/python bench/db.py --rounds 30 --holds 5,50
    .venv/bin/python bench/db.py --waiters thread,sqlite

Waiters:

    thread   another thread of this process, through app.db's writer queue (a write session)
    process  another process, through app.db's writer queue (the advisory lock on <database>.writers)
    sqlite   a plain sqlite3 connection with only busy_timeout, no queue: SQLite's own busy handler,
             which sleeps 1, 2, 5, 10 ... 100 ms between tries (what the writer queue avoids)

Each round a first writer takes the lock, inserts a row and holds the lock for the hold time; the
waiter, started meanwhile, is blocked; the gap is from the first writer's commit() call (the commit
itself included) to the waiter's BEGIN IMMEDIATE returning. The database is a fresh SQLite file in
WAL mode in a temporary folder. Figures are wall-clock time and move with the machine's load.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, text  # noqa: E402

from app.db import SQLITE_BUSY_SECONDS, build_engine, session_factory  # noqa: E402

WAITERS = ("thread", "process", "sqlite")
_engines: dict[str, Engine] = {}  # one engine (and writer queue) per database, as in the app


def engine_for(url: str) -> Engine:
    if url not in _engines:
        _engines[url] = build_engine(url)
    return _engines[url]


def line(label: str, values_ms: list[float]) -> str:
    return (
        f"{label:<34} n={len(values_ms):>4}  min {min(values_ms):8.3f} ms  "
        f"median {statistics.median(values_ms):8.3f} ms  max {max(values_ms):8.3f} ms"
    )


def new_database(folder: Path, name: str) -> str:
    url = f"sqlite:///{folder / name}"
    engine = build_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    engine.dispose()
    return url


def hold_then_commit(url: str, hold: float, start_waiter: Callable[[], None]) -> float:
    """Take the write lock through a write session, start the waiter, hold; return the commit() time."""
    engine = engine_for(url)
    with session_factory(engine, write=True)() as db:
        db.execute(text("INSERT INTO t VALUES (1)"))
        start_waiter()
        time.sleep(hold)
        committed = time.perf_counter()
        db.commit()
    return committed


def gap_thread(url: str, hold: float) -> float:
    engine = engine_for(url)
    write = session_factory(engine, write=True)
    began: list[float] = []

    def second() -> None:
        with write() as db:
            db.connection()  # BEGIN IMMEDIATE: waits in the writer queue
            began.append(time.perf_counter())
            db.execute(text("INSERT INTO t VALUES (2)"))
            db.commit()

    waiter = threading.Thread(target=second)
    committed = hold_then_commit(url, hold, waiter.start)
    waiter.join()
    return began[0] - committed


def _child_writer(url: str, orders: multiprocessing.Queue, began: multiprocessing.Queue) -> None:
    # time.perf_counter() is CLOCK_MONOTONIC on Linux: the same clock in every process.
    write = session_factory(build_engine(url), write=True)
    with write() as db:  # connected and imported before the first round
        db.execute(text("SELECT 1"))
    began.put(None)
    while orders.get():
        with write() as db:
            db.connection()  # BEGIN IMMEDIATE: waits for the advisory lock of the other process
            began.put(time.perf_counter())
            db.execute(text("INSERT INTO t VALUES (2)"))
            db.commit()


class ProcessWaiter:
    """A writer in a child process, started once and told to write once per round."""

    def __init__(self, url: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.orders: multiprocessing.Queue = context.Queue()
        self.began: multiprocessing.Queue = context.Queue()
        self.process = context.Process(target=_child_writer, args=(url, self.orders, self.began), daemon=True)
        self.process.start()
        self.began.get(timeout=120)  # the child is ready

    def gap(self, url: str, hold: float) -> float:
        committed = hold_then_commit(url, hold, lambda: self.orders.put(True))
        return self.began.get(timeout=60) - committed

    def close(self) -> None:
        self.orders.put(False)
        self.process.join(10)


def _raw(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
    return conn


def gap_sqlite(path: str, hold: float) -> float:
    first, second = _raw(path), _raw(path)
    began: list[float] = []

    def wait_in_sqlite() -> None:
        second.execute("BEGIN IMMEDIATE")  # SQLite's busy handler sleeps and retries
        began.append(time.perf_counter())
        second.execute("INSERT INTO t VALUES (2)")
        second.execute("COMMIT")

    first.execute("BEGIN IMMEDIATE")
    first.execute("INSERT INTO t VALUES (1)")
    waiter = threading.Thread(target=wait_in_sqlite)
    waiter.start()
    time.sleep(hold)
    committed = time.perf_counter()
    first.execute("COMMIT")
    waiter.join()
    first.close()
    second.close()
    return began[0] - committed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="rounds per waiter and hold time")
    parser.add_argument("--holds", default="20,100,300", help="how long the first writer holds the lock, ms")
    parser.add_argument(
        "--waiters", default=",".join(WAITERS), help=f"waiters to measure: {', '.join(WAITERS)}"
    )
    args = parser.parse_args()
    waiters = tuple(w.strip() for w in args.waiters.split(",") if w.strip())
    if unknown := [w for w in waiters if w not in WAITERS]:
        parser.error(f"unknown waiter(s) {unknown}: choose from {', '.join(WAITERS)}")
    holds_ms = [float(h) for h in args.holds.split(",") if h.strip()]
    python = sys.version.split()[0]
    print(f"machine: {os.cpu_count()} cores, Python {python}, SQLite {sqlite3.sqlite_version}")
    print("gap from the first writer's commit() to the waiting writer's BEGIN IMMEDIATE returning:")
    with tempfile.TemporaryDirectory(prefix="witaj-bench-db-") as tmp:
        folder = Path(tmp)
        for waiter in waiters:
            url = new_database(folder, f"{waiter}.db")
            process = ProcessWaiter(url) if waiter == "process" else None
            try:
                for hold_ms in holds_ms:
                    gaps = []
                    for _ in range(args.rounds):
                        hold = hold_ms / 1000
                        if waiter == "thread":
                            gaps.append(gap_thread(url, hold))
                        elif waiter == "process":
                            gaps.append(process.gap(url, hold))
                        else:
                            gaps.append(gap_sqlite(url.removeprefix("sqlite:///"), hold))
                    print(line(f"  {waiter}, held {hold_ms:g} ms", [g * 1000 for g in gaps]))
            finally:
                if process is not None:
                    process.close()


if __name__ == "__main__":
    main()

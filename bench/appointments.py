"""Load N booked visits into PostgreSQL and print p50/p95 of the free-slot search for one month
across all places (the query and computation people and the API use: app.appointments.service.search).

    .venv/bin/python bench/appointments.py                     # 100,000 visits (loads once, ~1 minute)
    .venv/bin/python bench/appointments.py --visits 300000 --runs 200
    WITAJ_BENCH_DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/appointments.py

The database (default `witaj_bench_visits` on the local server) is created, migrated and filled with
COPY when it holds fewer visits than asked: each desk of each place of appointments/places.yml is
booked back to back with its services' visits (75 % of the times; 60 % in the two months ahead), from
today + 62 days backwards until N visits exist, with the desk-time rows (appointment_hold) a real
booking writes. The aim (issue 16): under 50 ms p95 with 100,000 visits.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from alembic import command  # noqa: E402
from inbox import ensure_database, percentile  # noqa: E402  (bench/inbox.py: the same database set-up and p95)
from sqlalchemy import text  # noqa: E402

from app.appointments import service  # noqa: E402
from app.appointments.content import catalogue  # noqa: E402
from app.appointments.slots import starts_on, units  # noqa: E402
from app.config import get_settings  # noqa: E402
from app.crypto import hash_secret  # noqa: E402
from app.db import build_engine, session_factory  # noqa: E402
from app.migrations import alembic_config  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/witaj_bench_visits"
LANGUAGES = ["uk", "uk", "uk", "ru", "ru", "pl", "en", "be", "ka", "ar", "vi", "tr", "es", "hi"]


def visits_to_load(count: int, today: date, seed: int = 7):
    """Yield (place, service, desk, start, end) of count visits, desks booked back to back."""
    settings = get_settings()
    cat = catalogue(settings)
    rng = random.Random(seed)
    made = 0
    day = today + timedelta(days=62)
    while made < count:
        share = 0.6 if day > today else 0.75
        for place in cat.places.values():
            services = [cat.services[s] for s in place.services]
            for desk in range(1, place.desks + 1):
                # A desk's day: visits of one of the place's services one after another (one grid a
                # desk-day keeps them from overlapping), some times left free.
                svc = rng.choice(services)
                for start, end in starts_on(place, svc, day, settings.zone):
                    if rng.random() < share:
                        yield place, svc, desk, start, end
                        made += 1
                        if made >= count:
                            return
        day -= timedelta(days=1)


def load(url: str, count: int) -> None:
    engine = build_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(connection=conn), "head")
    with engine.connect() as conn:
        have = conn.scalar(text("SELECT count(*) FROM appointment"))
    if have >= count:
        print(f"{have} visits already loaded")
        engine.dispose()
        return
    print(f"loading {count} visits ...", flush=True)
    started = time.perf_counter()
    settings = get_settings()
    cat = catalogue(settings)
    today = datetime.now(UTC).astimezone(settings.zone).date()
    rng = random.Random(3)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("TRUNCATE appointment_hold, appointment_event, appointment RESTART IDENTITY CASCADE")
        now = datetime.now(UTC)
        columns = (
            "id, reference, token_hash, place_id, service_id, desk, starts_at, ends_at, status, language, "
            "reminder_channel, reminder_attempts, source, created_at, updated_at, version"
        )
        holds = []
        with cur.copy(f"COPY appointment ({columns}) FROM STDIN") as copy:
            for ident, (place, svc, desk, start, end) in enumerate(visits_to_load(count, today), start=1):
                status = "booked" if start > now else rng.choice(["checked_in", "checked_in", "checked_in", "no_show", "cancelled"])
                copy.write_row((
                    ident, f"KRK-W-{ident:09d}", hash_secret(f"bench-{ident}"), place.id, svc.id, desk, start, end,
                    status, rng.choice(LANGUAGES), "none", 0, "web", start - timedelta(days=7), start, 1,
                ))
                if status != "cancelled":
                    holds.extend((place.id, desk, moment, ident) for moment in units(start, end, cat.unit_minutes))
        with cur.copy("COPY appointment_hold (place_id, desk, at, appointment_id) FROM STDIN") as copy:
            for row in holds:
                copy.write_row(row)
        cur.execute("SELECT setval(pg_get_serial_sequence('appointment', 'id'), (SELECT max(id) FROM appointment))")
        raw.commit()
        cur.execute("ANALYZE appointment")
        cur.execute("ANALYZE appointment_hold")
        raw.commit()
    finally:
        raw.close()
    print(f"loaded in {time.perf_counter() - started:.0f} s", flush=True)
    engine.dispose()


def measure(url: str, runs: int) -> None:
    settings = get_settings()
    cat = catalogue(settings)
    engine = build_engine(url)
    factory = session_factory(engine)
    today = datetime.now(UTC).astimezone(settings.zone).date()
    with engine.connect() as conn:
        total = conn.scalar(text("SELECT count(*) FROM appointment"))
        ahead = conn.scalar(text("SELECT count(*) FROM appointment WHERE starts_at >= now() AND starts_at < now() + interval '31 days'"))
    print(f"{total} visits in the database, {ahead} of them in the month searched; {len(cat.places)} places")
    cases = [
        ("one service, every place", {}),
        ("evenings or weekends", {"evening": True, "weekend": True}),
        ("a desk that speaks Ukrainian", {"language": "uk"}),
    ]
    rng = random.Random(5)
    services = list(cat.services)
    with factory() as db:  # warm: the catalogue, the connection, the plan
        service.search(db=db, settings=settings, service_id=services[0], first_day=today, last_day=today + timedelta(days=30))
    for name, filters in cases:
        samples = []
        found = 0
        for _ in range(runs):
            svc = rng.choice(services)
            with factory() as db:
                started = time.perf_counter()
                result = service.search(db=db, settings=settings, service_id=svc, first_day=today, last_day=today + timedelta(days=30), **filters)
                samples.append((time.perf_counter() - started) * 1000)
            found += sum(len(slots) for slots in result.values())
        print(
            f"free slots, one month, {name:<30} p50 {statistics.median(samples):6.1f} ms   "
            f"p95 {percentile(samples, 0.95):6.1f} ms   ({found / runs:.0f} free slots a search)"
        )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visits", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    url = os.environ.get("WITAJ_BENCH_DATABASE_URL", DEFAULT_URL)
    ensure_database(url)
    load(url, args.visits)
    measure(url, args.runs)


if __name__ == "__main__":
    main()

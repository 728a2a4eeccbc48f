"""Load N cases into PostgreSQL and print p50/p95 of the filtered inbox page and of search.

    .venv/bin/python bench/inbox.py                      # 1,000,000 cases (loads once, ~2 minutes)
    .venv/bin/python bench/inbox.py --cases 100000 --runs 300
    WITAJ_BENCH_DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/inbox.py

The database (default `witaj_bench` on the local server) is created, migrated and filled with
COPY when it holds fewer cases than asked. The queries are the real ones: app.cases.inbox.list_for
for an office caseworker and for partner staff, with the filters the inbox offers.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alembic import command  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from app.auth.enums import OrgKind, Role  # noqa: E402
from app.auth.permissions import Principal  # noqa: E402
from app.cases import inbox  # noqa: E402
from app.cases.schemas import InboxFilter  # noqa: E402
from app.db import build_engine, session_factory  # noqa: E402
from app.migrations import alembic_config  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/witaj_bench"
CATEGORIES = [
    "labour_registration", "job_search", "work_permit", "training", "library", "culture",
    "polish_course", "legal_aid", "housing", "psychological_support", "other",
]
STATUSES = [  # (status, share)
    ("closed", 50), ("resolved", 10), ("in_progress", 15), ("new", 5), ("triaged", 5),
    ("referred", 5), ("accepted", 5), ("waiting_on_client", 5),
]
LANGUAGES = [("uk", 40), ("ru", 25), ("pl", 10), ("en", 10), ("be", 5), ("ka", 5), ("ar", 5)]
FIRST = ["Olena", "Ivan", "Hanna", "Maria", "Dmytro", "Oksana", "Aliaksandr", "John", "Nino", "Ahmed", "Iryna",
         "Siarhei", "Taras", "Yulia", "Giorgi", "Fatima", "Andrii", "Natalia", "Pavel", "Sofia"]
SUBJECTS = ["Rejestracja", "Praca", "Zezwolenie na pracę", "Kurs polskiego", "Karta biblioteczna", "Mieszkanie",
            "Porada prawna", "Wsparcie psychologiczne", "Szkolenie", "Wydarzenia kulturalne", "Pytanie"]
PARTNERS = ["fundacja-przystan", "stowarzyszenie-prawo-na-start", "stowarzyszenie-cieply-kat", "fundacja-zielony-most",
            "fundacja-alfabet-sasiedzki", "klub-mist", "dom-spotkan-pod-jaworem"]


def weighted(pairs: list[tuple[str, int]], rng: random.Random) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def ensure_database(url: str) -> None:
    parsed = make_url(url)
    admin = build_engine(parsed.set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": parsed.database}).scalar():
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def load(url: str, count: int, seed: int = 7) -> None:
    """Fill the database with count cases (clients, referrals and consents) using COPY."""
    engine = build_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(connection=conn), "head")
    with engine.connect() as conn:
        have = conn.execute(text("SELECT count(*) FROM case_file")).scalar()
    if have >= count:
        print(f"database already holds {have:,} cases")
        engine.dispose()
        return
    print(f"loading {count:,} cases (database held {have:,}) ...", flush=True)
    started = time.perf_counter()
    rng = random.Random(seed)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        # Row triggers (the append-only guard) do not fire on TRUNCATE.
        cur.execute(
            "TRUNCATE webhook_delivery, webhook_endpoint, audit_entry, case_event, case_note, referral, consent, case_file,"
            " client, case_counter, user_session, api_token, user_account, organisation RESTART IDENTITY CASCADE"
        )
        now = datetime.now(UTC)
        cur.execute(
            "INSERT INTO organisation (slug, name, kind, is_demo, created_at) VALUES (%s, %s, 'office', false, %s) RETURNING id",
            ("gup-krakow", "GUP", now),
        )
        office_id = cur.fetchone()[0]
        partner_ids = {}
        for slug in PARTNERS:
            cur.execute(
                "INSERT INTO organisation (slug, name, kind, is_demo, created_at) VALUES (%s, %s, 'partner', true, %s) RETURNING id",
                (slug, slug, now),
            )
            partner_ids[slug] = cur.fetchone()[0]
        user_ids = []
        for i in range(20):
            cur.execute(
                "INSERT INTO user_account (email, display_name, password_hash, role, organisation_id, is_active, created_at)"
                " VALUES (%s, %s, 'x', 'caseworker', %s, true, %s) RETURNING id",
                (f"cw{i}@bench.example", f"Caseworker {i}", office_id, now),
            )
            user_ids.append(cur.fetchone()[0])

        clients, cases, consents, referrals, links = io.StringIO(), io.StringIO(), io.StringIO(), io.StringIO(), []
        referral_id = 0
        for n in range(1, count + 1):
            status = weighted(STATUSES, rng)
            language = weighted(LANGUAGES, rng)
            category = rng.choice(CATEGORIES)
            name = f"{rng.choice(FIRST)} {chr(65 + rng.randrange(26))}{chr(97 + rng.randrange(26))}{rng.randrange(1000):03d}."
            created = now - timedelta(days=rng.uniform(0, 3 * 365))
            updated = created + timedelta(days=rng.uniform(0, 30))
            open_case = status not in ("closed", "resolved", "waiting_on_client")
            due = (now + timedelta(days=rng.uniform(-1.2, 40))) if open_case else None
            reference = f"KRK-{created.year}-{n:06d}"
            subject = f"{rng.choice(SUBJECTS)} {rng.randrange(100000)}"
            holder = office_id
            current = None
            if status in ("referred", "accepted") or (status == "in_progress" and rng.random() < 0.3):
                referral_id += 1
                partner = partner_ids[rng.choice(PARTNERS)]
                state = "pending" if status == "referred" else "accepted"
                if state == "accepted":
                    holder = partner
                consents.write(f"{referral_id}\t{n}\t{n}\t{partner}\t{category}\t[\"case\"]\t2026-11\t{language}\tstaff\t{created.isoformat()}\n")
                referrals.write(f"{referral_id}\t{n}\t{partner}\tservice\t{referral_id}\t{state}\t{created.isoformat()}\n")
                current = referral_id
            assignee = rng.choice(user_ids) if rng.random() < 0.3 else None
            clients.write(f"{n}\t{name}\t{language}\t[]\t\\N\t\\N\t{created.isoformat()}\n")
            search = f"{reference} {subject} {name}".lower()
            cases.write(
                "\t".join(
                    [
                        str(n), reference, "0" * 64, str(n), str(office_id), str(holder),
                        str(assignee) if assignee else "\\N", category, status, "normal", language, "\\N", "chat",
                        subject, "", "[]", "\\N", "{}", updated.isoformat(), due.isoformat() if due else "\\N",
                        search, "1", created.isoformat(), updated.isoformat(),
                    ]
                )
                + "\n"
            )
            if current:
                links.append((n, current))
            if n % 200_000 == 0:
                print(f"  generated {n:,}", flush=True)
        for table, columns, buffer in [
            ("client", "id, display_name, preferred_language, other_languages, district, contact_encrypted, created_at", clients),
            ("case_file", "id, reference, secret_hash, client_id, owner_org_id, holder_org_id, assignee_id, category, status,"
             " priority, language, district, source, subject, description, tags, outcome, clocks, status_changed_at,"
             " due_at, search_text, version, created_at, updated_at", cases),
            ("consent", "id, case_id, client_id, organisation_id, purpose, scope, text_version, language, method, given_at", consents),
            ("referral", "id, case_id, organisation_id, service_id, consent_id, state, created_at", referrals),
        ]:
            buffer.seek(0)
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                while chunk := buffer.read(1 << 20):
                    copy.write(chunk)
            print(f"  copied {table}", flush=True)
        cur.execute("CREATE TEMP TABLE links (case_id int, referral_id int)")
        with cur.copy("COPY links FROM STDIN") as copy:
            for case_id, ref in links:
                copy.write_row((case_id, ref))
        cur.execute("UPDATE case_file c SET current_referral_id = l.referral_id FROM links l WHERE c.id = l.case_id")
        for table in ("client", "case_file", "consent", "referral", "organisation", "user_account"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        raw.commit()
    finally:
        raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    print(f"loaded in {time.perf_counter() - started:.0f} s", flush=True)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(url: str, runs: int, seed: int = 11) -> None:
    engine = build_engine(url)
    factory = session_factory(engine)
    rng = random.Random(seed)
    with factory() as db:
        office_id = db.execute(text("SELECT id FROM organisation WHERE slug = 'gup-krakow'")).scalar()
        partner_id = db.execute(text("SELECT id FROM organisation WHERE slug = 'klub-mist'")).scalar()
        user_id = db.execute(text("SELECT min(id) FROM user_account")).scalar()
        total = db.execute(text("SELECT count(*) FROM case_file")).scalar()
        references = [r for (r,) in db.execute(text("SELECT reference FROM case_file TABLESAMPLE SYSTEM (1) LIMIT 500"))]
    office = Principal(user_id=user_id, role=Role.caseworker, organisation_id=office_id, organisation_kind=OrgKind.office)
    partner = Principal(user_id=None, role=Role.partner_staff, organisation_id=partner_id, organisation_kind=OrgKind.partner, token_id=1)

    def inbox_filter() -> InboxFilter:
        choice = rng.randrange(8)
        return InboxFilter(
            status=rng.choice(["new", "triaged", "in_progress", "referred"]) if choice == 0 else None,
            category=rng.choice(CATEGORIES) if choice == 1 else None,
            language=rng.choice(["uk", "ru", "be", "en"]) if choice == 2 else None,
            overdue=choice == 3,
            mine=choice == 4,
            partner=rng.choice(PARTNERS) if choice == 5 else None,
            sort="due" if choice == 6 else "-updated",
            page=rng.choice([1, 1, 1, 2, 5]),
        )

    def search_filter() -> InboxFilter:
        kind = rng.randrange(3)
        if kind == 0:
            query = rng.choice(references)
        elif kind == 1:
            query = f"{rng.choice(FIRST)} {chr(65 + rng.randrange(26))}{chr(97 + rng.randrange(26))}"
        else:
            query = f"{rng.randrange(100000)}"
        return InboxFilter(query=query)

    results: dict[str, list[float]] = {}
    for label, principal, make in [
        ("office inbox (filters)", office, inbox_filter),
        ("office search", office, search_filter),
        ("partner inbox", partner, lambda: InboxFilter(page=rng.choice([1, 1, 2]))),
    ]:
        samples = []
        with factory() as db:
            for _warm in range(5):
                inbox.list_for(db=db, principal=principal, filters=make())
            for _ in range(runs):
                filters = make()
                started = time.perf_counter()
                inbox.list_for(db=db, principal=principal, filters=filters)
                samples.append((time.perf_counter() - started) * 1000)
                db.rollback()
        results[label] = samples
    print(f"\n{total:,} cases in {make_url(url).render_as_string(hide_password=True)}; {runs} queries each")
    print(f"{'query':<26}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for label, samples in results.items():
        print(f"{label:<26}{statistics.median(samples):>10.1f}{percentile(samples, 0.95):>10.1f}{max(samples):>10.1f}")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--url", default=os.environ.get("WITAJ_BENCH_DATABASE_URL", DEFAULT_URL))
    args = parser.parse_args()
    ensure_database(args.url)
    load(args.url, args.cases)
    measure(args.url, args.runs)


if __name__ == "__main__":
    main()

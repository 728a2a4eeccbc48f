"""Fill PostgreSQL with 24 months of a city's history (N cases) and time the statistics of issue 17:
folding the facts, the dashboard's figures, and a month's open-data publication.

    .venv/bin/python bench/reports.py                       # 1,000,000 cases (fills once, then reuses)
    .venv/bin/python bench/reports.py --cases 100000 --runs 10
    .venv/bin/python bench/reports.py --rebuild             # fill the database again
    .venv/bin/python bench/reports.py --skip-rebuild        # reuse the facts folded by an earlier run
    WITAJ_BENCH_DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/reports.py

The database (default `witaj_bench_reports` on the local server) is created, migrated and filled
with set-based SQL (INSERT ... SELECT FROM generate_series) when it does not hold exactly N cases:
cases opened 2024-12 .. 2026-11 (Europe/Warsaw), each with the events the case service writes
(created, triage or dismiss, consent_given, refer, accept or decline, start, resolve, close or
auto_close, and a chat's handover), the chat's conversations and messages, the forms sent, and
N/5 visits. The aims (issue 17): the dashboard under 300 ms, a month's publication under 10 s.
Benchmarks print figures; they never assert.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/witaj_bench_reports"
URL = os.environ.get("WITAJ_BENCH_DATABASE_URL", DEFAULT_URL)
# Settings are read from the environment once: point the app at the bench database before importing it.
os.environ["WITAJ_DATABASE_URL"] = URL
# The supervisor signs in with a password only (no TOTP) for the page timed over HTTP.
os.environ["WITAJ_TWO_FACTOR_ROLES"] = ""
# No background jobs in the app timed over HTTP: they would compete with the requests and change the
# bench data (auto-closing resolved cases, purging drafts, refreshing the facts).
os.environ["WITAJ_JOBS_INTERVAL_SECONDS"] = "0"

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import yaml  # noqa: E402
from alembic import command  # noqa: E402
from inbox import PARTNERS, ensure_database, percentile  # noqa: E402  (bench/inbox.py: set-up, p95, partners)
from psycopg import ClientCursor  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from app.appointments.content import catalogue  # noqa: E402
from app.auth import service as auth_service  # noqa: E402
from app.auth.enums import OrgKind, Role  # noqa: E402
from app.config import get_settings  # noqa: E402
from app.db import build_engine, session_factory  # noqa: E402
from app.migrations import alembic_config  # noqa: E402
from app.reports import facts, publish, stats  # noqa: E402

ZONE = ZoneInfo("Europe/Warsaw")
START = datetime(2024, 12, 1, tzinfo=ZONE)  # the first month of the history
END = datetime(2026, 12, 1, tzinfo=ZONE)  # the history ends here: no event after it
PERIOD = "2026-11"  # the month published and shown
YEAR = ("2025-12", "2026-11")
SUPERVISOR = ("supervisor@bench.example", "bench supervisor password")

# Weighted choices are drawn in SQL as array[1 + floor(random() * length)]: each value repeated by its weight.
LANGUAGES = {"uk": 38, "ru": 18, "pl": 8, "en": 9, "be": 7, "ka": 5, "tr": 4, "vi": 3, "es": 3, "hi": 2, "ar": 3}
CATEGORIES = {
    "labour_registration": 18, "job_search": 15, "work_permit": 12, "training": 5, "library": 5, "culture": 4,
    "polish_course": 10, "legal_aid": 10, "housing": 8, "psychological_support": 5, "other": 8,
}
SOURCES = {"chat": 45, "form": 20, "staff": 30, "api": 5}
OUTCOMES = {"helped": 60, "referred_outside": 10, "no_longer_needed": 10, "not_eligible": 8, "no_contact": 12}
DECLINE_REASONS = {"no_capacity": 40, "not_in_scope": 25, "not_eligible": 15, "no_contact": 10, "other": 10}
CHANNELS = {"web": 50, "telegram": 25, "whatsapp": 20, "viber": 5}
VISIT_STATUSES = {"checked_in": 70, "no_show": 15, "cancelled": 15}
VISIT_SOURCES = {"web": 60, "chat": 20, "staff": 15, "api": 5}


def spread(weights: dict[str, int]) -> list[str]:
    """Return each value repeated by its weight (an array SQL draws from uniformly)."""
    return [value for value, weight in weights.items() for _ in range(weight)]


def pick(array: str, u: str) -> str:
    """Return SQL choosing an element of the text[] parameter array with the uniform value u."""
    return f"(%({array})s::text[])[1 + floor({u} * cardinality(%({array})s::text[]))::int]"


def content() -> dict[str, list[str]]:
    """Return the districts (cases/routing.yml), forms (forms/) and intents (dialogues/domain.yml)."""
    routing = yaml.safe_load((ROOT / "cases" / "routing.yml").read_text(encoding="utf-8"))
    domain = yaml.safe_load((ROOT / "dialogues" / "domain.yml").read_text(encoding="utf-8"))
    forms = [yaml.safe_load(p.read_text(encoding="utf-8"))["id"] for p in sorted((ROOT / "forms").glob("*.yml"))]
    return {
        "districts": [d["name"] for d in routing["districts"]],
        "forms": forms,
        "intents": [i if isinstance(i, str) else next(iter(i)) for i in domain["intents"]],
    }


# The plan: every case's random choices and the times of its steps (NULL: the step is not on its path).
PLAN = f"""
CREATE UNLOGGED TABLE bench_plan AS
WITH t AS (
    -- case ids grow with the time a case is opened, as the sequence gives them out
    SELECT row_number() OVER (ORDER BY u) AS n, u AS u_t FROM (SELECT random() AS u FROM generate_series(1, %(count)s)) AS s
), r AS (
    SELECT n, u_t, random() AS u_lang, random() AS u_cat, random() AS u_dist, random() AS u_src,
           random() AS u_dis, random() AS u_ref, random() AS u_acc, random() AS u_direct, random() AS u_stall,
           random() AS u_out, random() AS u_close, random() AS u_part, random() AS u_hand, random() AS u_why,
           random() AS u_chan, -ln(1 - random()) AS e1, -ln(1 - random()) AS e2, -ln(1 - random()) AS e3,
           -ln(1 - random()) AS e4, -ln(1 - random()) AS e5, -ln(1 - random()) AS e6
    FROM t
), a AS (
    SELECT n AS id,
           -- more cases in the later months (a growing service): u^0.85 leans towards 1
           %(start)s::timestamptz + (%(end)s::timestamptz - %(start)s::timestamptz) * power(u_t, 0.85) AS t0,
           {pick("languages", "u_lang")} AS language,
           {pick("categories", "u_cat")} AS category,
           CASE WHEN u_dist < 0.8 THEN {pick("districts", "u_dist / 0.8")} END AS district,
           {pick("sources", "u_src")} AS source,
           {pick("channels", "u_chan")} AS channel,
           1 + floor(u_part * cardinality(%(partner_ids)s::int[]))::int AS p,
           u_dis < 0.06 AS dismissed,
           u_dis >= 0.06 AND u_ref < 0.30 AS referred,
           u_acc < 0.8 AS accepted,
           u_ref >= 0.30 AND u_direct < 0.25 AS direct,  -- resolved straight from triaged, never started
           u_stall < 0.03 AS stalled,  -- still being worked on when the history ends
           u_close < 0.6 AS auto,
           u_hand < 0.05 AS handed_over,
           {pick("outcomes", "u_out")} AS outcome,
           CASE WHEN u_out < 0.5 THEN 'duplicate' ELSE 'out_of_scope' END AS dismiss_outcome,
           {pick("decline_reasons", "u_why")} AS decline_reason,
           interval '5 minutes' + interval '1 hour' * e1 * 14 AS d_tri,
           interval '10 minutes' + interval '1 hour' * e2 * 6 AS d_ref,
           interval '15 minutes' + interval '1 hour' * e3 * 30 AS d_ans,
           interval '10 minutes' + interval '1 hour' * e4 * 20 AS d_start,
           interval '1 hour' + interval '1 day' * e5 * 7 AS d_res,
           interval '10 minutes' + interval '1 day' * e6 * 2 AS d_close
    FROM r
), b AS (
    SELECT a.*, t0 + d_tri AS t_tri,
           CASE WHEN referred THEN t0 + d_tri + d_ref / 2 END AS t_consent,
           CASE WHEN referred THEN t0 + d_tri + d_ref END AS t_ref,
           CASE WHEN referred THEN t0 + d_tri + d_ref + d_ans END AS t_ans,
           CASE WHEN dismissed OR direct THEN NULL
                WHEN referred THEN t0 + d_tri + d_ref + d_ans + d_start
                ELSE t0 + d_tri + d_start END AS t_start,
           CASE WHEN source = 'chat' AND handed_over THEN t0 + interval '1 minute' END AS t_hand
    FROM a
), c AS (
    SELECT b.*,
           CASE WHEN dismissed OR stalled THEN NULL ELSE coalesce(t_start, t_tri) + d_res END AS t_res
    FROM b
)
SELECT c.*, t_res + CASE WHEN auto THEN interval '14 days' ELSE d_close END AS t_close
FROM c
"""

# What each case looks like when the history ends: the state after its last step before END.
FINAL = """
CREATE UNLOGGED TABLE bench_case AS
SELECT p.*,
       CASE WHEN t_close < %(end)s THEN 'closed'
            WHEN t_res < %(end)s THEN 'resolved'
            WHEN t_start < %(end)s THEN 'in_progress'
            WHEN t_ans < %(end)s THEN CASE WHEN accepted THEN 'accepted' ELSE 'declined' END
            WHEN t_ref < %(end)s THEN 'referred'
            WHEN t_tri < %(end)s THEN CASE WHEN dismissed THEN 'closed' ELSE 'triaged' END
            ELSE 'new' END AS status,
       CASE WHEN t_res < %(end)s THEN outcome
            WHEN dismissed AND t_tri < %(end)s THEN dismiss_outcome END AS final_outcome,
       CASE WHEN referred AND accepted AND t_ans < %(end)s THEN (%(partner_ids)s::int[])[p]
            ELSE %(office)s END AS holder,
       CASE WHEN t_ref < %(end)s AND NOT (NOT accepted AND t_ans < %(end)s) THEN id END AS live_referral,
       greatest(t0, CASE WHEN t_tri < %(end)s THEN t_tri END, CASE WHEN t_ref < %(end)s THEN t_ref END,
                CASE WHEN t_ans < %(end)s THEN t_ans END, CASE WHEN t_start < %(end)s THEN t_start END,
                CASE WHEN t_res < %(end)s THEN t_res END, CASE WHEN t_close < %(end)s THEN t_close END) AS last_at,
       CASE WHEN t_close < %(end)s THEN 7 WHEN t_res < %(end)s THEN 6 WHEN t_start < %(end)s THEN 5
            WHEN t_ans < %(end)s THEN 4 WHEN t_ref < %(end)s THEN 3 WHEN t_tri < %(end)s THEN 2 ELSE 1 END AS version,
       (%(caseworkers)s::int[])[1 + id %% cardinality(%(caseworkers)s::int[])] AS cw,
       (%(partner_ids)s::int[])[p] AS partner,
       (%(partner_staff)s::int[])[p] AS partner_user,
       (%(partner_slugs)s::text[])[p] AS partner_slug
FROM bench_plan p
"""


def snapshot(status: str, holder: str = "%(office)s", outcome: str = "NULL", referral: str = "NULL") -> str:
    """Return SQL of events.snapshot(case): the projected fields a 'created' event (or a consent) records."""
    return (
        f"json_build_object('status', '{status}', 'category', category, 'holder_org_id', {holder},"
        f" 'assignee_id', NULL, 'priority', 'normal', 'district', district, 'tags', '[]'::json,"
        f" 'outcome', {outcome}, 'current_referral_id', {referral})"
    )


# The holder's member who works the case after triage: the partner's staff once it accepted it.
WORKER = "CASE WHEN referred AND accepted THEN partner_user ELSE cw END"
WORKER_ORG = "CASE WHEN referred AND accepted THEN partner ELSE %(office)s END"

# Every event of every case, in the shape app/cases/service.py writes them (see the module's docstring);
# inserted in time order, so event ids grow with time as they do in a live system.
EVENTS = f"""
INSERT INTO case_event (case_id, version, kind, name, actor_kind, actor_user_id, actor_org_id, at, before, after, data)
SELECT id, e.version, e.kind, e.name, e.actor_kind, e.actor_user_id, e.actor_org_id, e.at, e.before, e.after, e.data
FROM bench_case CROSS JOIN LATERAL (VALUES
    (1, 1, 'created', NULL,
     CASE source WHEN 'staff' THEN 'user' WHEN 'api' THEN 'token' ELSE 'client' END,
     CASE WHEN source = 'staff' THEN cw END,
     CASE source WHEN 'staff' THEN %(office)s WHEN 'api' THEN partner END,
     t0, '{{}}'::json, {snapshot("new")}, json_build_object('source', source)),
    (2, 1, 'handover', NULL, 'client', NULL, NULL, t_hand, '{{}}'::json, {snapshot("new")},
     json_build_object('channel', channel)),
    (3, 2, 'transition', CASE WHEN dismissed THEN 'dismiss' ELSE 'triage' END, 'user', cw, %(office)s, t_tri,
     CASE WHEN dismissed THEN json_build_object('status', 'new', 'outcome', NULL) ELSE json_build_object('status', 'new') END,
     CASE WHEN dismissed THEN json_build_object('status', 'closed', 'outcome', dismiss_outcome)
          ELSE json_build_object('status', 'triaged') END,
     CASE WHEN dismissed THEN json_build_object('reason', 'Duplikat / poza zakresem') ELSE '{{}}'::json END),
    (4, 2, 'consent_given', NULL, 'user', cw, %(office)s, t_consent, '{{}}'::json, {snapshot("triaged")},
     json_build_object('consent_id', id, 'organisation', partner_slug, 'scope', json_build_array('case', 'contact'),
                       'method', 'staff')),
    (5, 3, 'transition', 'refer', 'user', cw, %(office)s, t_ref,
     json_build_object('status', 'triaged', 'current_referral_id', NULL),
     json_build_object('status', 'referred', 'current_referral_id', id),
     json_build_object('referral_id', id, 'organisation', partner_slug, 'service', partner_slug || '-service')),
    (6, 4, 'transition', CASE WHEN accepted THEN 'accept' ELSE 'decline' END, 'user', partner_user, partner, t_ans,
     CASE WHEN accepted THEN json_build_object('status', 'referred', 'holder_org_id', %(office)s)
          ELSE json_build_object('status', 'referred', 'current_referral_id', id) END,
     CASE WHEN accepted THEN json_build_object('status', 'accepted', 'holder_org_id', partner)
          ELSE json_build_object('status', 'declined', 'current_referral_id', NULL) END,
     CASE WHEN accepted THEN json_build_object('referral_id', id)
          ELSE json_build_object('reason', 'Brak miejsc', 'decline_reason', decline_reason, 'referral_id', id) END),
    (7, 5, 'transition', 'start', 'user', {WORKER}, {WORKER_ORG}, t_start,
     json_build_object('status', CASE WHEN NOT referred THEN 'triaged' WHEN accepted THEN 'accepted' ELSE 'declined' END),
     json_build_object('status', 'in_progress'), '{{}}'::json),
    (8, 6, 'transition', 'resolve', 'user', {WORKER}, {WORKER_ORG}, t_res,
     json_build_object('status', CASE WHEN t_start IS NULL THEN 'triaged' ELSE 'in_progress' END, 'outcome', NULL),
     json_build_object('status', 'resolved', 'outcome', outcome), '{{}}'::json),
    (9, 7, 'transition', CASE WHEN auto THEN 'auto_close' ELSE 'close' END,
     CASE WHEN auto THEN 'system' ELSE 'user' END, CASE WHEN NOT auto THEN {WORKER} END,
     CASE WHEN NOT auto THEN {WORKER_ORG} END, t_close,
     json_build_object('status', 'resolved'), json_build_object('status', 'closed'), '{{}}'::json)
) AS e(seq, version, kind, name, actor_kind, actor_user_id, actor_org_id, at, before, after, data)
WHERE e.at < %(end)s
ORDER BY e.at, id, e.seq
"""

FILL = [
    ("clients", """
INSERT INTO client (id, display_name, preferred_language, other_languages, district, contact_encrypted, created_at)
SELECT id, 'Bench ' || id, language, '[]', district, 'bench-not-encrypted', t0 FROM bench_case
"""),
    ("cases", """
INSERT INTO case_file (id, reference, secret_hash, client_id, owner_org_id, holder_org_id, partner_org_id, assignee_id,
                       category, status, priority, language, district, source, subject, description, tags, outcome,
                       current_referral_id, clocks, status_changed_at, due_at, search_text, version, created_at, updated_at)
SELECT id, 'KRK-' || to_char(t0 AT TIME ZONE 'Europe/Warsaw', 'YYYY') || '-' || lpad(id::text, 7, '0'),
       md5('s' || id) || md5('h' || id), id, %(office)s, holder, CASE WHEN live_referral IS NOT NULL THEN partner END,
       NULL, category, status, 'normal', language, district, source, 'Bench case ' || id, '', '[]', final_outcome,
       live_referral, '{}', last_at, NULL, 'krk-' || id, version, t0, last_at
FROM bench_case
"""),
    ("consents", """
INSERT INTO consent (id, case_id, client_id, organisation_id, purpose, scope, text_version, language, method, given_at,
                     recorded_by_id)
SELECT id, id, id, partner, category, '["case", "contact"]', '2026-11', language, 'staff', t_consent, cw
FROM bench_case WHERE t_consent < %(end)s
"""),
    ("referrals", """
INSERT INTO referral (id, case_id, organisation_id, service_id, consent_id, state, reason, created_at, created_by_id,
                      answered_at, ended_at)
SELECT id, id, partner, partner_slug || '-service', id,
       CASE WHEN t_ans >= %(end)s THEN 'pending' WHEN accepted THEN 'accepted' ELSE 'declined' END,
       CASE WHEN t_ans < %(end)s AND NOT accepted THEN 'Brak miejsc' END, t_ref, cw,
       CASE WHEN t_ans < %(end)s THEN t_ans END, CASE WHEN t_ans < %(end)s AND NOT accepted THEN t_ans END
FROM bench_case WHERE t_ref < %(end)s
"""),
    ("case events", EVENTS),
    ("conversations", """
INSERT INTO conversation (id, channel, sender_id, language, mode, state, case_id, created_at, updated_at, version)
SELECT id, channel, 'bench-' || id, language, 'closed', '{}'::json, id, t0 - interval '10 minutes', t0, 1
FROM bench_case WHERE source = 'chat'
UNION ALL
-- conversations that asked questions and opened no case
SELECT %(count)s + n, (%(channels)s::text[])[1 + floor(random() * cardinality(%(channels)s::text[]))::int],
       'bench-' || (%(count)s + n), (%(languages)s::text[])[1 + floor(random() * cardinality(%(languages)s::text[]))::int],
       'closed', '{}'::json, NULL, at, at, 1
FROM (SELECT n, %(start)s::timestamptz + (%(end)s::timestamptz - %(start)s::timestamptz) * power(random(), 0.85) AS at
      FROM generate_series(1, %(count)s * 3 / 10) AS n) AS q
"""),
    ("conversation messages", """
INSERT INTO conversation_message (conversation_id, author, text, language, buttons, data, private, created_at)
SELECT c.id, a.author, CASE WHEN a.author = 'user' THEN 'bench question' ELSE 'bench answer' END, c.language, '[]',
       -- a few topics dominate, as in an assistant's real traffic: power(random(), 2.5) leans to the first intents
       CASE WHEN a.author = 'user' THEN json_build_object(
           'intent', CASE WHEN random() < 0.12 THEN 'nlu_fallback'
                          ELSE (%(intents)s::text[])[1 + floor(power(random(), 2.5) * cardinality(%(intents)s::text[]))::int] END,
           'confidence', round((0.35 + random() * 0.65)::numeric, 2))
            ELSE '{}'::json END,
       false, c.created_at + interval '1 minute' * i + CASE WHEN a.author = 'bot' THEN interval '2 seconds' ELSE interval '0' END
FROM conversation c
CROSS JOIN LATERAL generate_series(1, CASE WHEN c.case_id IS NULL THEN 2 ELSE 3 END) AS i
CROSS JOIN (VALUES ('user'), ('bot')) AS a(author)
"""),
    ("form revisions", """
INSERT INTO form_revision (form_id, version, digest, definition, created_at)
SELECT f, 1, md5(f) || md5('r' || f), '{}', %(start)s FROM unnest(%(forms)s::text[]) AS f
"""),
    ("form submissions", """
INSERT INTO form_submission (id, form_id, revision_id, token_hash, status, language, answers_encrypted, case_id,
                             created_at, updated_at, submitted_at)
SELECT s.id, s.form_id, r.id, md5('f' || s.id) || md5('t' || s.id), s.status, s.language, 'bench-not-encrypted',
       s.case_id, s.at - interval '15 minutes', s.at, CASE WHEN s.status = 'submitted' THEN s.at END
FROM (
    SELECT id, (%(forms)s::text[])[1 + id %% cardinality(%(forms)s::text[])] AS form_id, 'submitted' AS status,
           language, id AS case_id, t0 AS at
    FROM bench_case WHERE source = 'form'
    UNION ALL
    -- drafts nobody sent
    SELECT %(count)s + n, (%(forms)s::text[])[1 + n %% cardinality(%(forms)s::text[])], 'draft',
           (%(languages)s::text[])[1 + floor(random() * cardinality(%(languages)s::text[]))::int], NULL,
           %(start)s::timestamptz + (%(end)s::timestamptz - %(start)s::timestamptz) * random()
    FROM generate_series(1, %(count)s / 20) AS n
) AS s JOIN form_revision r ON r.form_id = s.form_id
"""),
    ("visits", """
INSERT INTO appointment (id, reference, token_hash, place_id, service_id, desk, starts_at, ends_at, status, language,
                         reminder_channel, reminder_attempts, source, created_at, updated_at, version)
SELECT n, 'KRK-W-' || lpad(n::text, 9, '0'), md5('v' || n) || md5('w' || n), split_part(pair, ' ', 1),
       split_part(pair, ' ', 2), 1 + (n %% 2), at, at + interval '30 minutes',
       CASE WHEN at >= %(end)s THEN 'booked'
            ELSE (%(visit_statuses)s::text[])[1 + floor(random() * cardinality(%(visit_statuses)s::text[]))::int] END,
       (%(languages)s::text[])[1 + floor(random() * cardinality(%(languages)s::text[]))::int], 'none', 0,
       (%(visit_sources)s::text[])[1 + floor(random() * cardinality(%(visit_sources)s::text[]))::int],
       at - interval '7 days', at, 1
FROM (
    SELECT n, pair,
           -- a local day (Sunday moved to Monday), 08:00-19:45 on the 15-minute grid, into UTC
           ((day + CASE WHEN extract(isodow FROM day) = 7 THEN 1 ELSE 0 END)::timestamp
            + interval '1 hour' * (8 + floor(random() * 12)) + interval '15 minutes' * floor(random() * 4))
           AT TIME ZONE 'Europe/Warsaw' AS at
    FROM (
        SELECT n, (%(pairs)s::text[])[1 + floor(random() * cardinality(%(pairs)s::text[]))::int] AS pair,
               -- the history's months and the month booked ahead
               (%(start)s::timestamptz AT TIME ZONE 'Europe/Warsaw')::date + floor(random() * 761)::int AS day
        FROM generate_series(1, %(visits)s) AS n
    ) AS d
) AS v
"""),
]

TABLES = [
    "report_case", "report_referral", "report_chat_day", "report_cursor", "channel_delivery", "conversation_message",
    "conversation", "form_submission", "form_revision", "appointment_hold", "appointment_event", "appointment",
    "webhook_delivery", "webhook_endpoint", "audit_entry", "case_event", "case_note", "referral", "consent",
    "case_file", "client", "case_counter", "user_session", "api_token", "user_account", "organisation",
]
SEQUENCES = [
    "client", "case_file", "case_event", "consent", "referral", "conversation", "conversation_message",
    "form_revision", "form_submission", "appointment",
]


def people(url: str) -> dict[str, Any]:
    """Create the office, the partners and their staff through the app's own functions; return their ids."""
    settings = get_settings()
    engine = build_engine(url)
    with session_factory(engine)() as db:
        office = auth_service.ensure_organisation(db=db, slug=settings.office_slug, name=settings.office_name, kind=OrgKind.office)
        auth_service.create_user(
            db=db, email=SUPERVISOR[0], display_name="Bench Supervisor", password=SUPERVISOR[1],
            role=Role.supervisor, organisation=office,
        )
        caseworkers = [
            auth_service.create_user(
                db=db, email=f"cw{i}@bench.example", display_name=f"Caseworker {i}", password=SUPERVISOR[1],
                role=Role.caseworker, organisation=office,
            )
            for i in range(12)
        ]
        partners, staff = [], []
        for slug in PARTNERS:
            org = auth_service.ensure_organisation(
                db=db, slug=slug, name=slug.replace("-", " ").title(), kind=OrgKind.partner, is_demo=True
            )
            partners.append(org)
            staff.append(
                auth_service.create_user(
                    db=db, email=f"staff@{slug}.bench.example", display_name=f"Staff {slug}", password=SUPERVISOR[1],
                    role=Role.partner_staff, organisation=org,
                )
            )
        db.commit()
        found = {
            "office": office.id, "caseworkers": [u.id for u in caseworkers], "partner_ids": [o.id for o in partners],
            "partner_slugs": [o.slug for o in partners], "partner_staff": [u.id for u in staff],
        }
    engine.dispose()
    return found


def fill(url: str, count: int, rebuild: bool) -> None:
    """Migrate the database and fill it with count cases unless it already holds exactly that many."""
    engine = build_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(connection=conn), "head")
    with engine.connect() as conn:
        have = conn.scalar(text("SELECT count(*) FROM case_file"))
    if have == count and not rebuild:
        print(f"database already holds {have:,} cases (--rebuild fills it again)")
        engine.dispose()
        return
    print(f"filling {count:,} cases (database held {have:,}) ...", flush=True)
    started = time.perf_counter()
    with engine.begin() as conn:
        # Row triggers (the append-only guard) do not fire on TRUNCATE.
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    ids = people(url)
    cat = catalogue(get_settings())
    found = content()
    params = {
        **ids, "count": count, "visits": count // 5, "start": START, "end": END,
        "languages": spread(LANGUAGES), "categories": spread(CATEGORIES), "sources": spread(SOURCES),
        "outcomes": spread(OUTCOMES), "decline_reasons": spread(DECLINE_REASONS), "channels": spread(CHANNELS),
        "visit_statuses": spread(VISIT_STATUSES), "visit_sources": spread(VISIT_SOURCES),
        "districts": found["districts"], "forms": found["forms"], "intents": found["intents"],
        "pairs": [f"{place.id} {service}" for place in cat.places.values() for service in place.services],
    }
    raw = engine.raw_connection()
    try:
        # Client-side binding: PostgreSQL takes no bind parameters in CREATE TABLE AS.
        cur = ClientCursor(raw.driver_connection)
        cur.execute("SET work_mem = '512MB'")
        cur.execute("SET maintenance_work_mem = '1GB'")
        # The rows are built consistent; skipping the foreign keys' row triggers makes the load several times faster.
        cur.execute("SET session_replication_role = replica")
        cur.execute("SELECT setseed(0.17)")  # the same history on every fill
        cur.execute("DROP TABLE IF EXISTS bench_case, bench_plan")
        for label, sql in [("plan", PLAN), ("final states", FINAL), *FILL]:
            step = time.perf_counter()
            cur.execute(sql, params)
            print(f"  {label:<24} {cur.rowcount:>12,} rows {time.perf_counter() - step:7.1f} s", flush=True)
        cur.execute("DROP TABLE bench_case, bench_plan")
        for table in SEQUENCES:
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        cur.execute("SET session_replication_role = DEFAULT")
        raw.commit()
    finally:
        raw.close()
    step = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    print(f"  {'vacuum analyze':<24} {'':>12}      {time.perf_counter() - step:7.1f} s")
    engine.dispose()
    print(f"filled in {time.perf_counter() - started:.0f} s", flush=True)


def sizes(url: str) -> None:
    """Print how many rows the tables the statistics read hold."""
    engine = build_engine(url)
    with engine.connect() as conn:
        counts = {
            table: conn.scalar(text(f"SELECT count(*) FROM {table}"))
            for table in ("case_file", "case_event", "referral", "conversation_message", "form_submission", "appointment")
        }
        size = conn.scalar(text("SELECT pg_size_pretty(pg_database_size(current_database()))"))
    engine.dispose()
    print(", ".join(f"{table} {n:,}" for table, n in counts.items()) + f"; {size} in all")


def timed(run: Any, runs: int, warm: int = 2) -> list[float]:
    """Return the milliseconds of runs calls of run() after warm calls."""
    for _ in range(warm):
        run()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def parts(factory: Any, settings: Any, filters: Any, runs: int) -> None:
    """Print p50 of each query of app/reports/stats.py the dashboard makes, for filters: where its time goes."""
    zone = settings.zone
    queries = {
        "new cases (months, categories, languages, sources)": lambda db: stats.opened_cube(db, filters),
        "first_responses": lambda db: stats.first_responses(db, filters),
        "closures": lambda db: stats.closures(db, filters),
        "outcomes": lambda db: stats.outcomes(db, filters),
        "referral_steps": lambda db: stats.referral_steps(db, filters),
        "referral_answers": lambda db: stats.referral_answers(db, filters),
        "chat": lambda db: stats.chat_unanswered(db, filters),
        "handovers": lambda db: stats.handovers(db, filters),
        "visits": lambda db: stats.visits(db, filters, zone),
    }
    found = []
    with factory() as db:
        for label, query in queries.items():
            samples = timed(lambda query=query: query(db), max(3, runs // 4), warm=1)
            found.append(f"{label} {statistics.median(samples):.0f}")
    print(f"  of which, city-wide {filters.start}..{filters.end} (p50 ms): " + ", ".join(found))


def measure(url: str, runs: int, skip_rebuild: bool) -> dict[str, float]:
    """Print the one-off and repeated timings; return the figures the summary compares with the aims."""
    settings = get_settings()
    engine = build_engine(url)
    factory = session_factory(engine)
    figures: dict[str, float] = {}
    with factory() as db:
        partner_id = db.scalar(text("SELECT id FROM organisation WHERE slug = :s"), {"s": PARTNERS[0]})
        if skip_rebuild:
            print(f"facts kept from an earlier run: {db.scalar(text('SELECT count(*) FROM report_case')):,} cases")
        else:
            started = time.perf_counter()
            result = facts.rebuild(db=db, settings=settings)
            db.commit()  # the caller commits (facts.py): the commit is part of the cost
            figures["rebuild"] = time.perf_counter() - started
            print(f"facts.rebuild (the whole history, one-off)   {figures['rebuild']:8.1f} s   {result}")
        started = time.perf_counter()
        result = facts.refresh(db=db, settings=settings)
        db.commit()
        figures["refresh"] = time.perf_counter() - started
        print(f"facts.refresh (nothing new since)            {figures['refresh']:8.1f} s   {result}")
    if not skip_rebuild:
        # Autovacuum analyzes the freshly written facts soon after a rebuild; until then the planner
        # believes them empty. The dashboard is timed in that steady state.
        started = time.perf_counter()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE report_case, report_referral, report_chat_day"))
        print(f"vacuum analyze of the facts                  {time.perf_counter() - started:8.1f} s")

    city, partner = stats.Scope(), stats.Scope(organisation_id=partner_id)
    cases = [
        ("one month", city, stats.Filters(PERIOD, PERIOD)),
        ("12 months", city, stats.Filters(*YEAR)),
        ("one month, legal_aid + uk", city, stats.Filters(PERIOD, PERIOD, category="legal_aid", language="uk")),
        (f"one month, partner {PARTNERS[0]}", partner, stats.Filters(PERIOD, PERIOD)),
        ("12 months, partner", partner, stats.Filters(*YEAR)),
    ]
    print(f"\n{'stats.dashboard':<44}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    worst = 0.0

    def cold(db: Any, scope: Any, filters: Any) -> Any:
        # Every month read from the facts, as after a restart: no settled month kept in memory.
        stats._SETTLED.clear()
        return stats.dashboard(db=db, settings=settings, scope=scope, filters=filters)

    for label, scope, filters in cases:
        with factory() as db:
            samples = timed(lambda: cold(db, scope, filters), runs)
            kept = timed(lambda: stats.dashboard(db=db, settings=settings, scope=scope, filters=filters), runs)
        worst = max(worst, percentile(samples, 0.95))
        print(f"{label:<44}{statistics.median(samples):>9.1f}{percentile(samples, 0.95):>9.1f}{max(samples):>9.1f}")
        print(f"{'  settled months kept in memory':<44}{statistics.median(kept):>9.1f}{percentile(kept, 0.95):>9.1f}{max(kept):>9.1f}")
    figures["dashboard_p95"] = worst
    parts(factory, settings, stats.Filters(*YEAR), runs)

    page = http_dashboard(runs)
    if page is not None:
        figures["page_p95"] = page

    with factory() as db:
        started = time.perf_counter()
        datasets = stats.release(db=db, settings=settings, period=PERIOD)
        queried = time.perf_counter() - started
        files = publish.files(datasets=datasets, period=PERIOD, settings=settings)
        figures["publication"] = time.perf_counter() - started
    rows = sum(len(d.rows) for d in datasets)
    print(
        f"\npublication of {PERIOD}: stats.release {queried:.2f} s ({len(datasets)} data sets, {rows:,} rows)"
        f" + publish.files {figures['publication'] - queried:.2f} s ({len(files)} files,"
        f" {sum(len(b) for b in files.values()) / 1024:.0f} KiB) = {figures['publication']:.2f} s"
    )
    engine.dispose()
    return figures


def http_dashboard(runs: int) -> float | None:
    """Print p50/p95 of the dashboard page over HTTP for a signed-in supervisor; return p95 (None: no page)."""
    from fastapi.testclient import TestClient
    from starlette.routing import NoMatchFound

    from app.main import create_app

    app = create_app()
    try:
        path = "/en" + app.url_path_for("staff_reports")  # app/reports/routes.py: the staff dashboard
    except NoMatchFound:
        print("\ndashboard page over HTTP: the app has no route named staff_reports (skipped)")
        return None
    worst = 0.0
    with TestClient(app) as client:
        form = client.get("/en/staff/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        client.post(
            "/en/staff/login",
            data={"email": SUPERVISOR[0], "password": SUPERVISOR[1], "csrf_token": token.group(1) if token else ""},
            follow_redirects=False,
        )
        for label, query in [("one month", {"from": PERIOD, "to": PERIOD}), ("12 months", {"from": YEAR[0], "to": YEAR[1]})]:
            first = client.get(path, params=query, follow_redirects=False)
            if first.status_code != 200:
                print(f"\ndashboard page over HTTP: GET {path} answered {first.status_code} (skipped)")
                return None
            samples = timed(lambda query=query: client.get(path, params=query, follow_redirects=False), runs)
            worst = max(worst, percentile(samples, 0.95))
            print(
                f"{'page GET ' + path + ', ' + label:<44}{statistics.median(samples):>9.1f}"
                f"{percentile(samples, 0.95):>9.1f}{max(samples):>9.1f}"
            )
    return worst


def summary(figures: dict[str, float]) -> None:
    """Print the figures against the aims of issue 17."""
    print("\nsummary (aims of issue 17)")
    aims = [
        ("dashboard figures, worst p95", figures.get("dashboard_p95"), 300, "ms"),
        ("dashboard page over HTTP, worst p95", figures.get("page_p95"), 300, "ms"),
        ("a month's publication", figures.get("publication"), 10, "s"),
    ]
    for label, value, aim, unit in aims:
        if value is None:
            print(f"  {label:<34} not measured")
        else:
            verdict = "within" if value < aim else "OVER"
            print(f"  {label:<34} {value:9.1f} {unit:<3} aim < {aim} {unit}: {verdict}")
    if "rebuild" in figures:
        print(f"  {'facts.rebuild (no aim)':<34} {figures['rebuild']:9.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--rebuild", action="store_true", help="fill the database again")
    parser.add_argument("--skip-rebuild", action="store_true", help="reuse the facts an earlier run folded")
    args = parser.parse_args()
    ensure_database(URL)
    print(f"database {make_url(URL).render_as_string(hide_password=True)}")
    fill(URL, args.cases, args.rebuild)
    sizes(URL)
    summary(measure(URL, args.runs, args.skip_rebuild))


if __name__ == "__main__":
    main()

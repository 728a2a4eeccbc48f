"""Statistics from a known case history: every figure compared with numbers worked out by hand.

The office is open 08:00-16:00 Warsaw time (07:00-15:00 UTC in November), Monday to Friday.
"""

from __future__ import annotations

from app.reports import facts, stats
from app.reports.models import ReportCase, ReportReferral
from tests.reports.conftest import at, move

NOVEMBER = stats.Filters("2026-11", "2026-11")


def test_new_cases_are_counted_by_the_month_they_were_opened_in(db, history):
    assert stats.opened(db, NOVEMBER, "category") == [("2026-11", "legal_aid", 2), ("2026-11", "work_permit", 1)]
    assert stats.opened(db, NOVEMBER, "language") == [("2026-11", "ru", 1), ("2026-11", "uk", 2)]
    assert stats.opened(db, NOVEMBER, "district") == [("2026-11", "Nowa Huta", 2), ("2026-11", "unknown", 1)]
    assert stats.opened(db, NOVEMBER, "source") == [("2026-11", "staff", 3)]
    october = stats.Filters("2026-10", "2026-10")
    assert stats.opened(db, october, "category") == [("2026-10", "housing", 1)]


def test_times_to_first_answer_and_to_closure_are_office_hours_against_the_deadlines(db, history):
    responses = stats.first_responses(db, NOVEMBER)
    legal = responses[("2026-11", "legal_aid")]
    assert (legal.count, legal.within, legal.limit) == (2, 2, 8.0)
    assert (legal.percentile(0.5), legal.percentile(0.9)) == (1.0, 2.5)  # 0.5 h and 2 h, to the half hour
    assert responses[("2026-11", "work_permit")].percentile(0.5) == 3.5
    assert responses[("2026-11", "housing")].percentile(0.5) == 3.5  # 1 h on Friday + 2 h on Monday
    closed = stats.closures(db, NOVEMBER)
    assert closed[("2026-11", "legal_aid")].buckets == {22: 1}  # 11 office hours
    assert closed[("2026-11", "legal_aid")].within_percent == 100.0
    assert closed[("2026-11", "work_permit")].buckets == {0: 1}
    assert stats.outcomes(db, NOVEMBER) == [("2026-11", "duplicate", 1), ("2026-11", "helped", 1)]


def test_referrals_count_each_step_with_the_reason_for_declining(db, world, history):
    a = world.partner_a.id
    assert stats.referral_steps(db, NOVEMBER) == [
        ("2026-11", a, "referred", "", 2),
        ("2026-11", a, "accepted", "", 1),
        ("2026-11", a, "declined", "no_capacity", 1),
        ("2026-11", a, "completed", "", 1),
    ]
    answers = stats.referral_answers(db, NOVEMBER)[("2026-11", str(a))]
    assert (answers.count, answers.within, sorted(answers.buckets)) == (2, 2, [2, 6])  # 1 h and 3 h


def test_handovers_are_counted_from_the_history(db, settings, history):
    assert stats.handovers(db, NOVEMBER) == [("2026-11", "ru", 1)]
    assert stats.handovers(db, stats.Filters("2026-11", "2026-11", category="work_permit")) == [("2026-11", "ru", 1)]
    assert stats.handovers(db, stats.Filters("2026-11", "2026-11", language="uk")) == []


def test_a_partner_sees_only_the_figures_of_its_own_referrals(db, world, history):
    mine = stats.Scope(world.partner_a.id).narrow(NOVEMBER)
    assert stats.opened(db, mine, "category") == [("2026-11", "legal_aid", 2)]
    theirs = stats.Scope(world.partner_b.id).narrow(NOVEMBER)
    assert stats.opened(db, theirs, "category") == [] and stats.referral_steps(db, theirs) == []


def test_the_facts_rebuilt_from_the_history_alone_are_the_same(db, settings, history):
    def snapshot():
        cases = [tuple(getattr(r, c.key) for c in ReportCase.__table__.columns) for r in db.query(ReportCase).order_by(ReportCase.case_id)]
        referrals = [tuple(getattr(r, c.key) for c in ReportReferral.__table__.columns) for r in db.query(ReportReferral).order_by(ReportReferral.referral_id)]
        return cases, referrals

    before = snapshot()
    assert len(before[0]) == 4 and len(before[1]) == 2
    facts.rebuild(db=db, settings=settings, now=at(6, 13))
    db.expire_all()
    assert snapshot() == before
    # A refresh with nothing new folds only the cases of the last few events again, and changes nothing.
    facts.refresh(db=db, settings=settings, now=at(6, 14))
    db.expire_all()
    assert snapshot() == before


def test_chat_questions_forms_and_visits_are_counted_by_month(db, settings):
    from app.appointments.models import Appointment
    from app.assistant.models import Conversation, ConversationMessage
    from app.forms.models import FormRevision, FormSubmission

    chat = Conversation(channel="web", sender_id="s-1", language="uk")
    db.add(chat)
    db.flush()
    for i, (intent, day) in enumerate([("work_permit", 2), ("work_permit", 3), ("nlu_fallback", 3), ("greet", 30)]):
        # The last one is sent at 23:30 UTC on 30 November: already 1 December in Kraków.
        when = at(day, 23, 30) if day == 30 else at(day, 10)
        db.add(ConversationMessage(conversation_id=chat.id, author="user", text=f"q{i}", language="uk", data={"intent": intent}, created_at=when))
    db.add(ConversationMessage(conversation_id=chat.id, author="bot", text="a", language="uk", data={}, created_at=at(3, 10)))
    revision = FormRevision(form_id="biblioteka-karta", version=1, digest="d" * 64, definition={})
    db.add(revision)
    db.flush()
    for i, (language, status, day) in enumerate([("uk", "submitted", 4), ("uk", "submitted", 5), ("ar", "submitted", 6), ("ar", "draft", 6)]):
        db.add(FormSubmission(
            form_id="biblioteka-karta", revision_id=revision.id, token_hash=f"{i}" * 64, status=status, language=language,
            answers_encrypted="x", submitted_at=at(day, 9) if status == "submitted" else None,
        ))
    # Thursday 5 November 17:00 Warsaw (an evening), Saturday 7 November 10:00 (a morning), one cancelled.
    for i, (starts, status) in enumerate([(at(5, 16), "checked_in"), (at(7, 9), "no_show"), (at(7, 9), "cancelled")]):
        db.add(Appointment(
            reference=f"W-{i}", token_hash=f"t{i}" * 32, place_id="kiosk-bonarka", service_id="library-card", desk=1,
            starts_at=starts, ends_at=starts, status=status, language="uk", source="web",
        ))
    db.flush()
    facts.refresh(db=db, settings=settings, now=at(6, 12))
    zone = stats.month_span("2026-11", stats.ZoneInfo("Europe/Warsaw"))[0].tzinfo
    assert stats.chat(db, NOVEMBER) == [("2026-11", "uk", "nlu_fallback", 1), ("2026-11", "uk", "work_permit", 2)]
    assert stats.chat(db, stats.Filters("2026-12", "2026-12")) == [("2026-12", "uk", "greet", 1)]
    assert stats.forms(db, NOVEMBER, zone) == [("2026-11", "biblioteka-karta", "ar", 1), ("2026-11", "biblioteka-karta", "uk", 2)]
    assert stats.visits(db, NOVEMBER, zone) == [
        ("2026-11", "kiosk-bonarka", "saturday", "morning", 1, 0),
        ("2026-11", "kiosk-bonarka", "weekday", "evening", 1, 1),
    ]
    # The counts of a day stay when its conversation is erased later.
    db.delete(chat)
    db.flush()
    facts.refresh(db=db, settings=settings, now=at(12, 12))
    assert stats.chat(db, NOVEMBER) == [("2026-11", "uk", "nlu_fallback", 1), ("2026-11", "uk", "work_permit", 2)]


def test_a_jobs_round_leaves_a_large_backlog_to_a_rebuild(db, settings, open_case, history):
    open_case(category="housing", language="ka", now=at(9, 9))
    waiting = facts.refresh(db=db, settings=settings, now=at(9, 10), limit=2)
    assert waiting["cases"] == 0 and waiting["waiting"] == 5
    assert stats.opened(db, stats.Filters("2026-11", "2026-11", language="ka"), "language") == []
    assert facts.refresh(db=db, settings=settings, now=at(9, 11))["cases"] == 5
    assert stats.opened(db, stats.Filters("2026-11", "2026-11", language="ka"), "language") == [("2026-11", "ka", 1)]


def test_a_settled_month_is_read_once_until_the_facts_are_rebuilt(db, settings, open_case, history):
    city = stats.Scope()
    settled, fresh = at(10, 9, month=12), at(1, 9, month=12)  # two days after November, and on 1 December

    def categories(now):
        return stats.dashboard(db=db, settings=settings, scope=city, filters=NOVEMBER, now=now).by_category

    assert categories(settled) == [("legal_aid", 2), ("work_permit", 1)]
    # A case dated in November after the month settled (only a test can do that) is not read again...
    open_case(category="housing", language="ka", now=at(20, 9))
    facts.refresh(db=db, settings=settings, now=at(10, 10, month=12))
    assert categories(settled) == [("legal_aid", 2), ("work_permit", 1)]
    # ...while a month that has not settled is read every time, and a rebuild starts a new generation.
    assert ("housing", 1) in categories(fresh)
    facts.rebuild(db=db, settings=settings, now=at(10, 11, month=12))
    assert categories(settled) == [("legal_aid", 2), ("housing", 1), ("work_permit", 1)]


def test_closures_by_category_hide_what_the_outcomes_must_hide(db, settings, world, open_case):
    # Six legal-aid cases closed in November: five as duplicates, one as out of scope. Alone, "6" by
    # category looks harmless; but beside "c" and "<5" by outcome it would give the one away.
    for i in range(6):
        case, _ = open_case(category="legal_aid", now=at(2, 8 + i))
        outcome = "duplicate" if i < 5 else "out_of_scope"
        move(db, settings, world, case, "dismiss", at(3, 8 + i), outcome=outcome, reason="Closed")
    facts.refresh(db=db, settings=settings, now=at(6, 12))
    datasets = {d.name: d for d in stats.release(db=db, settings=settings, period="2026-11")}
    closed = [r for r in datasets["response-times"].records() if r["stage"] == "closure"]
    assert [(r["category"], r["cases"], r["median_hours"]) for r in closed] == [("legal_aid", "c", None)]
    assert {r["outcome"]: r["cases"] for r in datasets["case-outcomes"].records()} == {"duplicate": "c", "out_of_scope": "<5"}

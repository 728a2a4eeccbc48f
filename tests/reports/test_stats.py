"""Statistics from a known case history: every figure compared with numbers worked out by hand.

The office is open 08:00-16:00 Warsaw time (07:00-15:00 UTC in November), Monday to Friday.
"""

from __future__ import annotations

from app.reports import facts, stats
from app.reports.models import ReportCase, ReportReferral
from tests.reports.conftest import at

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
    zone = stats.month_span("2026-11", stats.ZoneInfo("Europe/Warsaw"))[0].tzinfo
    assert stats.handovers(db, NOVEMBER, zone) == [("2026-11", "ru", 1)]


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

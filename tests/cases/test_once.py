"""A case's secret, sealed for the one page that shows it, is not kept past its lifetime."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.cases import once
from app.cases.models import CaseFile


def test_a_seal_nobody_came_back_for_is_emptied_by_the_jobs(db, open_case):
    case, secret = open_case()
    once.attach(db=db, case=case, key=once.new_key(), secret=secret)
    db.flush()
    sealed = select(CaseFile.secret_sealed).where(CaseFile.id == case.id)
    assert once.forget_unclaimed(db=db, now=case.created_at + once.LIFETIME - timedelta(minutes=1)) == 0
    assert db.scalar(sealed) is not None  # still within its lifetime: the page may yet be opened
    assert once.forget_unclaimed(db=db, now=case.created_at + once.LIFETIME + timedelta(minutes=1)) == 1
    assert db.scalar(sealed) is None

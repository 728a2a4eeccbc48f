"""Two people changing one case at once: no update is lost, nothing is silently overwritten."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from app.auth import service as auth_service
from app.auth.enums import OrgKind, Role
from app.cases import flows
from app.cases.enums import Visibility
from app.cases.events import Actor
from app.cases.exceptions import StaleCase
from app.cases.models import CaseEvent, CaseFile, CaseNote
from app.cases.schemas import CaseIn, ClientIn
from app.db import session_factory


@pytest.fixture
def shared(fresh_engine, settings):
    """Return (session factory, case id, two actors) on a database with real commits."""
    factory = session_factory(fresh_engine, write=True)
    with factory() as db:
        office = auth_service.ensure_organisation(db=db, slug=settings.office_slug, name="GUP", kind=OrgKind.office)
        users = [
            auth_service.create_user(
                db=db, email=f"w{i}@example.org", display_name=f"Writer {i}", password="long enough password", role=Role.supervisor, organisation=office
            )
            for i in (1, 2)
        ]
        db.commit()
        actors = [Actor.of(auth_service.principal_of(u)) for u in users]
        case, _ = flows.open_case(
            db=db,
            settings=settings,
            client=ClientIn(display_name="Ivan", preferred_language="ru"),
            case=CaseIn(category="job_search", subject="Szukam pracy"),
            actor=actors[0],
        )
        return factory, case.id, actors


def test_second_writer_with_a_stale_form_is_refused_then_succeeds(shared, settings):
    factory, case_id, (first, second) = shared
    with factory() as db_b:  # B opens the case page
        seen = db_b.get(CaseFile, case_id).version
    with factory() as db_a:  # A changes the case meanwhile
        case_a = db_a.get(CaseFile, case_id)
        flows.update_fields(db=db_a, settings=settings, case=case_a, actor=first, expected_version=case_a.version, priority="urgent")
    with factory() as db_b:  # B sends the form it loaded before: refused, A's change named
        case_b = db_b.get(CaseFile, case_id)
        with pytest.raises(StaleCase) as caught:
            flows.update_fields(db=db_b, settings=settings, case=case_b, actor=second, expected_version=seen, tags=["rodzina"])
        assert caught.value.changes[-1]["after"] == {"priority": "urgent"}
    with factory() as db:  # B reloads and sends again: both changes are kept
        fresh = db.get(CaseFile, case_id)
        flows.update_fields(db=db, settings=settings, case=fresh, actor=second, expected_version=fresh.version, tags=["rodzina"])
    with factory() as db:
        final = db.get(CaseFile, case_id)
        assert final.priority == "urgent" and final.tags == ["rodzina"]


def test_a_stale_object_is_refused_by_the_database(shared, settings):
    """Without a version in the request the version column still refuses a lost update."""
    factory, case_id, (first, second) = shared
    with factory() as db:
        stale = db.get(CaseFile, case_id)
        db.commit()  # the object stays in memory, its transaction is over
        with factory() as other:  # someone else's change, committed behind this object's back
            other.execute(CaseFile.__table__.update().where(CaseFile.id == case_id).values(version=CaseFile.version + 1, priority="high"))
            other.commit()
        with pytest.raises(StaleCase):
            flows.update_fields(db=db, settings=settings, case=stale, actor=second, expected_version=None, tags=["x"])
    with factory() as db:
        case = db.get(CaseFile, case_id)
        assert case.priority == "high" and case.tags == []


def test_racing_writers_exactly_one_wins(shared, settings):
    factory, case_id, actors = shared
    with factory() as db:
        start_version = db.get(CaseFile, case_id).version
    barrier = threading.Barrier(2)
    results: list[str] = []

    def write(actor, priority: str) -> None:
        barrier.wait()
        with factory() as db:
            case = db.get(CaseFile, case_id)
            try:
                flows.update_fields(
                    db=db, settings=settings, case=case, actor=actor, expected_version=start_version, priority=priority
                )
                results.append(f"ok:{priority}")
            except StaleCase:
                results.append("stale")

    threads = [threading.Thread(target=write, args=(a, p)) for a, p in zip(actors, ("high", "low"), strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(r.split(":")[0] for r in results) == ["ok", "stale"]
    with factory() as db:
        case = db.get(CaseFile, case_id)
        winner = next(r.split(":")[1] for r in results if r.startswith("ok"))
        assert case.priority == winner and case.version == start_version + 1
        updates = db.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == "updated")).all()
        assert len(updates) == 1


def test_concurrent_notes_are_all_kept(shared, settings):
    factory, case_id, actors = shared
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def write(actor, text: str) -> None:
        try:
            barrier.wait()
            with factory() as db:
                case = db.get(CaseFile, case_id)
                flows.add_note(db=db, settings=settings, case=case, body=text, visibility=Visibility.internal, actor=actor)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(a, f"note {i}")) for i, a in enumerate(actors)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    with factory() as db:
        assert sorted(db.scalars(select(CaseNote.body).where(CaseNote.case_id == case_id)).all()) == ["note 0", "note 1"]


def test_an_audited_read_never_fails_because_another_writer_committed_meanwhile(shared, settings, fresh_engine):
    """On SQLite a transaction that began as a read cannot take the write lock once another writer
    committed after its first read ("database is locked"): the case page, which reads the case and
    then records the read, took 46 of 79 page views down under chat load. It reads in a write session."""
    from fastapi.testclient import TestClient
    from sqlalchemy import event, text

    from app.main import create_app
    from tests.conftest import csrf_from, writes_within

    _factory, case_id, _actors = shared
    with session_factory(fresh_engine)() as db:
        reference = db.get(CaseFile, case_id).reference
    competed: list[bool] = []

    def another_writer_commits(_conn, _cursor, statement, *_args) -> None:
        if competing and not competed and statement.lstrip().upper().startswith("SELECT") and "FROM case_file" in statement:
            # A real change (SQLite skips an UPDATE that writes the same bytes).
            competed.append(writes_within(fresh_engine, "INSERT INTO case_counter (year, last) VALUES (1999, 0)", 0.5))

    app = create_app(settings, fresh_engine, check_db=False)
    with TestClient(app, base_url="http://testserver") as client:
        page = client.get("/en/staff/login")
        client.post(
            "/en/staff/login",
            data={"email": "w1@example.org", "password": "long enough password", "csrf_token": csrf_from(page.text)},
        )
        competing = True
        event.listen(fresh_engine, "after_cursor_execute", another_writer_commits)
        try:
            viewed = client.get(f"/en/staff/cases/{reference}")
        finally:
            event.remove(fresh_engine, "after_cursor_execute", another_writer_commits)
    assert competed  # another writer did try to write right after the page's first read of the case
    assert viewed.status_code == 200
    with session_factory(fresh_engine)() as db:
        audited = db.execute(text("SELECT count(*) FROM audit_entry WHERE action = 'view_case'")).scalar()
    assert audited == 1


def test_two_jobs_runners_never_fire_one_timer_twice(shared, settings):
    """Every worker runs the jobs loop: two runners that find the same case due both try, one wins,
    the other's write is refused by the case's version and it moves on."""
    from datetime import timedelta

    from app.cases.schemas import TransitionIn
    from app.db import utcnow

    factory, case_id, (first, _second) = shared
    resolved_at = utcnow() - timedelta(days=30)
    with factory() as db:
        case = db.get(CaseFile, case_id)
        for name, fields in (("triage", {}), ("resolve", {"outcome": "helped"})):
            request = TransitionIn(name=name, **fields)
            flows.transition(db=db, settings=settings, case=case, request=request, actor=first, now=resolved_at)
    together = threading.Barrier(2, timeout=30)
    fired: list[list[tuple[str, str]]] = []

    def runner() -> None:
        together.wait()
        with factory() as db:
            fired.append(flows.run_timers(db=db, settings=settings))

    threads = [threading.Thread(target=runner) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(len(f) for f in fired) == [0, 1]
    with factory() as db:
        closes = db.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.name == "auto_close")).all()
        assert len(closes) == 1 and db.get(CaseFile, case_id).status == "closed"


@pytest.mark.parametrize("who", ["staff page", "API token"])
def test_a_sessions_last_use_is_written_even_when_another_writer_committed_meanwhile(shared, settings, fresh_engine, who):
    """Once a minute a request writes its session's (or API token's) last use after reading it: on
    SQLite that write, inside the read, failed with "database is locked" under chat load."""
    from datetime import timedelta

    import time_machine
    from fastapi.testclient import TestClient
    from sqlalchemy import event

    from app.auth.models import Organisation
    from app.db import utcnow
    from app.main import create_app
    from tests.conftest import csrf_from, writes_within

    factory, _case_id, _actors = shared
    with factory() as db:
        office = db.scalar(select(Organisation))
        _token, value = auth_service.create_api_token(db=db, organisation=office, name="CRM")
        db.commit()
    table = "user_session" if who == "staff page" else "api_token"
    competed: list[bool] = []

    def another_writer_commits(_conn, _cursor, statement, *_args) -> None:
        if not competed and statement.lstrip().upper().startswith("SELECT") and f"FROM {table}" in statement:
            competed.append(writes_within(fresh_engine, "INSERT INTO case_counter (year, last) VALUES (1998, 0)", 0.5))

    app = create_app(settings, fresh_engine, check_db=False)
    with TestClient(app, base_url="http://testserver") as client:
        page = client.get("/en/staff/login")
        client.post(
            "/en/staff/login",
            data={"email": "w1@example.org", "password": "long enough password", "csrf_token": csrf_from(page.text)},
        )
        with time_machine.travel(utcnow() + timedelta(minutes=2)):  # the last use is due to be written
            event.listen(fresh_engine, "after_cursor_execute", another_writer_commits)
            try:
                if who == "staff page":
                    answer = client.get("/en/staff/")
                else:
                    answer = client.get("/api/v1/cases", headers={"Authorization": f"Bearer {value}"})
            finally:
                event.remove(fresh_engine, "after_cursor_execute", another_writer_commits)
    assert competed == [True] and answer.status_code == 200

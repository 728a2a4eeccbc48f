"""Migrations from empty, and database behaviour that must be the same on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import event, func, inspect, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from app import integrity, migrations
from app.assistant.models import Conversation
from app.auth.models import User
from app.cases import once
from app.cases.models import CaseFile
from app.db import Base, build_engine, session_factory
from app.demo import load_demo
from app.main import create_app
from app.migrations import alembic_config
from app.migrations_check import current_revision, pending_migrations
from tests.conftest import csrf_from, empty_database, writes_within


def test_migrations_from_empty_to_head_and_back(backend):
    with empty_database(backend) as engine:
        assert current_revision(engine) is None
        assert pending_migrations(engine)
        with engine.begin() as conn:
            command.upgrade(alembic_config(connection=conn), "head")
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        assert pending_migrations(engine) == []
        with engine.begin() as conn:
            command.downgrade(alembic_config(connection=conn), "base")
        assert set(inspect(engine).get_table_names()) & set(Base.metadata.tables) == set()


def test_migrations_down_and_up_keep_a_database_with_data(fresh_engine, settings):
    """A city's database has rows that point at each other: a migration that rebuilds a table (as
    Alembic does on SQLite) must neither fail on them nor lose one, in either direction."""


    factory = session_factory(fresh_engine, write=True)
    with factory() as db:
        load_demo(db=db, settings=settings)
        db.commit()
        before = (db.scalar(select(func.count()).select_from(User)), db.scalar(select(func.count()).select_from(CaseFile)))
        # 0008: a case opened by a form keeps its form's key and its sealed secret (case_file rebuilt
        # on SQLite when going down, with these columns filled).
        first, second = db.scalars(select(CaseFile).order_by(CaseFile.id).limit(2)).all()
        key = once.new_key()
        once.attach(db=db, case=first, key=key, secret="7K3M-Q9XD-2WRT-H5NP")
        db.commit()
    migrations.downgrade(fresh_engine, "0005")
    assert "idempotency_key_hash" not in {c["name"] for c in inspect(fresh_engine).get_columns("case_file")}
    migrations.upgrade(fresh_engine)
    with factory() as db:
        after = (db.scalar(select(func.count()).select_from(User)), db.scalar(select(func.count()).select_from(CaseFile)))
        assert after == before and before[1] > 0
        assert integrity.check(db=db) == []
        # The key is unique again after the way down and up: a second case cannot take it.
        once.attach(db=db, case=db.get(CaseFile, first.id), key=key, secret="7K3M-Q9XD-2WRT-H5NP")
        with pytest.raises(IntegrityError):
            once.attach(db=db, case=db.get(CaseFile, second.id), key=key, secret="7K3M-Q9XD-2WRT-H5NP")
        db.rollback()


def test_models_match_the_migrations(engine):
    """Autogenerate finds nothing to add: the migrations describe exactly the models."""
    with engine.connect() as conn:
        from app.migrations import include_object

        context = MigrationContext.configure(conn, opts={"compare_type": False, "include_object": include_object})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    engine = build_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_foreign_keys_are_enforced(db, make_org):


    db.add(User(email="ghost@example.org", display_name="G", password_hash="x", role="caseworker", organisation_id=999999))
    with pytest.raises(IntegrityError):
        db.flush()
    db.rollback()


def _writer_engine(tmp_path):

    engine = build_engine(f"sqlite:///{tmp_path / 'queue.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    return engine


def _watch_writer_queue(engine):
    """Return an event set when a writer of engine finds the process's write lock taken and queues
    for it (app.db's writer queue, in front of SQLite's own lock and its busy handler)."""
    (queue,) = {listener.__self__ for listener in engine.dispatch.begin if hasattr(listener, "__self__")}
    lock, queued = queue.lock, threading.Event()

    class WatchedLock:
        def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
            if lock.acquire(blocking=False):
                return True
            queued.set()
            return lock.acquire(blocking, timeout)

        def release(self) -> None:
            lock.release()

    queue.lock = WatchedLock()
    return queued


def test_sqlite_writers_queue_in_process_and_start_as_soon_as_the_lock_is_free(tmp_path):
    """A second writer queues in the process, where the first writer's commit hands it the lock, not in
    SQLite's busy handler (which sleeps in steps of up to 100 ms); bench/db.py measures the gap."""



    engine = _writer_engine(tmp_path)
    # No busy handler: a writer that ever found SQLite's lock taken would fail at once, not sleep.
    engine.dispose()
    event.listen(engine, "connect", lambda connection, _record: connection.execute("PRAGMA busy_timeout=0"))
    write = session_factory(engine, write=True)
    queued = _watch_writer_queue(engine)

    def second(seen: list[int]) -> None:
        with write() as db:
            # Its first statement begins the transaction: it waits for the first writer.
            seen.append(db.execute(text("SELECT count(*) FROM t")).scalar_one())
            db.execute(text("INSERT INTO t VALUES (2)"))
            db.commit()

    for round_ in range(3):
        queued.clear()
        seen: list[int] = []
        with write() as db:
            db.execute(text("INSERT INTO t VALUES (1)"))
            waiter = threading.Thread(target=second, args=(seen,))
            waiter.start()
            assert queued.wait(timeout=10), round_  # it found the lock taken and queued for it
            assert seen == []  # one writer at a time
            db.commit()
        waiter.join(timeout=10)
        assert not waiter.is_alive(), round_
        assert seen == [2 * round_ + 1], round_  # it began after the commit, and sees its row
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM t ORDER BY n")).scalars().all() == [1, 1, 1, 2, 2, 2]
    engine.dispose()


def test_sqlite_write_lock_is_freed_by_rollback_close_and_a_failed_statement(tmp_path):


    engine = _writer_engine(tmp_path)
    write = session_factory(engine, write=True)

    def can_write_now() -> bool:
        return writes_within(engine, "INSERT INTO t VALUES (9)", 1.0)

    with write() as db:
        db.execute(text("INSERT INTO t VALUES (1)"))
        db.rollback()
    assert can_write_now()
    with write() as db:  # closed without commit: returned to the pool and rolled back
        db.execute(text("INSERT INTO t VALUES (1)"))
    assert can_write_now()
    with write() as db:
        try:
            db.execute(text("INSERT INTO missing VALUES (1)"))
        except OperationalError:
            db.rollback()
    assert can_write_now()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t WHERE n = 1")).scalar() == 0


def test_request_sessions_end_their_transactions_and_free_the_write_lock(tmp_path, settings):
    """The app's own session dependency (no test override): a request that leaves its write
    transaction open (a refused chat message reads the conversation, then answers 422) still ends
    it, so the next writer is not kept waiting for SQLite's lock."""


    engine = build_engine(f"sqlite:///{tmp_path / 'app.db'}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(connection=conn), "head")
    app = create_app(settings, engine, check_db=False)
    with TestClient(app, base_url="http://testserver") as client:
        token = csrf_from(client.get("/en/chat").text)
        assert client.post("/en/chat", data={"csrf_token": token, "message": "hello"}, follow_redirects=False).status_code == 303
        refused = client.post("/en/chat", data={"csrf_token": token, "message": "  "})
        assert refused.status_code == 422
        assert client.post("/webhooks/rest/webhook", json={"sender": "s1", "message": "hi"}).status_code == 200

    # With a leaked transaction the writer would wait SQLite's 5 s and fail.
    assert writes_within(engine, "UPDATE conversation SET mode = mode", 1.0)
    with session_factory(engine)() as db:
        assert sorted(db.scalars(select(Conversation.channel)).all()) == ["rest", "web"]

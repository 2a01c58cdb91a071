"""portal.db's time limits and its one test for "the database gave up waiting" (`is_busy`), on real
errors from both databases."""

from __future__ import annotations

import sqlite3

import psycopg.errors
import pytest
from sqlalchemy import exc, text

import portal.db
from portal.db import Timeouts, is_busy, make_engine


@pytest.fixture
def sqlite_file(tmp_path):
    path = tmp_path / "busy.db"
    sqlite3.connect(path).close()
    return path


def test_sqlite_database_is_locked_is_busy(sqlite_file, monkeypatch):
    monkeypatch.setattr(portal.db, "SQLITE_BUSY_SECONDS", 0.05)
    engine = make_engine(f"sqlite:///{sqlite_file}")
    writer = sqlite3.connect(sqlite_file, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        with pytest.raises(exc.OperationalError) as raised, engine.begin() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        writer.close()
        engine.dispose()
    assert "database is locked" in str(raised.value)
    assert is_busy(raised.value) and is_busy(raised.value.orig)


def test_other_database_errors_are_not_busy(sqlite_file):
    engine = make_engine(f"sqlite:///{sqlite_file}")
    try:
        with pytest.raises(exc.OperationalError) as raised, engine.begin() as connection:
            connection.execute(text("SELECT * FROM no_such_table"))
    finally:
        engine.dispose()
    assert not is_busy(raised.value)
    assert not is_busy(ValueError("database is locked"))
    unique = psycopg.errors.lookup("23505")("duplicate key")
    assert not is_busy(exc.IntegrityError("INSERT", {}, unique))


@pytest.mark.parametrize("sqlstate", ["55P03", "57014", "25P03", "40P01", "40001"])
def test_postgresql_lock_statement_and_idle_timeouts_deadlocks_and_serialization_failures_are_busy(sqlstate):
    error = psycopg.errors.lookup(sqlstate)("gave up")
    assert is_busy(exc.OperationalError("SELECT", {}, error))


def pg_engine(database_url, **limits):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's limits")
    return make_engine(database_url, timeouts=Timeouts(**limits))


@pytest.mark.postgres
def test_postgresql_connections_get_the_limits_for_their_whole_life(db_engine, database_url):
    engine = pg_engine(database_url, lock_ms=250, statement_ms=1500, idle_in_transaction_ms=60_000)
    try:
        with engine.connect() as connection:
            connection.rollback()  # the pool's rollback must not undo them
            settings = connection.execute(
                text(
                    "SELECT current_setting('lock_timeout'), current_setting('statement_timeout'), "
                    "current_setting('idle_in_transaction_session_timeout')"
                )
            ).one()
        assert tuple(settings) == ("250ms", "1500ms", "1min")
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_real_lock_and_statement_timeouts_are_busy(db_engine, database_url):
    engine = pg_engine(database_url, lock_ms=100, statement_ms=300)
    try:
        with db_engine.connect() as holder:
            holder.execute(text("LOCK TABLE regions IN ACCESS EXCLUSIVE MODE"))
            with pytest.raises(exc.OperationalError) as lock_wait, engine.connect() as connection:
                connection.execute(text("SELECT count(*) FROM regions"))
            holder.rollback()
        with pytest.raises(exc.OperationalError) as long_statement, engine.connect() as connection:
            connection.execute(text("SELECT pg_sleep(5)"))
    finally:
        engine.dispose()
    assert lock_wait.value.orig.sqlstate == "55P03" and is_busy(lock_wait.value)
    assert long_statement.value.orig.sqlstate == "57014" and is_busy(long_statement.value)


@pytest.mark.postgres
def test_set_local_timeouts_lasts_one_transaction(db_engine, database_url):
    from portal.db import make_sessionmaker, set_local_timeouts

    engine = pg_engine(database_url, lock_ms=250, statement_ms=1500, idle_in_transaction_ms=60_000)
    session = make_sessionmaker(engine)()
    try:
        set_local_timeouts(session, Timeouts(lock_ms=250))
        assert session.execute(text("SHOW statement_timeout")).scalar() == "0"
        assert session.execute(text("SHOW idle_in_transaction_session_timeout")).scalar() == "0"
        session.rollback()
        assert session.execute(text("SHOW statement_timeout")).scalar() == "1500ms"
    finally:
        session.close()
        engine.dispose()


def test_a_failed_statements_error_never_carries_its_values(sqlite_file):
    """The error (and so any log line of it) must not show what was sent: a message body with a
    one-time code, a hash."""
    engine = make_engine(f"sqlite:///{sqlite_file}")
    try:
        with pytest.raises(exc.IntegrityError) as raised, engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (body TEXT NOT NULL UNIQUE)"))
            connection.execute(text("INSERT INTO t VALUES (:body)"), {"body": "code 482913"})
            connection.execute(text("INSERT INTO t VALUES (:body)"), {"body": "code 482913"})
    finally:
        engine.dispose()
    assert "482913" not in str(raised.value)

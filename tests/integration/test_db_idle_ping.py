"""The pool checks a connection before use only after it sat idle (portal.db.ping_when_idle)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, event, exc, text

from portal.db import ping_when_idle


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world(tmp_path, monkeypatch):
    engine = create_engine(f"sqlite:///{tmp_path / 'ping.db'}", pool_size=1, max_overflow=0)
    clock = FakeMonotonic()
    ping_when_idle(engine, idle_seconds=10, monotonic=clock)
    pings, connects = [], []
    event.listen(engine, "connect", lambda dbapi_connection, record: connects.append(dbapi_connection))

    def ping(dbapi_connection):
        pings.append(dbapi_connection)
        return True

    monkeypatch.setattr(engine.dialect, "do_ping", ping)
    yield engine, clock, pings, connects
    engine.dispose()


def _use(engine) -> None:
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_busy_connections_are_not_pinged(world):
    engine, clock, pings, _connects = world
    _use(engine)  # a new connection: nothing to check
    for _ in range(5):
        clock.now += 9
        _use(engine)
    assert pings == []


def test_an_idle_connection_is_pinged_before_use(world):
    engine, clock, pings, connects = world
    _use(engine)
    clock.now += 11
    _use(engine)
    assert pings == connects  # the one pooled connection, checked once
    _use(engine)
    assert len(pings) == 1  # just used: not checked again


def test_a_dead_idle_connection_is_replaced_before_the_caller_sees_it(world, monkeypatch):
    engine, clock, pings, connects = world
    _use(engine)
    dbapi = engine.dialect.loaded_dbapi

    def dead(dbapi_connection):
        pings.append(dbapi_connection)
        raise dbapi.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(engine.dialect, "do_ping", dead)
    monkeypatch.setattr(engine.dialect, "is_disconnect", lambda error, connection, cursor: True)
    clock.now += 60
    _use(engine)  # no error: the pool connected anew
    assert len(pings) == 1
    assert len(connects) == 2 and connects[1] is not connects[0]


def test_other_errors_while_pinging_are_not_swallowed(world, monkeypatch):
    engine, clock, _pings, _connects = world
    _use(engine)
    dbapi = engine.dialect.loaded_dbapi

    def broken(dbapi_connection):
        raise dbapi.ProgrammingError("not a disconnect")

    monkeypatch.setattr(engine.dialect, "do_ping", broken)
    monkeypatch.setattr(engine.dialect, "is_disconnect", lambda error, connection, cursor: False)
    clock.now += 60
    with pytest.raises(exc.ProgrammingError, match="not a disconnect"):
        _use(engine)

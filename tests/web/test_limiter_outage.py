"""A rate-limit storage (Redis) outage never stops sign-in or the pumps: the limiter falls back to
counting in memory and says so in the log, instead of answering 500."""

from __future__ import annotations

import logging
import socket

import pytest

from tests.builders import PASSWORD, create_user, station_setup
from tests.web.conftest import login


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def app_without_redis(database_url, db_engine, clock):
    from portal import create_app
    from portal.extensions import limiter

    app = create_app(
        "testing",
        DATABASE_URL=database_url,
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{closed_port()}/12",
    )
    app.extensions["portal.clock"] = clock
    yield app
    limiter.enabled = False  # the extension is a singleton; later test apps set it again anyway
    limiter._storage_dead = False  # kept on the singleton, not per app: later apps must use their storage
    app.extensions["portal.db"][0].dispose()


def test_sign_in_works_while_redis_is_down_and_a_warning_is_logged(app_without_redis, clock, caplog):
    from portal.extensions import db

    with app_without_redis.app_context():
        create_user(db.session, "alice", "sysadmin", clock.now())
        db.session.commit()
    with caplog.at_level(logging.WARNING):
        response = login(app_without_redis.test_client(), "alice", PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("storage" in r.getMessage().lower() for r in warnings), [r.getMessage() for r in caplog.records]


def test_sign_in_is_still_limited_in_memory_while_redis_is_down(app_without_redis):
    app_without_redis.config["AUTH_RATE_LIMITS"] = {"sign_in": "2 per minute"}
    app_without_redis.config["WTF_CSRF_ENABLED"] = False
    client = app_without_redis.test_client()
    codes = [client.post("/auth/sign-in", data={"username": "nobody", "password": "x"}).status_code for _ in range(3)]
    assert 500 not in codes and codes[2] == 429


def test_the_terminal_api_answers_while_redis_is_down(app_without_redis, clock, caplog):
    from portal.extensions import db

    with app_without_redis.app_context():
        key = station_setup(db.session, now=clock.now()).key
        db.session.commit()
    client = app_without_redis.test_client()
    with caplog.at_level(logging.WARNING):
        unknown = client.post("/api/terminal/v1/purchases", json={}, headers={"Authorization": "Bearer pt_unknown"})
        known = client.post("/api/terminal/v1/purchases", json={}, headers={"Authorization": f"Bearer {key}"})
    assert (unknown.status_code, known.status_code) == (401, 400)  # heard: unknown key, then an empty body
    assert any(r.levelno == logging.WARNING for r in caplog.records)


def test_sign_in_does_not_wait_long_on_a_redis_that_never_answers(database_url, db_engine, clock):
    """A Redis host that accepts the connection and then says nothing (as one behind a dropped
    route does): sign-in falls back after the storage's socket timeout, not gunicorn's."""
    import time

    from portal import create_app
    from portal.extensions import db, limiter

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # connections queue in the backlog; nothing ever reads or answers them
        app = create_app(
            "testing",
            DATABASE_URL=database_url,
            RATELIMIT_ENABLED=True,
            RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{silent.getsockname()[1]}/12",
        )
        app.extensions["portal.clock"] = clock
        try:
            with app.app_context():
                create_user(db.session, "alice", "sysadmin", clock.now())
                db.session.commit()
            started = time.monotonic()
            response = login(app.test_client(), "alice", PASSWORD)
            assert response.status_code == 302
            assert time.monotonic() - started < 10
        finally:
            limiter.enabled = False
            limiter._storage_dead = False
            app.extensions["portal.db"][0].dispose()

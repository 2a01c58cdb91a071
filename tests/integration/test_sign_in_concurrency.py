"""Wrong passwords sent at the same time each count (PostgreSQL): parallel guesses cannot slip
past the lockout by all reading the same count, and a name's first failures never collide."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from portal.auth import services
from portal.auth.models import SignInThrottle, User
from portal.auth.throttle import LockoutPolicy
from portal.db import make_sessionmaker
from tests.builders import create_user
from tests.conftest import T0

pytestmark = pytest.mark.postgres

LOCKOUT = LockoutPolicy(max_failures=50)  # above the guesses sent: every one of them must count
GUESSES = 8


def _guess_at_once(db_engine, identifier: str) -> list:
    """GUESSES wrong sign-ins for `identifier`, started together, each in its own transaction."""
    maker = make_sessionmaker(db_engine)
    start = threading.Barrier(GUESSES)
    results: list = [None] * GUESSES

    def guess(i):
        with maker() as session:
            start.wait()
            try:
                services.authenticate(session, identifier, "wrong", now=T0, ip=f"10.0.0.{i}", rounds=4, lockout=LOCKOUT)
            except Exception as error:  # noqa: BLE001  (collected and asserted below)
                results[i] = error
            session.commit()

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(GUESSES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_parallel_wrong_passwords_on_an_account_each_count(session, db_engine):
    create_user(session, "alice", "sysadmin", T0)
    session.commit()
    results = _guess_at_once(db_engine, "alice")
    assert all(isinstance(r, services.SignInError) for r in results), results
    session.expire_all()
    assert session.scalar(select(User.failed_sign_ins).where(User.username == "alice")) == GUESSES


def test_parallel_wrong_passwords_on_an_unknown_name_each_count_and_never_collide(session, db_engine):
    results = _guess_at_once(db_engine, "nobody-here")
    assert all(isinstance(r, services.SignInError) for r in results), results
    row = session.scalar(select(SignInThrottle).where(SignInThrottle.key == "name:nobody-here"))
    assert row.failures == GUESSES


def test_a_restarted_window_is_stored_in_utc_whatever_the_database_time_zone(session):
    from datetime import timedelta

    from sqlalchemy import text

    from portal.auth import throttle

    session.execute(text("SET TimeZone = 'Asia/Shanghai'"))
    throttle.count_failure(session, "ip:10.0.0.1", T0, timedelta(minutes=30))
    later = T0 + timedelta(hours=1)  # past the window: the count starts again, at `later`
    assert throttle.count_failure(session, "ip:10.0.0.1", later, timedelta(minutes=30)) == 1
    session.commit()
    assert session.get(SignInThrottle, "ip:10.0.0.1").window_started_at == later

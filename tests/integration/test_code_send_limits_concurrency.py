"""Races on PostgreSQL: 8 registration codes asked for one phone at the same moment; 5 go out."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from portal.auth import codes, registration
from portal.auth.models import OneTimeCode
from portal.db import make_sessionmaker
from tests.builders import auth_customers
from tests.conftest import T0

pytestmark = pytest.mark.postgres


def test_concurrent_requests_for_one_phone_send_no_more_than_the_limit(session, db_engine):
    world = auth_customers(session, T0)
    session.commit()
    maker = make_sessionmaker(db_engine)
    start = threading.Barrier(8)
    results: list = [None] * 8

    def run(i):
        s = maker()
        try:
            start.wait()
            results[i] = registration.start(
                s, world.main_card_a, world.credit_code_a, world.phone_a, now=T0, ip=f"198.51.100.{i}"
            )[0].id
            s.commit()
        except Exception as error:  # noqa: BLE001  (collected and asserted below)
            s.rollback()
            results[i] = error
        finally:
            s.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(r, int) for r in results) == 5, results
    assert all(isinstance(r, int | codes.TooManySent) for r in results), results
    assert session.scalar(select(func.count()).select_from(OneTimeCode)) == 5

"""portal.idempotency.claim on a real database: on PostgreSQL a second transaction claiming the
same key waits until the first ends, one claiming another key does not; on SQLite (whose writers
run one at a time) it runs no statement at all."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from portal import idempotency
from portal.db import make_sessionmaker


def _claim_without_waiting(maker, scope, *key) -> bool:
    """Whether another transaction could claim the key now (it gives up at once instead of waiting)."""
    with maker() as other:
        other.execute(text("SET LOCAL lock_timeout = '50ms'"))
        try:
            idempotency.claim(other, scope, *key)
        except OperationalError:
            return False
        finally:
            other.rollback()
        return True


@pytest.mark.postgres
def test_a_claim_is_held_until_the_transaction_ends(db_engine):
    maker = make_sessionmaker(db_engine)
    with maker() as first:
        idempotency.claim(first, "deposit", "form-1")
        idempotency.claim(first, "deposit", "form-1")  # claiming again in one transaction does not wait
        assert not _claim_without_waiting(maker, "deposit", "form-1")
        assert _claim_without_waiting(maker, "deposit", "form-2")
        assert _claim_without_waiting(maker, "chip-load", "form-1")
        first.commit()
    assert _claim_without_waiting(maker, "deposit", "form-1")
    with maker() as rolled_back:
        idempotency.claim(rolled_back, "deposit", "form-1")
        rolled_back.rollback()
    assert _claim_without_waiting(maker, "deposit", "form-1")


@pytest.mark.postgres
def test_a_single_writer_claims_nothing(db_engine):
    """The demo builder books months of activity in one transaction: no lock held per key."""
    maker = make_sessionmaker(db_engine)
    with maker() as job:
        with idempotency.single_writer(job):
            idempotency.claim(job, "deposit", "demo-1")
        assert _claim_without_waiting(maker, "deposit", "demo-1")
        idempotency.claim(job, "deposit", "demo-2")  # outside the block, claims are taken again
        assert not _claim_without_waiting(maker, "deposit", "demo-2")
        job.rollback()


def test_a_claim_costs_nothing_on_sqlite(db_engine, session):
    if db_engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    seen = []
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(db_engine, "before_cursor_execute", listener)
    try:
        idempotency.claim(session, "deposit", "form-1")
    finally:
        event.remove(db_engine, "before_cursor_execute", listener)
    assert not [statement for statement in seen if not statement.upper().startswith("BEGIN")]

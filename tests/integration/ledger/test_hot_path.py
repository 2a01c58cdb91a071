"""Edges of the ledger's hot path (prebuilt statements on the driver's cursor, rows attached
without a read-back): races on batch ids, retries in one session, lost connections, timezones."""

from __future__ import annotations

import threading
from datetime import timedelta, timezone

import pytest
from sqlalchemy import exc, select, text

from portal import ledger
from portal.db import make_sessionmaker
from portal.ledger import TransferRequest as R
from portal.ledger.models import Transfer
from tests.builders import make_books
from tests.conftest import T0

SHANGHAI = timezone(timedelta(hours=8))


def _fund(session, books):
    h = books.holders[0]
    ledger.transfer(session, R("dep", books.clearing, h.unit, 10_000, "deposit"), now=T0)
    session.commit()
    return h


def test_a_retry_in_the_same_session_after_a_rollback_posts_once(session, books):
    h = _fund(session, books)
    request = R("alloc-1", h.unit, h.reserves[0], 700, "allocation")
    first = ledger.transfer(session, request, now=T0)
    session.rollback()  # e.g. a later step of the same user action failed
    again = ledger.transfer(session, request, now=T0)
    session.commit()
    assert again.amount == 700 and again.id == "alloc-1"
    assert again is first  # one object per row in a session, as a load would give
    assert ledger.balance(ledger.get_account(session, h.reserves[0])) == 700
    assert ledger.verify(session).ok


def test_returned_transfers_hold_utc_times_like_loaded_ones(session, books):
    h = _fund(session, books)
    made = ledger.transfer(session, R("alloc-tz", h.unit, h.reserves[0], 1, "allocation"), now=T0.astimezone(SHANGHAI))
    batch = ledger.transfer_batch(
        session, [R("alloc-tz2", h.unit, h.reserves[1], 1, "allocation")], now=T0.astimezone(SHANGHAI)
    )
    session.commit()
    for transfer in (made, *batch):
        assert transfer.created_at == T0 and transfer.created_at.utcoffset() == timedelta(0)
    session.expire_all()
    assert session.get(Transfer, "alloc-tz").created_at == T0


def test_naive_times_are_refused_before_anything_is_written(session, books):
    h = _fund(session, books)
    with pytest.raises((ValueError, exc.StatementError), match="naive"):
        ledger.transfer(session, R("alloc-naive", h.unit, h.reserves[0], 1, "allocation"), now=T0.replace(tzinfo=None))
    session.rollback()
    assert session.get(Transfer, "alloc-naive") is None


def test_a_batch_replayed_after_its_money_was_spent_returns_the_originals(session, books):
    h = _fund(session, books)
    batch = [R(f"all-{i}", h.unit, h.reserves[i], 5_000, "allocation") for i in range(2)]
    first = ledger.transfer_batch(session, batch, now=T0)
    session.commit()
    assert ledger.balance(ledger.get_account(session, h.unit)) == 0
    again = ledger.transfer_batch(session, batch, now=T0 + timedelta(minutes=5))
    session.commit()
    assert [t.id for t in again] == [t.id for t in first]
    assert ledger.balance(ledger.get_account(session, h.reserves[0])) == 5_000
    with pytest.raises(ledger.IdempotencyConflict):  # part of it again, with one new id: refused
        ledger.transfer_batch(session, [batch[0], R("all-new", h.unit, h.reserves[2], 1, "allocation")], now=T0)
    session.rollback()
    assert ledger.verify(session).ok


@pytest.mark.postgres
def test_a_batch_that_loses_one_id_to_a_concurrent_writer_can_never_be_committed(db_engine):
    """B holds id X uncommitted; A's batch [Y, X] passes the "no id exists" check, inserts Y, waits
    for B on X, then skips it. A must not be able to commit Y without its totals."""
    make = make_sessionmaker(db_engine)
    with make() as setup:
        books = make_books(setup, T0)
        for holder in books.holders:
            ledger.transfer(setup, R(f"dep-{holder.unit}", books.clearing, holder.unit, 10_000, "deposit"), now=T0)
        setup.commit()
    mine, theirs = books.holders
    a, b = make(), make()
    ledger.transfer(b, R("X", theirs.unit, theirs.reserves[0], 300, "allocation"), now=T0)
    outcome: list[BaseException | None] = []

    def batch_in_a():
        try:
            ledger.transfer_batch(
                a,
                [
                    R("Y", mine.unit, mine.reserves[0], 100, "allocation"),
                    R("X", mine.unit, mine.reserves[1], 200, "allocation"),
                ],
                now=T0,
            )
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - reported to the test thread
            outcome.append(error)

    worker = threading.Thread(target=batch_in_a)
    worker.start()
    worker.join(timeout=1)
    assert worker.is_alive(), "A should wait for B's uncommitted X"
    b.commit()
    worker.join(timeout=30)
    assert isinstance(outcome[0], ledger.IdempotencyConflict)
    with pytest.raises(exc.DBAPIError):  # the transaction is aborted: nothing of it can land
        a.execute(text("SELECT 1"))
    a.rollback()
    a.close()
    b.close()
    with make() as check:
        assert check.get(Transfer, "Y") is None
        assert check.scalars(select(Transfer.debit_account_id).where(Transfer.id == "X")).one() == theirs.unit
        assert ledger.verify(check).ok


@pytest.mark.postgres
def test_a_connection_lost_under_the_ledger_is_invalidated_and_the_retry_works(db_engine):
    make = make_sessionmaker(db_engine)
    with make() as setup:
        books = make_books(setup, T0)
        h = _fund(setup, books)
    session = make()
    pid = session.execute(text("SELECT pg_backend_pid()")).scalar()  # the session's connection
    with db_engine.connect() as killer:
        killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    request = R("alloc-lost", h.unit, h.reserves[0], 100, "allocation")
    with pytest.raises(exc.OperationalError) as lost:
        ledger.transfer(session, request, now=T0)
    assert lost.value.connection_invalidated
    session.rollback()  # succeeds: the dead connection was invalidated, not reused
    made = ledger.transfer(session, request, now=T0)
    session.commit()
    assert made.amount == 100
    assert ledger.verify(session).ok
    session.close()

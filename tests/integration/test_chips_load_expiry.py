"""The expire-loads job: overdue chip loads are voided in committed batches, a run stopped half-way
keeps what it did, running again is harmless, and one load that fails does not stop the others."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import ledger
from portal.cards.models import Card
from portal.chips import loads
from portal.chips.models import LoadRequest
from portal.db import make_sessionmaker
from portal.funds import services
from portal.funds.plan import RawLine
from portal.jobs.web import run_job
from tests.builders import funds_customers


@pytest.fixture
def overdue(session, clock):
    """Five loads of 10.00 yuan on one card (reserve 500.00), their holds lapsed; returns the card id."""
    w = funds_customers(session, clock.now())
    lines = [RawLine(1, w.a1_number, "500")]
    batch = services.prepare_batch(session, customer_id=w.a, kind="allocation", lines=lines, actor_id=w.admin_a,
                                   now=clock.now())  # fmt: skip
    services.confirm_batch(session, batch, actor_id=w.admin_a, now=clock.now())
    card = session.get(Card, w.a1)
    for n in range(5):
        loads.request_load(session, load_id=f"L{n}", card=card, amount=1000, actor_id=w.admin_a, now=clock.now())
    session.commit()
    clock.advance(loads.DEFAULT_LOAD_EXPIRY + timedelta(minutes=1))
    return card.id


def statuses(db_engine) -> list[str]:
    """The loads' statuses as committed (read from a session of its own)."""
    with make_sessionmaker(db_engine)() as other:
        return list(other.scalars(select(LoadRequest.status).order_by(LoadRequest.id)))


def reserve_available(db_engine, card_id) -> int:
    with make_sessionmaker(db_engine)() as other:
        return ledger.available(ledger.card_account(other, card_id, "reserve"))


class Stopped(Exception):
    """The worker stops between two batches."""


def test_loads_expire_in_committed_batches_and_a_stopped_run_keeps_what_it_did(session, db_engine, clock, overdue):
    def stop_after_first_batch():
        session.commit()
        raise Stopped

    with pytest.raises(Stopped):
        loads.expire_overdue_loads(session, now=clock.now(), batch_size=2, end_batch=stop_after_first_batch)
    session.rollback()
    assert statuses(db_engine) == ["expired", "expired", "pending", "pending", "pending"]
    assert reserve_available(db_engine, overdue) == 50000 - 3 * 1000

    batches = []
    result = loads.expire_overdue_loads(session, now=clock.now(), batch_size=2, end_batch=lambda: batches.append(1))
    session.commit()
    assert (result.expired, result.failed, len(batches)) == (3, {}, 2)
    assert statuses(db_engine) == ["expired"] * 5 and reserve_available(db_engine, overdue) == 50000
    again = loads.expire_overdue_loads(session, now=clock.now(), batch_size=2)
    assert (again.expired, again.failed) == (0, {})  # idempotent: nothing left, nothing voided twice
    session.commit()
    assert ledger.verify(session).ok


def test_a_load_that_fails_is_left_pending_and_does_not_stop_the_others(app, session, db_engine, clock, overdue):
    """A load request whose ledger hold cannot be found (the ledger refuses to void it): the run
    expires the other five, is recorded as failed naming it, and the next run tries it again."""
    ghost = LoadRequest(id="L2a-no-hold", customer_id=session.get(Card, overdue).customer_id, card_id=overdue,
                        amount=500, status="pending", requested_at=clock.now() - timedelta(days=4),
                        expires_at=clock.now() - timedelta(days=1))  # fmt: skip
    session.add(ghost)
    session.commit()
    run = run_job(app, "expire-loads")
    assert (
        run.status == "failed"
        and "5 load request(s) expired; 1 could not be: L2a-no-hold (PendingNotFound" in run.detail
    )
    assert statuses(db_engine) == ["expired", "expired", "expired", "pending", "expired", "expired"]
    assert reserve_available(db_engine, overdue) == 50000
    result = loads.expire_overdue_loads(session, now=clock.now())
    assert result.expired == 0 and list(result.failed) == ["L2a-no-hold"]


def test_a_load_expired_by_the_job_carries_the_same_reason_as_one_expired_by_a_card_sync(session, clock, overdue):
    """The job expires loads through the card sync's helper: its void transfers say why, as a sync's
    do (the account-transactions page renders the memo's reason next to the state "expired")."""
    from portal.ledger import memos
    from portal.ledger.models import Transfer

    assert loads.expire_overdue_loads(session, now=clock.now()).expired == 5
    session.commit()
    voids = session.scalars(select(Transfer).where(Transfer.id.like("load-void:%")).order_by(Transfer.id)).all()
    assert len(voids) == 5 and {void.memo for void in voids} == {memos.structured(reason="expired")}
    assert statuses_of(session) == ["expired"] * 5


def statuses_of(session) -> list[str]:
    return list(session.scalars(select(LoadRequest.status).order_by(LoadRequest.id)))

"""Two-phase transfers (loads onto the chip): pending, then post or void exactly once, with expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal import ledger
from portal.ledger import TransferRequest as R
from tests.builders import bal, journal_count, totals

HOUR = timedelta(hours=1)


@pytest.fixture
def card(session, books, now):
    """Holder 0 with 1,000 fen on card 0's reserve."""
    h = books.holders[0]
    ledger.transfer_batch(
        session,
        [R("dep", books.clearing, h.unit, 1_000, "deposit"), R("alloc", h.unit, h.reserves[0], 1_000, "allocation")],
        now=now,
    )
    session.commit()
    return h


def hold(session, h, now, amount=600, tid="load-1"):
    return ledger.create_pending(
        session, R(tid, h.reserves[0], h.purses[0], amount, "load"), now=now, expires_at=now + HOUR
    )


def test_a_hold_counts_against_available_but_moves_nothing(session, card, now):
    pending = hold(session, card, now)
    session.commit()
    assert (pending.kind, pending.expires_at) == ("pending", now + HOUR)
    assert totals(session, card.reserves[0]) == (0, 1_000, 600, 0)
    assert totals(session, card.purses[0]) == (0, 0, 0, 600)
    reserve = ledger.get_account(session, card.reserves[0])
    assert (ledger.balance(reserve), ledger.available(reserve)) == (1_000, 400)
    with pytest.raises(ledger.InsufficientFunds):
        ledger.transfer(session, R("c", card.reserves[0], card.unit, 401, "collection"), now=now)
    with pytest.raises(ledger.InsufficientFunds):
        hold(session, card, now, amount=401, tid="load-2")
    assert ledger.verify(session).ok


def test_posting_moves_the_money(session, card, now):
    hold(session, card, now)
    posted = ledger.post_pending(session, "post-1", "load-1", now=now + timedelta(minutes=1))
    session.commit()
    assert (posted.kind, posted.pending_id, posted.amount, posted.code) == ("post_pending", "load-1", 600, "load")
    assert totals(session, card.reserves[0]) == (600, 1_000, 0, 0)
    assert totals(session, card.purses[0]) == (0, 600, 0, 0)
    assert ledger.verify(session).ok


def test_posting_less_releases_the_rest(session, card, now):
    hold(session, card, now)
    ledger.post_pending(session, "post-1", "load-1", now=now, amount=250)
    assert bal(session, card.reserves[0]) == 750
    assert bal(session, card.purses[0]) == 250
    assert totals(session, card.reserves[0])[2] == 0


def test_posting_more_than_held_is_refused(session, card, now):
    hold(session, card, now)
    with pytest.raises(ledger.InvalidAmount, match="holds only 600"):
        ledger.post_pending(session, "post-1", "load-1", now=now, amount=601)
    with pytest.raises(ledger.InvalidAmount):
        ledger.post_pending(session, "post-1", "load-1", now=now, amount=0)


def test_voiding_gives_the_money_back(session, card, now):
    hold(session, card, now)
    void = ledger.void_pending(session, "void-1", "load-1", now=now, memo="chip write failed")
    session.commit()
    assert (void.kind, void.amount) == ("void_pending", 600)
    assert totals(session, card.reserves[0]) == (0, 1_000, 0, 0)
    assert totals(session, card.purses[0]) == (0, 0, 0, 0)
    assert ledger.verify(session).ok


def test_a_hold_is_resolved_exactly_once(session, card, now):
    hold(session, card, now)
    ledger.post_pending(session, "post-1", "load-1", now=now)
    with pytest.raises(ledger.PendingAlreadyResolved, match="already posted by transfer post-1"):
        ledger.void_pending(session, "void-1", "load-1", now=now)
    with pytest.raises(ledger.PendingAlreadyResolved):
        ledger.post_pending(session, "post-2", "load-1", now=now)
    assert journal_count(session) == 4


def test_resolutions_are_idempotent(session, card, now):
    hold(session, card, now)
    first = ledger.post_pending(session, "post-1", "load-1", now=now, amount=100)
    session.commit()
    assert ledger.post_pending(session, "post-1", "load-1", now=now, amount=100).id == first.id
    with pytest.raises(ledger.IdempotencyConflict):
        ledger.post_pending(session, "post-1", "load-1", now=now, amount=200)
    assert (
        ledger.create_pending(
            session, R("load-1", card.reserves[0], card.purses[0], 600, "load"), now=now, expires_at=now + 2 * HOUR
        ).id
        == "load-1"
    )
    assert bal(session, card.purses[0]) == 100


def test_an_expired_hold_cannot_be_posted_only_voided(session, card, now):
    hold(session, card, now)
    with pytest.raises(ledger.PendingExpired):
        ledger.post_pending(session, "post-1", "load-1", now=now + HOUR)
    ledger.void_pending(session, "void-1", "load-1", now=now + HOUR)
    assert bal(session, card.reserves[0]) == 1_000


def test_expire_pending_voids_overdue_holds(session, card, now):
    hold(session, card, now, amount=100, tid="a")
    ledger.create_pending(
        session, R("b", card.reserves[0], card.purses[0], 200, "load"), now=now, expires_at=now + 3 * HOUR
    )
    hold(session, card, now, amount=300, tid="c")
    ledger.post_pending(session, "post-c", "c", now=now)
    session.commit()
    assert ledger.expire_pending(session, now=now + HOUR - timedelta(seconds=1)) == 0
    assert ledger.expire_pending(session, now=now + HOUR) == 1  # a; c is already posted
    assert ledger.expire_pending(session, now=now + HOUR) == 0
    assert ledger.expire_pending(session, now=now + 5 * HOUR) == 1  # b
    session.commit()
    assert session.get(ledger.Transfer, "expire:a").pending_id == "a"
    assert totals(session, card.reserves[0]) == (300, 1_000, 0, 0)
    assert ledger.verify(session).ok


def test_unknown_pendings(session, card, now):
    ledger.transfer(session, R("posted", card.reserves[0], card.purses[0], 1, "load"), now=now)
    for pending_id in ("nope", "posted", None):
        with pytest.raises(ledger.PendingNotFound):
            ledger.post_pending(session, "p", pending_id, now=now)
        with pytest.raises(ledger.PendingNotFound):
            ledger.void_pending(session, "v", pending_id, now=now)


def test_an_expiry_must_be_in_the_future(session, card, now):
    with pytest.raises(ledger.InvalidTransfer):
        ledger.create_pending(session, R("x", card.reserves[0], card.purses[0], 1, "load"), now=now, expires_at=now)


def test_a_hold_taken_before_a_freeze_can_still_be_posted(session, card, now):
    hold(session, card, now)
    ledger.freeze_account(session, card.reserves[0])
    with pytest.raises(ledger.AccountFrozen):
        hold(session, card, now, amount=1, tid="load-2")
    ledger.post_pending(session, "post-1", "load-1", now=now)
    assert bal(session, card.purses[0]) == 600


def test_an_account_with_a_hold_cannot_be_closed(session, card, now):
    hold(session, card, now)  # the purse's balance is 0, but 600 is on its way in
    with pytest.raises(ledger.AccountClosed, match="pending credits 600"):
        ledger.close_account(session, card.purses[0])
    ledger.void_pending(session, "void", "load-1", now=now)
    assert ledger.close_account(session, card.purses[0]).closed


def test_the_acting_customer_cannot_resolve_another_customers_hold(session, books, card, now):
    hold(session, card, now)
    other = books.holders[1].customer_id
    with pytest.raises(ledger.ForeignAccount):
        ledger.post_pending(session, "p", "load-1", now=now, customer_id=other)
    with pytest.raises(ledger.ForeignAccount):
        ledger.void_pending(session, "v", "load-1", now=now, customer_id=other)
    ledger.void_pending(session, "v", "load-1", now=now, customer_id=card.customer_id)

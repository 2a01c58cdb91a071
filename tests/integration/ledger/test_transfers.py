"""Single transfers and batches: every money flow, every refusal, idempotent retries."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal import ledger
from portal.ledger import TransferRequest as R
from tests.builders import bal, journal_count, totals


def deposit(session, books, amount, *, tid="dep-1", holder=0, now=None):
    h = books.holders[holder]
    return ledger.transfer(session, R(tid, books.clearing, h.unit, amount, "deposit"), now=now)


def test_deposit_credits_the_unit_and_debits_clearing(session, books, now):
    t = deposit(session, books, 10_000, now=now)
    session.commit()
    assert (t.id, t.kind, t.code, t.amount, t.ledger) == ("dep-1", "posted", "deposit", 10_000, "CNY")
    assert t.created_at == now
    assert bal(session, books.holders[0].unit) == 10_000
    assert bal(session, books.clearing) == -10_000
    assert totals(session, books.clearing) == (10_000, 0, 0, 0)


def test_every_money_flow_moves_exactly_its_amount(session, books, now):
    h = books.holders[0]
    steps = [
        R("dep", books.clearing, h.unit, 50_000, "deposit"),
        R("alloc", h.unit, h.reserves[0], 30_000, "allocation"),
        R("coll", h.reserves[0], h.unit, 5_000, "collection"),
        R("load", h.reserves[0], h.purses[0], 20_000, "load"),
        R("buy", h.purses[0], books.sales, 12_345, "purchase"),
        R("refund", books.sales, h.purses[0], 345, "refund"),
        R("swap", h.purses[0], h.purses[1], 1_000, "replacement"),
    ]
    for step in steps:
        ledger.transfer(session, step, now=now)
    session.commit()
    assert bal(session, h.unit) == 50_000 - 30_000 + 5_000
    assert bal(session, h.reserves[0]) == 30_000 - 5_000 - 20_000
    assert bal(session, h.purses[0]) == 20_000 - 12_345 + 345 - 1_000
    assert bal(session, h.purses[1]) == 1_000
    assert bal(session, books.sales) == 12_000
    assert ledger.verify(session).ok


def test_points_flows_stay_in_the_points_ledger(session, books, now):
    h = books.holders[0]
    earn = ledger.transfer(session, R("earn", books.points_issued, h.points, 500, "points_earn"), now=now)
    ledger.transfer(session, R("redeem", h.points, books.points_redeemed, 200, "points_redeem"), now=now)
    ledger.transfer(session, R("expire", h.points, books.points_expired, 100, "points_expire"), now=now)
    ledger.transfer(session, R("earn-card", books.points_issued, h.card_points[0], 70, "points_earn"), now=now)
    session.commit()
    assert earn.ledger == "PTS"
    assert bal(session, h.points) == 200
    assert bal(session, h.card_points[0]) == 70
    assert ledger.verify(session).ok


@pytest.mark.parametrize("amount", [0, -1, 1.5, "100", True, None, 10**13 + 1, 2**63])
def test_bad_amounts_are_refused_and_nothing_is_written(session, books, now, amount):
    with pytest.raises(ledger.InvalidAmount):
        deposit(session, books, amount, now=now)
    assert journal_count(session) == 0
    assert bal(session, books.holders[0].unit) == 0


def test_the_largest_amount_is_accepted(session, books, now):
    deposit(session, books, ledger.MAX_AMOUNT, now=now)
    assert bal(session, books.holders[0].unit) == ledger.MAX_AMOUNT


@pytest.mark.parametrize("tid", ["", "x" * 65, "has space", "中文", 42, None])
def test_bad_ids_are_refused(session, books, now, tid):
    with pytest.raises(ledger.InvalidTransfer):
        deposit(session, books, 100, tid=tid, now=now)


def test_the_same_account_on_both_sides_is_refused(session, books, now):
    unit = books.holders[0].unit
    with pytest.raises(ledger.SameAccount):
        ledger.transfer(session, R("t", unit, unit, 100, "allocation"), now=now)


def test_unknown_accounts_are_refused(session, books, now):
    with pytest.raises(ledger.UnknownAccount, match="no account 999999"):
        ledger.transfer(session, R("t", books.clearing, 999_999, 100, "deposit"), now=now)
    assert journal_count(session) == 0


def test_money_and_points_never_mix(session, books, now):
    with pytest.raises(ledger.LedgerMismatch):
        ledger.transfer(session, R("t", books.clearing, books.holders[0].points, 100, "deposit"), now=now)


def test_a_code_only_moves_between_its_kinds(session, books, now):
    h = books.holders[0]
    deposit(session, books, 1_000, now=now)
    with pytest.raises(ledger.InvalidTransfer, match="allocation moves unit -> reserve"):
        ledger.transfer(session, R("t", h.unit, h.purses[0], 100, "allocation"), now=now)
    with pytest.raises(ledger.InvalidTransfer, match="unknown transfer code"):
        ledger.transfer(session, R("t", h.unit, h.reserves[0], 100, "gift"), now=now)
    with pytest.raises(ledger.InvalidTransfer):  # reversals only through reverse()
        ledger.transfer(session, R("t", h.reserves[0], h.unit, 100, "reversal"), now=now)


def test_money_never_moves_between_customers(session, books, now):
    a, b = books.holders
    deposit(session, books, 1_000, now=now)
    with pytest.raises(ledger.ForeignAccount):
        ledger.transfer(session, R("t", a.unit, b.reserves[0], 100, "allocation"), now=now)


def test_the_acting_customer_may_only_touch_their_accounts(session, books, now):
    a, b = books.holders
    deposit(session, books, 1_000, now=now)
    deposit(session, books, 1_000, tid="dep-b", holder=1, now=now)
    with pytest.raises(ledger.ForeignAccount):
        ledger.transfer(session, R("t", b.unit, b.reserves[0], 100, "allocation"), now=now, customer_id=a.customer_id)
    with pytest.raises(ledger.ForeignAccount):
        ledger.transfer_batch(
            session,
            [R("t1", a.unit, a.reserves[0], 100, "allocation"), R("t2", b.unit, b.reserves[0], 100, "allocation")],
            now=now,
            customer_id=a.customer_id,
        )
    # system accounts are fine for the acting customer
    ledger.transfer(session, R("t", a.unit, a.reserves[0], 100, "allocation"), now=now, customer_id=a.customer_id)
    assert bal(session, a.reserves[0]) == 100


def test_no_overdraft(session, books, now):
    h = books.holders[0]
    deposit(session, books, 1_000, now=now)
    with pytest.raises(ledger.InsufficientFunds, match="1000 available, 1001 needed") as excinfo:
        ledger.transfer(session, R("t", h.unit, h.reserves[0], 1_001, "allocation"), now=now)
    assert (excinfo.value.available, excinfo.value.amount) == (1_000, 1_001)
    ledger.transfer(session, R("t", h.unit, h.reserves[0], 1_000, "allocation"), now=now)
    assert bal(session, h.unit) == 0


def test_system_accounts_may_go_negative_but_not_customer_accounts(session, books, now):
    h = books.holders[0]
    deposit(session, books, 5, now=now)
    assert bal(session, books.clearing) == -5
    with pytest.raises(ledger.InsufficientFunds):
        ledger.transfer(session, R("t", h.reserves[0], h.unit, 1, "collection"), now=now)


def test_a_frozen_account_cannot_be_debited_but_can_be_credited(session, books, now):
    h = books.holders[0]
    deposit(session, books, 1_000, now=now)
    ledger.transfer(session, R("a1", h.unit, h.reserves[0], 500, "allocation"), now=now)
    account = ledger.freeze_account(session, h.reserves[0])
    assert account.frozen
    with pytest.raises(ledger.AccountFrozen):
        ledger.transfer(session, R("l", h.reserves[0], h.purses[0], 100, "load"), now=now)
    ledger.transfer(session, R("a2", h.unit, h.reserves[0], 100, "allocation"), now=now)
    # a replacement card takes over a lost (frozen) card's funds
    ledger.transfer(session, R("r", h.reserves[0], h.reserves[1], 600, "replacement"), now=now)
    ledger.unfreeze_account(session, h.reserves[0])
    ledger.transfer(session, R("a3", h.unit, h.reserves[0], 100, "allocation"), now=now)
    ledger.transfer(session, R("c", h.reserves[0], h.unit, 100, "collection"), now=now)
    assert bal(session, h.reserves[0]) == 0


def test_a_closed_account_can_be_neither_debited_nor_credited(session, books, now):
    h = books.holders[0]
    deposit(session, books, 1_000, now=now)
    ledger.transfer(session, R("a1", h.unit, h.reserves[0], 500, "allocation"), now=now)
    with pytest.raises(ledger.AccountClosed, match="only be closed when empty"):
        ledger.close_account(session, h.reserves[0])
    ledger.transfer(session, R("c1", h.reserves[0], h.unit, 500, "collection"), now=now)
    assert ledger.close_account(session, h.reserves[0]).closed
    with pytest.raises(ledger.AccountClosed):
        ledger.transfer(session, R("a2", h.unit, h.reserves[0], 1, "allocation"), now=now)
    with pytest.raises(ledger.AccountClosed):
        ledger.transfer(session, R("c2", h.reserves[0], h.unit, 1, "collection"), now=now)


def test_loaded_account_objects_see_new_totals_without_a_refresh(session, books, now):
    unit = ledger.unit_account(session, books.holders[0].customer_id)
    assert ledger.balance(unit) == 0
    deposit(session, books, 700, now=now)
    assert ledger.balance(unit) == 700 and ledger.available(unit) == 700


# --- idempotency ----------------------------------------------------------------------------------


def test_a_retry_returns_the_original_and_writes_nothing(session, books, now):
    first = deposit(session, books, 1_000, now=now)
    session.commit()
    again = deposit(session, books, 1_000, now=now + timedelta(minutes=5))
    session.commit()
    assert again.id == first.id and again.created_at == now
    assert journal_count(session) == 1
    assert bal(session, books.holders[0].unit) == 1_000


def test_a_retry_after_the_money_is_spent_still_returns_the_original(session, books, now):
    h = books.holders[0]
    deposit(session, books, 1_000, now=now)
    alloc = R("alloc", h.unit, h.reserves[0], 1_000, "allocation")
    ledger.transfer(session, alloc, now=now)
    session.commit()
    assert ledger.transfer(session, alloc, now=now).amount == 1_000  # would be InsufficientFunds if new
    assert bal(session, h.reserves[0]) == 1_000


def test_the_same_id_with_different_content_is_a_conflict(session, books, now):
    deposit(session, books, 1_000, now=now)
    session.commit()
    with pytest.raises(ledger.IdempotencyConflict, match="different amount"):
        deposit(session, books, 999, now=now)
    with pytest.raises(ledger.IdempotencyConflict, match="credit_account_id"):
        deposit(session, books, 1_000, holder=1, now=now)
    assert journal_count(session) == 1


def test_memo_and_actor_are_not_part_of_the_content(session, books, now):
    h = books.holders[0]
    ledger.transfer(session, R("d", books.clearing, h.unit, 10, "deposit", memo="first"), now=now)
    again = ledger.transfer(session, R("d", books.clearing, h.unit, 10, "deposit", memo="retry"), now=now)
    assert again.memo == "first"


# --- batches --------------------------------------------------------------------------------------


def allocations(h, amounts, prefix="alloc"):
    return [R(f"{prefix}:{i}", h.unit, h.reserves[i], amount, "allocation") for i, amount in enumerate(amounts)]


def test_a_batch_applies_every_transfer(session, books, now):
    h = books.holders[0]
    deposit(session, books, 1_000, now=now)
    result = ledger.transfer_batch(session, allocations(h, [100, 200, 300]), now=now, batch_id="b-1")
    session.commit()
    assert [t.id for t in result] == ["alloc:0", "alloc:1", "alloc:2"]
    assert {t.batch_id for t in result} == {"b-1"}
    assert [bal(session, r) for r in h.reserves] == [100, 200, 300]
    assert bal(session, h.unit) == 400


def test_a_batch_fails_as_a_whole(session, books, now):
    h = books.holders[0]
    deposit(session, books, 500, now=now)
    session.commit()
    with pytest.raises(ledger.InsufficientFunds):
        ledger.transfer_batch(session, allocations(h, [100, 200, 300]), now=now)
    assert journal_count(session) == 1
    assert [bal(session, r) for r in h.reserves] == [0, 0, 0]
    assert bal(session, h.unit) == 500


def test_a_batch_is_applied_in_order(session, books, now):
    h = books.holders[0]
    batch = [
        R("d", books.clearing, h.unit, 100, "deposit"),
        R("a", h.unit, h.reserves[0], 100, "allocation"),
        R("c", h.reserves[0], h.unit, 100, "collection"),
    ]
    ledger.transfer_batch(session, batch, now=now)
    with pytest.raises(ledger.InsufficientFunds):  # spending before funding fails
        ledger.transfer_batch(
            session,
            [R("a2", h.unit, h.reserves[1], 200, "allocation"), R("d2", books.clearing, h.unit, 200, "deposit")],
            now=now,
        )
    assert bal(session, h.unit) == 100


def test_a_replayed_batch_returns_the_originals(session, books, now):
    h = books.holders[0]
    deposit(session, books, 1_000, now=now)
    first = ledger.transfer_batch(session, allocations(h, [100, 200]), now=now)
    session.commit()
    again = ledger.transfer_batch(session, allocations(h, [100, 200]), now=now)
    assert [t.id for t in again] == [t.id for t in first]
    assert journal_count(session) == 3
    assert bal(session, h.unit) == 700


def test_a_batch_that_repeats_only_some_ids_is_a_conflict(session, books, now):
    h = books.holders[0]
    deposit(session, books, 1_000, now=now)
    ledger.transfer_batch(session, allocations(h, [100]), now=now)
    with pytest.raises(ledger.IdempotencyConflict, match="1 of this batch's 2"):
        ledger.transfer_batch(session, allocations(h, [100, 200]), now=now)
    with pytest.raises(ledger.IdempotencyConflict):
        ledger.transfer_batch(session, allocations(h, [150]), now=now)


def test_a_batch_cannot_repeat_an_id(session, books, now):
    h = books.holders[0]
    with pytest.raises(ledger.InvalidTransfer, match="same transfer id twice"):
        ledger.transfer_batch(session, [R("x", h.unit, h.reserves[0], 1, "allocation")] * 2, now=now)


def test_an_empty_batch_does_nothing(session, books, now):
    assert ledger.transfer_batch(session, [], now=now) == []

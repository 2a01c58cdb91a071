"""Reversals instead of edits; opening, finding, freezing and closing accounts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal import ledger
from portal.ledger import TransferRequest as R
from tests.builders import bal, journal_count


@pytest.fixture
def funded(session, books, now):
    h = books.holders[0]
    ledger.transfer(session, R("dep", books.clearing, h.unit, 1_000, "deposit"), now=now)
    ledger.transfer(session, R("alloc", h.unit, h.reserves[0], 400, "allocation"), now=now)
    session.commit()
    return h


def test_a_reversal_undoes_a_transfer(session, books, funded, now):
    later = now + timedelta(hours=1)
    rev = ledger.reverse(session, "rev-1", "alloc", now=later, memo="wrong card")
    session.commit()
    assert (rev.code, rev.reversal_of, rev.amount, rev.kind) == ("reversal", "alloc", 400, "posted")
    assert (rev.debit_account_id, rev.credit_account_id) == (funded.reserves[0], funded.unit)
    assert bal(session, funded.unit) == 1_000 and bal(session, funded.reserves[0]) == 0
    original = session.get(ledger.Transfer, "alloc")
    assert (original.amount, original.kind) == (400, "posted")  # the original is untouched
    assert ledger.verify(session).ok


def test_a_transfer_is_reversed_at_most_once(session, funded, now):
    ledger.reverse(session, "rev-1", "alloc", now=now)
    with pytest.raises(ledger.AlreadyReversed, match="already reversed by transfer rev-1"):
        ledger.reverse(session, "rev-2", "alloc", now=now)
    assert ledger.reverse(session, "rev-1", "alloc", now=now).id == "rev-1"  # a retry
    with pytest.raises(ledger.IdempotencyConflict):
        ledger.reverse(session, "rev-1", "dep", now=now)


def test_a_reversal_cannot_overdraw(session, funded, now):
    with pytest.raises(ledger.InsufficientFunds):
        ledger.reverse(session, "rev-1", "dep", now=now)  # only 600 of the 1,000 is left on the unit
    assert journal_count(session) == 2


def test_what_cannot_be_reversed(session, funded, now):
    with pytest.raises(ledger.TransferNotFound):
        ledger.reverse(session, "r", "nope", now=now)
    ledger.reverse(session, "rev-1", "alloc", now=now)
    with pytest.raises(ledger.NotReversible):
        ledger.reverse(session, "r", "rev-1", now=now)
    ledger.create_pending(
        session, R("hold", funded.unit, funded.reserves[0], 1, "allocation"), now=now, expires_at=now + timedelta(1)
    )
    with pytest.raises(ledger.NotReversible):
        ledger.reverse(session, "r", "hold", now=now)
    post = ledger.post_pending(session, "post", "hold", now=now)
    ledger.reverse(session, "r", post.id, now=now)  # a posted hold is a movement like any other
    assert bal(session, funded.reserves[0]) == 0


def test_reversal_scope(session, books, funded, now):
    with pytest.raises(ledger.ForeignAccount):
        ledger.reverse(session, "r", "alloc", now=now, customer_id=books.holders[1].customer_id)


def test_opening_accounts_is_idempotent(session, books):
    h = books.holders[0]
    before = session.query(ledger.Account).count()
    ledger.open_customer_accounts(session, h.customer_id)
    ledger.open_card_accounts(session, h.customer_id, h.card_ids[0])
    session.commit()
    assert session.query(ledger.Account).count() == before
    assert ledger.unit_account(session, h.customer_id).id == h.unit
    unit = ledger.unit_account(session, h.customer_id)
    assert (unit.ledger, unit.kind, unit.no_overdraft, unit.card_id) == ("CNY", "unit", True, None)
    purse = ledger.card_account(session, h.card_ids[0], "purse")
    assert (purse.customer_id, purse.card_id, purse.ledger) == (h.customer_id, h.card_ids[0], "CNY")
    assert ledger.card_account(session, h.card_ids[0], "points").ledger == "PTS"
    assert ledger.customer_points_account(session, h.customer_id).id == h.points


def test_system_accounts_are_created_once(session, books):
    assert ledger.system_account(session, "deposits_clearing").id == books.clearing
    assert ledger.system_account(session, "points_issued", ledger.POINTS).id == books.points_issued
    clearing = ledger.system_account(session, "deposits_clearing", ledger.MONEY)
    assert (clearing.customer_id, clearing.no_overdraft) == (None, False)
    with pytest.raises(ledger.InvalidTransfer):
        ledger.system_account(session, "points_issued", ledger.MONEY)
    with pytest.raises(ledger.InvalidTransfer):
        ledger.system_account(session, "unit")


def test_finding_accounts_that_do_not_exist(session, books):
    with pytest.raises(ledger.UnknownAccount):
        ledger.unit_account(session, 999_999)
    with pytest.raises(ledger.UnknownAccount):
        ledger.card_account(session, 999_999, "reserve")
    with pytest.raises(ledger.InvalidTransfer):
        ledger.card_account(session, books.holders[0].card_ids[0], "unit")
    with pytest.raises(ledger.UnknownAccount):
        ledger.freeze_account(session, 999_999)
    with pytest.raises(ledger.UnknownAccount):
        ledger.get_account(session, 999_999)


def test_freeze_and_unfreeze_are_idempotent(session, funded):
    ledger.freeze_account(session, funded.reserves[0])
    assert ledger.freeze_account(session, funded.reserves[0]).frozen
    session.commit()
    session.expire_all()
    assert ledger.get_account(session, funded.reserves[0]).frozen
    ledger.unfreeze_account(session, funded.reserves[0])
    assert not ledger.unfreeze_account(session, funded.reserves[0]).frozen


def test_a_station_has_its_own_system_accounts_created_once(session, books):
    from tests.builders import create_region, create_station

    region = create_region(session, "31")
    one, two = (create_station(session, code, region, name=code) for code in ("ST310001", "ST310002"))
    sales = ledger.station_account(session, "station_sales", one.id)
    assert (sales.station_id, sales.customer_id, sales.ledger, sales.no_overdraft) == (one.id, None, "CNY", False)
    assert ledger.station_account(session, "station_sales", one.id).id == sales.id
    assert ledger.station_account(session, "station_sales", two.id).id != sales.id
    assert sales.id != books.sales  # the national account stays apart
    assert ledger.station_account(session, "points_issued", one.id).ledger == "PTS"
    ids = ledger.system_account_ids(session, ["station_sales", "points_issued"], station_id=one.id)
    assert ids["station_sales"] == sales.id
    assert ledger.system_account_ids(session, ["station_sales"])["station_sales"] == books.sales
    with pytest.raises(ledger.InvalidTransfer):
        ledger.station_account(session, "deposits_clearing", one.id)

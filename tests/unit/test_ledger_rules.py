"""The ledger's rules as pure functions (no database)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from portal.ledger import errors
from portal.ledger.rules import (
    FLOWS,
    MAX_AMOUNT,
    AccountState,
    apply_pending,
    apply_post_pending,
    apply_posted,
    apply_void_pending,
    check_amount,
    check_closable,
    check_id,
    check_pair,
    check_request_shape,
)


def acct(id_=1, kind="unit", ledger="CNY", customer_id=7, no_overdraft=True, **totals):
    return AccountState(id_, ledger, kind, customer_id, no_overdraft, False, False, **totals)


def test_import_of_the_ledger_does_not_import_flask():
    code = "import sys, portal.ledger; sys.exit(1 if any(m == 'flask' or m.startswith('flask') for m in sys.modules) else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.parametrize("amount", [1, 100, MAX_AMOUNT])
def test_good_amounts(amount):
    assert check_amount(amount) == amount


@pytest.mark.parametrize("amount", [0, -5, 1.0, "1", True, False, None, MAX_AMOUNT + 1])
def test_bad_amounts(amount):
    with pytest.raises(errors.InvalidAmount):
        check_amount(amount)


@pytest.mark.parametrize("tid", ["a", "alloc:6f1c2b1e-8a9d-4f5e-9c3b-2a1d0e9f8c7b:999", "x" * 64])
def test_good_ids(tid):
    assert check_id(tid) == tid


@pytest.mark.parametrize("tid", ["", " ", "a b", "x" * 65, "é", b"abc", 1])
def test_bad_ids(tid):
    with pytest.raises(errors.InvalidTransfer):
        check_id(tid)


def test_request_shape():
    check_request_shape("t", 1, 2, 5, "allocation", "")
    with pytest.raises(errors.SameAccount):
        check_request_shape("t", 1, 1, 5, "allocation", "")
    with pytest.raises(errors.InvalidTransfer):
        check_request_shape("t", 1, "2", 5, "allocation", "")
    with pytest.raises(errors.InvalidTransfer):
        check_request_shape("t", 1, 2, 5, "allocation", "m" * 201)
    with pytest.raises(errors.InvalidTransfer):
        check_request_shape("t", 1, 2, 5, "reversal", "")


def test_every_error_is_a_ledger_error():
    for name in dir(errors):
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, errors.LedgerError)


def test_pairs_stay_in_one_ledger_one_customer_and_their_flow():
    unit, reserve = acct(1, "unit"), acct(2, "reserve")
    check_pair(unit, reserve, "allocation")
    check_pair(unit, reserve, "allocation", customer_id=7)
    with pytest.raises(errors.InvalidTransfer):
        check_pair(reserve, unit, "allocation")
    with pytest.raises(errors.ForeignAccount):
        check_pair(unit, reserve, "allocation", customer_id=8)
    with pytest.raises(errors.ForeignAccount):
        check_pair(unit, acct(3, "reserve", customer_id=8), "allocation")
    with pytest.raises(errors.LedgerMismatch):
        check_pair(acct(4, "deposits_clearing", customer_id=None), acct(5, "points", "PTS"), "deposit")
    check_pair(reserve, unit, None)  # reversals skip the flow check


def test_every_flow_is_between_known_kinds():
    from portal.ledger.models import ACCOUNT_KINDS, TRANSFER_CODES

    assert set(FLOWS) == set(TRANSFER_CODES) - {"reversal"}
    assert {kind for pairs in FLOWS.values() for pair in pairs for kind in pair} <= set(ACCOUNT_KINDS)


def test_posting_moves_both_sides():
    d, c = acct(1, credits_posted=100), acct(2, "reserve")
    apply_posted(d, c, 60, "allocation")
    assert d.totals == (60, 100, 0, 0) and c.totals == (0, 60, 0, 0)


def test_no_overdraft_counts_pending_debits_and_changes_nothing_on_refusal():
    d, c = acct(1, credits_posted=100, debits_pending=30), acct(2, "reserve")
    with pytest.raises(errors.InsufficientFunds) as excinfo:
        apply_posted(d, c, 71, "allocation")
    assert (excinfo.value.available, excinfo.value.amount) == (70, 71)
    assert d.totals == (0, 100, 30, 0) and c.totals == (0, 0, 0, 0)
    with pytest.raises(errors.InsufficientFunds):
        apply_pending(d, c, 71)
    assert d.totals == (0, 100, 30, 0)
    apply_posted(d, c, 70, "allocation")
    assert d.available == 0


def test_accounts_without_the_flag_may_go_negative():
    d, c = acct(1, "deposits_clearing", customer_id=None, no_overdraft=False), acct(2)
    apply_posted(d, c, 500, "deposit")
    assert d.credits_posted - d.debits_posted == -500


def test_frozen_and_closed():
    d, c = acct(1, credits_posted=100), acct(2, "reserve")
    d.frozen = True
    with pytest.raises(errors.AccountFrozen):
        apply_posted(d, c, 1, "allocation")
    with pytest.raises(errors.AccountFrozen):
        apply_pending(d, c, 1)
    apply_posted(d, c, 1, "replacement")  # a replacement card takes over a frozen card's funds
    apply_posted(c, d, 1, "collection")  # credits still land on a frozen account
    c.closed = True
    with pytest.raises(errors.AccountClosed):
        apply_posted(d, c, 1, "replacement")
    with pytest.raises(errors.AccountClosed):
        apply_posted(c, d, 1, "collection")


def test_pending_post_and_void():
    d, c = acct(1, credits_posted=100), acct(2, "purse")
    apply_pending(d, c, 80)
    assert d.totals == (0, 100, 80, 0) and c.totals == (0, 0, 0, 80)
    with pytest.raises(errors.InvalidAmount):
        apply_post_pending(d, c, 80, 81)
    apply_post_pending(d, c, 80, 50)
    assert d.totals == (50, 100, 0, 0) and c.totals == (0, 50, 0, 0)
    apply_pending(d, c, 20)
    apply_void_pending(d, c, 20)
    assert d.totals == (50, 100, 0, 0) and c.totals == (0, 50, 0, 0)


def test_closing_needs_an_empty_account():
    check_closable(acct(1, debits_posted=5, credits_posted=5))
    for totals in ({"credits_posted": 1}, {"credits_pending": 1, "credits_posted": 0}, {"debits_pending": 1}):
        with pytest.raises(errors.AccountClosed):
            check_closable(acct(1, **totals))

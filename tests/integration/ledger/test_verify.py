"""`verify` and `flask ledger verify`: they pass on sound books and catch every kind of tampering."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from portal import ledger
from portal.ledger import TransferRequest as R


@pytest.fixture
def busy(session, books, now):
    """Books with every kind of journal row."""
    h = books.holders[0]
    ledger.transfer_batch(
        session,
        [
            R("dep", books.clearing, h.unit, 10_000, "deposit"),
            R("a0", h.unit, h.reserves[0], 3_000, "allocation"),
            R("a1", h.unit, h.reserves[1], 2_000, "allocation"),
        ],
        now=now,
    )
    later = now + timedelta(hours=1)
    ledger.create_pending(session, R("l1", h.reserves[0], h.purses[0], 1_000, "load"), now=now, expires_at=later)
    ledger.create_pending(session, R("l2", h.reserves[0], h.purses[0], 500, "load"), now=now, expires_at=later)
    ledger.create_pending(session, R("l3", h.reserves[1], h.purses[1], 700, "load"), now=now, expires_at=later)
    ledger.post_pending(session, "p1", "l1", now=now, amount=800)
    ledger.void_pending(session, "v2", "l2", now=now)
    ledger.transfer(session, R("buy", h.purses[0], books.sales, 300, "purchase"), now=now)
    ledger.reverse(session, "r-buy", "buy", now=now)
    ledger.transfer(session, R("earn", books.points_issued, h.points, 50, "points_earn"), now=now)
    session.commit()
    return h


def test_sound_books_verify(session, busy):
    report = ledger.verify(session)
    assert report.ok, report.problems
    assert report.lines()[-1] == "OK: the books balance"
    assert any("ledger CNY" in line and "1 open holds" in line for line in report.summary)
    assert any("ledger PTS" in line for line in report.summary)


def test_empty_books_verify(session):
    assert ledger.verify(session).ok


def raw_transfer(session, id_, ledger_, debit, credit, amount, code, kind, pending_id=None, reversal_of=None):
    """Write a journal row behind the ledger's back (as a buggy or malicious writer would)."""
    session.execute(
        text(
            "INSERT INTO ledger_transfers (id, ledger, debit_account_id, credit_account_id, amount, code, kind, "
            "pending_id, reversal_of, memo, created_at) "
            "VALUES (:id, :ledger, :debit, :credit, :amount, :code, :kind, :pending_id, :reversal_of, '', :at)"
        ),
        {
            "id": id_,
            "ledger": ledger_,
            "debit": debit,
            "credit": credit,
            "amount": amount,
            "code": code,
            "kind": kind,
            "pending_id": pending_id,
            "reversal_of": reversal_of,
            "at": datetime(2026, 3, 2, 2),
        },
    )
    session.commit()


def test_a_raw_posting_that_skips_the_totals_is_reported(session, books, busy, now):
    raw_transfer(
        session,
        "raw",
        "CNY",
        busy.unit,
        busy.reserves[2],
        100,
        "allocation",
        "posted",
    )
    report = ledger.verify(session)
    assert not report.ok
    text_ = "\n".join(report.problems)
    assert f"account {busy.unit} (unit)" in text_ and f"account {busy.reserves[2]} (reserve)" in text_


def test_a_tampered_balance_is_reported(session, busy):
    session.execute(
        text("UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE id = :id"), {"id": busy.unit}
    )
    session.commit()
    problems = ledger.verify(session).problems
    assert any("posted debits" in p and "!= posted credits" in p for p in problems)
    assert any(f"account {busy.unit} (unit): stored totals" in p for p in problems)


def test_a_tampered_pending_total_is_reported(session, busy):
    session.execute(text("UPDATE ledger_accounts SET credits_pending = 0 WHERE id = :id"), {"id": busy.purses[1]})
    session.commit()
    problems = ledger.verify(session).problems
    assert any("pending debits 700 != pending credits 0" in p for p in problems)


def test_a_posting_across_ledgers_is_reported(session, books, busy):
    raw_transfer(
        session,
        "mixed",
        "CNY",
        books.points_issued,
        busy.points,
        5,
        "points_earn",
        "posted",
    )
    assert any("not in the transfer's ledger: mixed" in p for p in ledger.verify(session).problems)


def test_a_post_larger_than_its_hold_is_reported(session, busy):
    # l3 holds 700 on reserve 1; a forged post of 900 also leaves the totals wrong
    raw_transfer(
        session,
        "forged",
        "CNY",
        busy.reserves[1],
        busy.purses[1],
        900,
        "load",
        "post_pending",
        pending_id="l3",
    )
    problems = ledger.verify(session).problems
    assert any("do not match their pending transfer: forged" in p for p in problems)


def test_a_reversal_that_does_not_mirror_is_reported(session, busy):
    raw_transfer(
        session,
        "bad-rev",
        "CNY",
        busy.reserves[1],
        busy.unit,
        1,
        "reversal",
        "posted",
        reversal_of="a1",
    )
    assert any("do not mirror the transfer they undo: bad-rev" in p for p in ledger.verify(session).problems)


def test_the_cli_exits_0_on_sound_books_and_1_on_broken_ones(app, runner, session, busy):
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output
    assert "OK: the books balance" in result.output
    session.execute(
        text("UPDATE ledger_accounts SET debits_posted = debits_posted + 7 WHERE id = :id"), {"id": busy.unit}
    )
    session.commit()
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert "FAILED" in result.output and f"account {busy.unit} (unit)" in result.output


def test_the_cli_shows_a_balance_and_expires_holds(app, runner, clock, session, busy):
    result = runner.invoke(args=["ledger", "balance", str(busy.reserves[1])])
    assert result.exit_code == 0, result.output
    assert "balance 2000  available 1300" in result.output
    assert runner.invoke(args=["ledger", "balance", "999999"]).exit_code == 1
    clock.advance(timedelta(hours=2))
    result = runner.invoke(args=["ledger", "expire-pending"])
    assert "voided 1 expired" in result.output
    assert runner.invoke(args=["ledger", "verify"]).exit_code == 0
    session.expire_all()
    assert ledger.available(ledger.get_account(session, busy.reserves[1])) == 2_000


@pytest.mark.postgres
def test_the_journal_refuses_update_and_delete_on_postgresql(session, busy):
    for statement in (
        "UPDATE ledger_transfers SET amount = 1 WHERE id = 'dep'",
        "DELETE FROM ledger_transfers WHERE id = 'buy'",
        "UPDATE ledger_transfers SET memo = 'x' WHERE false",  # statement-level: refused even for no rows
    ):
        with pytest.raises(Exception, match="append-only"):
            session.execute(text(statement))
        session.rollback()
    assert session.get(ledger.Transfer, "dep").amount == 10_000


def test_a_transfer_between_kinds_its_code_does_not_allow_is_reported(session, books, busy):
    # a "purchase" paid from a reserve (purchases come from the chip purse): the totals are kept
    # right by hand, so only the flow check can see it
    raw_transfer(session, "odd-flow", "CNY", busy.reserves[0], books.sales, 5, "purchase", "posted")
    session.execute(
        text("UPDATE ledger_accounts SET debits_posted = debits_posted + 5 WHERE id = :id"), {"id": busy.reserves[0]}
    )
    session.execute(
        text("UPDATE ledger_accounts SET credits_posted = credits_posted + 5 WHERE id = :id"), {"id": books.sales}
    )
    session.commit()
    problems = ledger.verify(session).problems
    assert problems == ["1 transfers between accounts their code does not allow: odd-flow"]

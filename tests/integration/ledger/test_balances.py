"""The read side: balances of a customer's accounts, of one card, and of many cards in one statement."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from portal import ledger
from portal.cards.models import Card
from portal.ledger import TransferRequest as R
from tests.builders import make_books


@pytest.fixture
def funded(session, books, now):
    """Holder 0: 1,000 deposited; card 0 has 700 on its reserve (200 of it held by a load) and
    100 on its purse; card 1 has 50 points; the customer has 30 points of its own."""
    h = books.holders[0]
    ledger.transfer_batch(
        session,
        [
            R("dep", books.clearing, h.unit, 1_000, "deposit"),
            R("alloc", h.unit, h.reserves[0], 800, "allocation"),
            R("load-0", h.reserves[0], h.purses[0], 100, "load"),
            R("pts-card", books.points_issued, h.card_points[1], 50, "points_earn"),
            R("pts-cust", books.points_issued, h.points, 30, "points_earn"),
        ],
        now=now,
    )
    ledger.create_pending(
        session, R("load-1", h.reserves[0], h.purses[0], 200, "load"), now=now, expires_at=now + timedelta(hours=1)
    )
    session.commit()
    return h


@pytest.fixture
def sql(session):
    """The SQL statements sent on the session's engine during the test (transaction control left
    out); the test clears the list before the read it counts."""
    sent: list[str] = []

    def record(_conn, _cursor, statement, *_):
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            sent.append(statement)

    event.listen(session.get_bind(), "before_cursor_execute", record)
    yield sent
    event.remove(session.get_bind(), "before_cursor_execute", record)


def test_a_customers_accounts(session, books, funded):
    customer = ledger.customer_balances(session, funded.customer_id)
    assert customer.unit == ledger.Balance(posted=200, held=0, opened=True)
    assert customer.unit.available == 200
    assert customer.points == ledger.Balance(posted=30, held=0, opened=True)
    other = ledger.customer_balances(session, books.holders[1].customer_id)
    assert (other.unit.posted, other.unit.opened, other.points.posted) == (0, True, 0)


def test_a_customer_without_accounts_reads_zeros(session):
    assert ledger.customer_balances(session, 999_999) == ledger.CustomerBalances()
    assert ledger.customer_balances(session, 999_999).unit == ledger.Balance(0, 0, False)


def test_one_card(session, funded):
    card = ledger.card_balances(session, funded.card_ids[0])
    assert card.reserve == ledger.Balance(posted=700, held=200, opened=True)
    assert card.reserve.available == 500
    assert card.purse == ledger.Balance(posted=100, held=0, opened=True)  # a pending credit is not posted
    assert card.points.posted == 0 and card.points.opened
    assert ledger.card_balances(session, funded.card_ids[1]).points.posted == 50


def test_the_figures_agree_with_the_accounts(session, books, funded):
    for h in books.holders:
        read = ledger.many_card_balances(session, h.card_ids)
        for card_id, reserve, purse, points in zip(h.card_ids, h.reserves, h.purses, h.card_points, strict=True):
            for balance, account_id in ((read[card_id].reserve, reserve), (read[card_id].purse, purse),
                                        (read[card_id].points, points)):  # fmt: skip
                account = ledger.get_account(session, account_id)
                assert (balance.posted, balance.available) == (ledger.balance(account), ledger.available(account))


def test_many_cards_are_read_in_one_statement_whatever_their_number(session, now, sql):
    books = make_books(session, now, customers=1, cards=25)
    h = books.holders[0]
    ledger.transfer(session, R("dep", books.clearing, h.unit, 2_500, "deposit"), now=now)
    ledger.transfer_batch(
        session, [R(f"a{i}", h.unit, reserve, 100, "allocation") for i, reserve in enumerate(h.reserves)], now=now
    )
    session.commit()
    for count in (1, 3, 25):
        sql.clear()
        read = ledger.many_card_balances(session, h.card_ids[:count])
        assert len(sql) == 1, sql
        assert sorted(read) == sorted(h.card_ids[:count])
        assert {b.reserve.posted for b in read.values()} == {100}
    sql.clear()
    assert ledger.many_card_balances(session, []) == {}
    assert sql == []


def test_a_card_without_accounts_reads_zeros(session, books, funded, now):
    card = Card(number="9000000099999999", customer_id=funded.customer_id, role="sub", issued_at=now,
                expires_on=now.date())  # fmt: skip
    session.add(card)
    session.flush()
    read = ledger.many_card_balances(session, [card.id, funded.card_ids[0]])
    assert read[card.id] == ledger.CardBalances()
    assert read[funded.card_ids[0]].reserve.posted == 700


def test_posted_total_of_accounts(session, books, funded):
    assert ledger.posted_total(session, [funded.points, *funded.card_points]) == 80
    assert ledger.posted_total(session, []) == 0


def test_a_balance_column_sorts_cards_in_the_callers_statement(session, funded):
    reserve = ledger.card_balance_column("reserve")
    held = ledger.card_balance_column("reserve", "held")
    points = ledger.card_balance_column("points", "available")
    rows = session.execute(
        select(Card.id, reserve, held, points)
        .join(ledger.Account, ledger.Account.card_id == Card.id)
        .where(Card.customer_id == funded.customer_id)
        .group_by(Card.id)
        .order_by(reserve.desc(), Card.id)
    ).all()
    assert [tuple(r) for r in rows] == [
        (funded.card_ids[0], 700, 200, 0),
        (funded.card_ids[1], 0, 0, 50),
        (funded.card_ids[2], 0, 0, 0),
    ]

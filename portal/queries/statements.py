"""对账单: per month and per account, the opening balance, every movement and the closing balance.

Computed from the journal alone (posted and confirmed rows; pending holds and voids move nothing),
so a statement agrees with the ledger by construction: opening + movements = closing, and the
closing balance of the current month is the account's balance now (a test checks both).
Months are Asia/Shanghai calendar months.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from portal.cards.models import Card
from portal.clock import business_day_bounds
from portal.ledger.models import MONEY, Account, Transfer
from portal.queries.filters import add_months
from portal.queries.journal import POSTED_KINDS
from portal.queries.scope import Scope, resolve_card

_MONTH = re.compile(r"(\d{4})-(\d{2})", re.ASCII)
#: The oldest month a statement may be asked for (bounds the inputs, not the data).
EARLIEST = date(2000, 1, 1)


class BadMonth(ValueError):
    """Not a month like 2026-03, or one in the future."""


def parse_month(text: str, *, today: date) -> date:
    match = _MONTH.fullmatch(text.strip())
    if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < EARLIEST.year:
        raise BadMonth(text)
    month = date(int(match[1]), int(match[2]), 1)
    if month < EARLIEST or month > today.replace(day=1):
        raise BadMonth(text)
    return month


@dataclass(frozen=True)
class Line:
    transfer: Transfer
    #: Money in (+) or out (-) of this account.
    signed: int
    balance_after: int
    #: The other side's kind (unit, reserve, station_sales, ...) and card number if a card's.
    other_kind: str
    other_card: str


@dataclass(frozen=True)
class AccountStatement:
    account: Account
    card_number: str
    month: date
    opening: int
    lines: list[Line]
    closing: int
    money_in: int
    money_out: int


def _bounds(month: date):
    return business_day_bounds(month)[0], business_day_bounds(add_months(month, 1))[0]


def account_statement(session: Session, account: Account, month: date, card_number: str = "") -> AccountStatement:
    start, end = _bounds(month)
    touches = or_(Transfer.debit_account_id == account.id, Transfer.credit_account_id == account.id)
    signed = case((Transfer.credit_account_id == account.id, Transfer.amount), else_=-Transfer.amount)
    posted = [touches, Transfer.kind.in_(POSTED_KINDS)]
    opening = int(
        session.scalar(select(func.coalesce(func.sum(signed), 0)).where(*posted, Transfer.created_at < start)) or 0
    )
    transfers = session.scalars(
        select(Transfer)
        .where(*posted, Transfer.created_at >= start, Transfer.created_at < end)
        .order_by(Transfer.created_at, Transfer.id)
    ).all()
    others = {t.debit_account_id if t.credit_account_id == account.id else t.credit_account_id for t in transfers}
    other_rows = {
        row.id: row
        for row in session.execute(
            select(Account.id, Account.kind, Account.card_id).where(Account.id.in_(others or {-1}))
        )
    }
    numbers = dict(
        session.execute(
            select(Card.id, Card.number).where(
                Card.id.in_({r.card_id for r in other_rows.values() if r.card_id} or {-1})
            )
        ).all()
    )
    balance, lines, money_in, money_out = opening, [], 0, 0
    for t in transfers:
        amount = t.amount if t.credit_account_id == account.id else -t.amount
        balance += amount
        money_in += max(amount, 0)
        money_out += max(-amount, 0)
        other = other_rows.get(t.debit_account_id if amount > 0 else t.credit_account_id)
        lines.append(
            Line(t, amount, balance, other.kind if other else "", numbers.get(other.card_id, "") if other else "")
        )
    return AccountStatement(account, card_number, month, opening, lines, balance, money_in, money_out)


def statements(session: Session, scope: Scope, month: date, card_number: str = "") -> list[AccountStatement]:
    """The unit account's statement (fleet admins, no card given), or a card's reserve and purse."""
    if not card_number:
        if not scope.whole_customer:
            return []
        unit = session.scalar(
            select(Account).where(
                Account.customer_id == scope.customer_id, Account.kind == "unit", Account.card_id.is_(None)
            )
        )
        return [account_statement(session, unit, month)] if unit is not None else []
    card = resolve_card(session, scope, card_number)
    accounts = session.scalars(
        select(Account)
        .where(Account.card_id == card.id, Account.ledger == MONEY, Account.kind.in_(("reserve", "purse")))
        .order_by(case((Account.kind == "reserve", 0), else_=1))
    ).all()
    return [account_statement(session, account, month, card.number) for account in accounts]

"""积分交易统计: points earned, taken back by refunds, redeemed, expired and carried over by card
replacements, by day, month or card, from the POINTS ledger.

Each journal row counts on the scope's side of it: + on the account it credits, - on the one it
debits (both when it moves points between two of the scope's cards). So a row's net is exactly
what the ledger says its points changed by, and the net over all time is the points balance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.orm import Session

from portal.ledger.models import POINTS, Account, Transfer
from portal.queries.accounts import scope_accounts
from portal.queries.filters import Filter, FilterSpec
from portal.queries.journal import POSTED_KINDS
from portal.queries.names import Names
from portal.queries.scope import Scope
from portal.sql_clock import business_day, business_month

GROUPS = ("day", "month", "card")
#: Journal code -> the report's column (a reversal takes back points a refunded purchase earned).
COLUMNS = {
    "points_earn": "earned",
    "reversal": "taken_back",
    "points_redeem": "redeemed",
    "points_expire": "expired",
    "replacement": "carried",
}


def spec(max_months: int = 24) -> FilterSpec:
    return FilterSpec(extra={"group": GROUPS}, defaults={"group": "day"}, max_months=max_months)


@dataclass
class Row:
    key: object
    label: str = ""
    earned: int = 0
    #: Points a refund took back from the card (reversals of what the purchase earned).
    taken_back: int = 0
    redeemed: int = 0
    expired: int = 0
    #: Points a replacement card inherited (+) or a replaced card handed over (-).
    carried: int = 0

    @property
    def net(self) -> int:
        return self.earned - self.taken_back - self.redeemed - self.expired + self.carried

    def add(self, column: str, signed: int) -> None:
        """Add the scope's signed change of one code: earnings and carry-overs count as they come,
        the others are shown as positive amounts taken away."""
        value = signed if column in ("earned", "carried") else -signed
        setattr(self, column, getattr(self, column) + value)


@dataclass
class Report:
    group: str
    rows: list[Row] = field(default_factory=list)
    total: Row = field(default_factory=lambda: Row(None))


def _sides(ids: list[int], start, end):
    """One row per (transfer, side in the scope): created_at, code, account id, signed amount."""
    where = (
        Transfer.ledger == POINTS,
        Transfer.kind.in_(POSTED_KINDS),
        Transfer.code.in_(tuple(COLUMNS)),
        Transfer.created_at >= start,
        Transfer.created_at < end,
    )
    credits = select(
        Transfer.created_at.label("at"),
        Transfer.code.label("code"),
        Transfer.credit_account_id.label("account_id"),
        Transfer.amount.label("signed"),
    ).where(*where, Transfer.credit_account_id.in_(ids))
    debits = select(
        Transfer.created_at.label("at"),
        Transfer.code.label("code"),
        Transfer.debit_account_id.label("account_id"),
        (literal(0) - Transfer.amount).label("signed"),
    ).where(*where, Transfer.debit_account_id.in_(ids))
    return union_all(credits, debits).subquery("sides")


def report(session: Session, scope: Scope, flt: Filter, *, locale: str = "zh_CN") -> Report:
    group = flt.get("group", "day")
    accounts = scope_accounts(session, scope, POINTS, flt)
    ids = sorted(accounts) or [-1]
    start, end = flt.utc_range
    sides = _sides(ids, start, end)
    key = {
        "day": business_day(sides.c.at),
        "month": business_month(sides.c.at),
        "card": Account.card_id,
    }[group].label("key")
    query = (
        select(key, sides.c.code, func.sum(sides.c.signed))
        .select_from(sides)
        .join(Account, Account.id == sides.c.account_id)
        .group_by(key, sides.c.code)
        .order_by(key)
    )
    rows: dict[object, Row] = {}
    for k, code, signed in session.execute(query):
        rows.setdefault(k, Row(k)).add(COLUMNS[code], int(signed))
    result = Report(group, list(rows.values()))
    names = Names(session, locale).cards({r.key for r in result.rows}) if group == "card" else {}
    for row in result.rows:
        row.label = names.get(row.key, "") if group == "card" else (row.key or "")
        for column in COLUMNS.values():
            setattr(result.total, column, getattr(result.total, column) + getattr(row, column))
    return result

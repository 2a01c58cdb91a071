"""积分交易统计: points earned, redeemed and expired by day, month or card, from the POINTS ledger."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, aliased

from portal.ledger.models import POINTS, Account, Transfer
from portal.queries.accounts import scope_accounts
from portal.queries.filters import Filter, FilterSpec
from portal.queries.journal import POSTED_KINDS
from portal.queries.names import Names
from portal.queries.scope import Scope
from portal.sql_clock import business_day, business_month

GROUPS = ("day", "month", "card")
CODES = ("points_earn", "points_redeem", "points_expire")


def spec(max_months: int = 24) -> FilterSpec:
    return FilterSpec(extra={"group": GROUPS}, defaults={"group": "day"}, max_months=max_months)


@dataclass
class Row:
    key: object
    label: str = ""
    earned: int = 0
    redeemed: int = 0
    expired: int = 0

    @property
    def net(self) -> int:
        return self.earned - self.redeemed - self.expired


@dataclass
class Report:
    group: str
    rows: list[Row] = field(default_factory=list)
    total: Row = field(default_factory=lambda: Row(None))


def report(session: Session, scope: Scope, flt: Filter, *, locale: str = "zh_CN") -> Report:
    group = flt.get("group", "day")
    accounts = scope_accounts(session, scope, POINTS, flt)
    ids = sorted(accounts) or [-1]
    start, end = flt.utc_range
    # The scope's side of each row: the credited account for earnings, the debited one otherwise.
    mine = aliased(Account)
    own_side = case((Transfer.code == "points_earn", Transfer.credit_account_id), else_=Transfer.debit_account_id)
    key = {
        "day": business_day(Transfer.created_at),
        "month": business_month(Transfer.created_at),
        "card": mine.card_id,
    }[group].label("key")
    query = (
        select(key, Transfer.code, func.sum(Transfer.amount))
        .join(mine, mine.id == own_side)
        .where(
            Transfer.ledger == POINTS,
            Transfer.kind.in_(POSTED_KINDS),
            Transfer.code.in_(CODES),
            own_side.in_(ids),
            Transfer.created_at >= start,
            Transfer.created_at < end,
        )
        .group_by(key, Transfer.code)
        .order_by(key)
    )
    rows: dict[object, Row] = {}
    for k, code, amount in session.execute(query):
        row = rows.setdefault(k, Row(k))
        setattr(
            row, {"points_earn": "earned", "points_redeem": "redeemed", "points_expire": "expired"}[code], int(amount)
        )
    result = Report(group, list(rows.values()))
    names = Names(session, locale).cards({r.key for r in result.rows}) if group == "card" else {}
    for row in result.rows:
        row.label = names.get(row.key, "") if group == "card" else (row.key or "")
        result.total.earned += row.earned
        result.total.redeemed += row.redeemed
        result.total.expired += row.expired
    return result

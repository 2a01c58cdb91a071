"""Figures for the customer home page (客户首页): one call returns everything the page shows.

`home_summary(session, scope, today=...)` for a fleet admin (whole customer) or a driver (own cards).
Pure SQLAlchemy; the template partial is templates/queries/_home_summary.html. Other areas can add
alerts (e.g. the stations' anomaly checks) with `register_alert_hook`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import ledger
from portal.cards.models import CARD_STATUSES, Card
from portal.ledger.models import MONEY
from portal.purchases.models import Purchase
from portal.queries import balances, journal, purchases
from portal.queries.filters import Filter, add_months
from portal.queries.scope import Scope

#: A card whose reserve plus chip purse falls below this many fen is flagged (100 yuan).
LOW_BALANCE_FEN = 100_00
RECENT = 5


@dataclass(frozen=True)
class Alert:
    #: Stable code (low_balance, card_lost, funds_to_load, load_pending, or a hook's own).
    code: str
    #: "warning" or "danger".
    level: str
    card_number: str = ""
    amount: int | None = None


@dataclass(frozen=True)
class Period:
    #: Rows of the purchase page for the period: purchases and refunds (a refund is its own row).
    count: int
    amount: int
    litres_ml: int


@dataclass
class HomeSummary:
    whole_customer: bool
    unit_balance: int | None
    unit_available: int | None
    total_reserves: int
    total_chip: int
    pending_loads: int
    points: int
    cards_by_status: dict[str, int]
    this_month: Period
    last_month: Period
    recent_purchases: list[Purchase]
    recent_movements: list[journal.Movement]
    alerts: list[Alert] = field(default_factory=list)

    @property
    def amount_change_percent(self) -> int | None:
        """This month's amount against last month's, in whole percent (None without last month)."""
        if self.last_month.amount <= 0:
            return None
        return (self.this_month.amount - self.last_month.amount) * 100 // self.last_month.amount


#: Callables (session, scope, today) -> list[Alert], added by other areas.
ALERT_HOOKS: list[Callable[[Session, Scope, date], list[Alert]]] = []


def register_alert_hook(hook: Callable[[Session, Scope, date], list[Alert]]) -> None:
    if hook not in ALERT_HOOKS:
        ALERT_HOOKS.append(hook)


def _period(session: Session, scope: Scope, start: date, end: date) -> Period:
    flt = Filter(preset="custom", start=start, end=end, extra={"tab": "approved"})
    totals = purchases.totals(session, purchases.conditions(session, scope, flt))
    return Period(totals.count, totals.amount, totals.litres_ml)


def home_summary(session: Session, scope: Scope, *, today: date, low_balance_fen: int = LOW_BALANCE_FEN) -> HomeSummary:
    cards = balances.card_balances(session, scope)
    customer = ledger.customer_balances(session, scope.customer_id) if scope.whole_customer else None
    status_query = select(Card.status).where(Card.customer_id == scope.customer_id, Card.role == "sub")
    if scope.card_ids is not None:
        status_query = status_query.where(Card.id.in_(sorted(scope.card_ids) or [-1]))
    statuses = list(session.scalars(status_query))
    month = today.replace(day=1)
    last_month_end = month.fromordinal(month.toordinal() - 1)

    recent_filter = Filter(preset="custom", start=add_months(month, -11), end=today, extra={"tab": "approved"})
    recent_purchases = list(
        session.scalars(
            select(Purchase)
            .where(*purchases.conditions(session, scope, recent_filter))
            .order_by(Purchase.at.desc(), Purchase.id.desc())
            .limit(RECENT)
        )
    )
    j = journal.journal(session, scope, recent_filter, MONEY, journal.ACCOUNT_CODES)
    recent_movements = journal.page(session, j, recent_filter, key=None, limit=RECENT).rows

    summary = HomeSummary(
        whole_customer=scope.whole_customer,
        unit_balance=customer.unit.posted if customer else None,
        unit_available=customer.unit.available if customer else None,
        total_reserves=cards.reserve,
        total_chip=cards.purse,
        pending_loads=cards.pending,
        points=cards.points + (customer.points.posted if customer else 0),
        cards_by_status={status: statuses.count(status) for status in CARD_STATUSES},
        this_month=_period(session, scope, month, today),
        last_month=_period(session, scope, add_months(month, -1), last_month_end),
        recent_purchases=recent_purchases,
        recent_movements=recent_movements,
    )
    for card in cards.rows:
        if card.status == "lost":
            summary.alerts.append(Alert("card_lost", "danger", card.number))
        elif card.status == "active":
            if card.reserve + card.purse < low_balance_fen:
                summary.alerts.append(Alert("low_balance", "warning", card.number, card.reserve + card.purse))
            if card.reserve - card.pending > 0:
                summary.alerts.append(Alert("funds_to_load", "warning", card.number, card.reserve - card.pending))
            if card.pending:
                summary.alerts.append(Alert("load_pending", "warning", card.number, card.pending))
    for hook in ALERT_HOOKS:
        summary.alerts.extend(hook(session, scope, today))
    return summary

"""What the pump reads: the card looked up by number, and the two statements an authorization runs
under the card's lock (its facts, then its purchase history). Built once, at import.

The pump's statements are built once, here, with bind parameters: SQLAlchemy then finds their
compiled form by a cache key it computed once, instead of building and hashing a new statement
tree per request, and they are plain Core rows, without the ORM's per-row object work. Their
parts that are another area's rules come from that area: which points rules may apply
(`portal.points.models`), the alert facts "approved fills today" and "the previous fill within
24 h" (`portal.alerts.facts`).
"""

from __future__ import annotations

from dataclasses import fields

from sqlalchemy import BigInteger, and_, bindparam, case, func, select, true
from sqlalchemy.orm import Session

from portal.alerts.facts import approved_on_day, fills_among_day_rows, previous_fill
from portal.alerts.models import Alert
from portal.cards import controls as card_controls
from portal.cards.models import Card, CardControls
from portal.customers.models import Customer
from portal.drivers.models import Vehicle
from portal.ledger.models import Account
from portal.points.models import PointsRule, rules_that_may_apply
from portal.purchases.models import Purchase
from portal.reference.models import Product, Station
from portal.webhooks.events import listening

# --- lookups --------------------------------------------------------------------------------------


def card_digits(number: str) -> str | None:
    """The card number as stored (digits only), or None when it cannot be one."""
    digits = "".join(ch for ch in (number or "") if ch.isdigit())
    return digits if digits and len(digits) <= 19 else None


def find_card(session: Session, number: str) -> Card | None:
    digits = card_digits(number)
    return None if digits is None else session.scalar(select(Card).where(Card.number == digits))


def by_terminal_seq(session: Session, terminal_id: int, seq: int) -> Purchase | None:
    """The purchase or refund a terminal sent with this sequence number (its idempotency key)."""
    return session.scalar(select(Purchase).where(Purchase.terminal_id == terminal_id, Purchase.terminal_seq == seq))


def lock_purse(session: Session, card_id: int) -> Account | None:
    """The card's purse account, its row locked until commit (the per-card serialization point)."""
    return session.scalar(
        select(Account)
        .where(Account.card_id == card_id, Account.kind == "purse")
        .with_for_update()
        .execution_options(populate_existing=True)
    )


# --- the authorization's two statements -----------------------------------------------------------

_cards = Card.__table__
_purses = Account.__table__.alias("purse")
_points_accounts = Account.__table__.alias("points_account")
_controls = CardControls.__table__
_vehicles = Vehicle.__table__
_customers = Customer.__table__
_products = Product.__table__
_stations = Station.__table__
_rules = PointsRule.__table__
_purchases = Purchase.__table__
_CONTROL_FIELDS = tuple(f.name for f in fields(card_controls.Controls))


def _station_account_id(kind: str):
    """The id of the station :station_id's own system account of `kind` (NULL until its first use)."""
    account = Account.__table__.alias(f"station_{kind}")
    where = and_(account.c.station_id == bindparam("station_id"), account.c.kind == kind)
    return select(account.c.id).where(where).scalar_subquery().label(f"{kind}_id")


def _facts_joins(*, lock: bool):
    """The card and what hangs off it, the product and station asked for, and the points rules
    that may apply to that product there (one row each; at least one row)."""
    has_purse = and_(_purses.c.card_id == _cards.c.id, _purses.c.kind == "purse")
    joined = _cards.join(_purses, has_purse) if lock else _cards.outerjoin(_purses, has_purse)
    return (
        joined.outerjoin(_controls, _controls.c.card_id == _cards.c.id)
        .outerjoin(
            _points_accounts, and_(_points_accounts.c.card_id == _cards.c.id, _points_accounts.c.kind == "points")
        )
        .outerjoin(_vehicles, _vehicles.c.id == _cards.c.vehicle_id)
        .outerjoin(_customers, _customers.c.id == _cards.c.customer_id)
        .outerjoin(_products, _products.c.code == bindparam("product_code"))
        .outerjoin(_stations, _stations.c.id == bindparam("station_id"))
        .outerjoin(_rules, rules_that_may_apply(_products.c.kind, _products.c.code, _stations.c.region_id))
    )


def _facts_columns() -> tuple:
    """The facts' columns, named as authorization reads them off the row."""
    return (
        _cards.c.id.label("card_id"),
        _cards.c.status.label("card_status"),
        *(_cards.c[name] for name in ("expires_on", "customer_id", "driver_id", "vehicle_id")),
        _purses.c.id.label("purse_id"),
        *(_purses.c[name] for name in ("frozen", "closed", "debits_posted", "credits_posted", "debits_pending")),
        _points_accounts.c.id.label("points_account_id"),
        _controls.c.card_id.label("controls_card_id"),
        *(_controls.c[name] for name in _CONTROL_FIELDS),
        _vehicles.c.id.label("vehicle_row_id"),
        *(_vehicles.c[name].label(f"vehicle_{name}") for name in ("plate", "tank_ml")),
        _customers.c.region_id.label("home_region_id"),
        listening(_cards.c.customer_id),
        _products.c.code.label("product_found"),
        _products.c.kind.label("product_kind"),
        _stations.c.id.label("station_found"),
        *(_stations.c[name].label(f"station_{name}") for name in ("active", "region_id", "lat_e6", "lon_e6", "name")),
        *(_rules.c[name].label(f"rule_{name}") for name in _RULE_FIELDS),
        _station_account_id("station_sales"),
        _station_account_id("points_issued"),
    )


#: The points rule's columns (each read as rule_<name>).
_RULE_FIELDS = ("id", "product_kind", "product_code", "region_id", "step_fen", "points_per_step")


def _facts_statement(*, lock: bool, claim: bool = False):
    """One row per points rule that may apply (at least one row) about the card numbered :number:
    the card, its purse (locked when `lock`), controls, points account, vehicle and customer's home
    region, the product :product_code and the station :station_id (NULL when unknown), and the ids
    of the system accounts an approval posts to. The choice among the rules stays in Python
    (`points.rules.choose_rule`)."""
    joined = _facts_joins(lock=lock)
    if claim:
        joined = _claim().join(joined, true())
    stmt = (
        select(*_facts_columns())
        .select_from(joined)
        .where(_cards.c.number == bindparam("number"))
        .order_by(_rules.c.id)  # rules.choose_rule keeps the first of equally specific rules
    )
    return stmt.with_for_update(of=_purses) if lock else stmt


def _claim():
    """The idempotency claim (portal.idempotency: the advisory lock :lock_id) as a one-row subquery
    the facts are joined to: no row leaves the join, so no purse row is locked, before the claim is
    held. A volatile function's subquery is never merged into the join, so it runs once."""
    return select(func.pg_advisory_xact_lock(bindparam("lock_id", type_=BigInteger)).label("claimed")).subquery("claim")


#: The pump's first statement: it waits for the card's lock. Cards without a purse (there is no
#: row to lock) are read by the second, without a lock, as before.
FACTS = _facts_statement(lock=True)
FACTS_WITHOUT_PURSE = _facts_statement(lock=False)
#: FACTS that first takes the sequence number's claim (PostgreSQL): one round trip instead of two.
#: Its snapshot may predate the claim's wait, as FACTS's predates the card lock's wait: the locked
#: purse row is read as it is once locked (PostgreSQL re-reads a row it waited for), the card's
#: other facts do not change with a purchase, and the history, which does, is read afterwards.
#: No row (no card with a purse): the claim may not have been taken; the caller takes it.
FACTS_CLAIMING = _facts_statement(lock=True, claim=True)


def _history_statement():
    """What the card's purchases say, read *after* the card's lock (each statement on PostgreSQL
    sees what committed before it began, and the locking one began before the wait) and before
    this purchase is inserted: a purchase with this terminal's sequence number, the business day's
    approved totals (refunds subtract), the alert facts (fills of the day, the card's latest fill
    within the travel window before :at), and which of the once-a-day alerts this purchase could
    raise were raised already (their checks then need no statement of their own)."""
    p = _purchases
    alerts = Alert.__table__
    sign = case((p.c.kind == "refund", -1), else_=1)
    day = (
        select(
            fills_among_day_rows().label("fills"),
            func.coalesce(func.sum(sign * p.c.amount_fen), 0).label("amount_fen"),
            func.coalesce(func.sum(sign), 0).label("count"),
            func.coalesce(func.sum(sign * p.c.litres_ml), 0).label("litres_ml"),
        )
        .where(
            *approved_on_day(
                card_id=bindparam("card_id"), day_start=bindparam("day_start"), day_end=bindparam("day_end")
            )
        )
        .subquery("day")
    )
    replay = select(p.c.id).where(p.c.terminal_id == bindparam("terminal_id"), p.c.terminal_seq == bindparam("seq"))
    on_card = {"card_id": bindparam("card_id"), "at": bindparam("at"), "since": bindparam("since")}

    def raised(key):
        return select(alerts.c.dedupe_key).where(alerts.c.dedupe_key == bindparam(key)).scalar_subquery()

    return select(
        replay.scalar_subquery().label("replay_id"),
        day.c.fills,
        day.c.amount_fen,
        day.c.count,
        day.c.litres_ml,
        previous_fill(p.c.station_id, **on_card).label("previous_station_id"),
        previous_fill(p.c.at, **on_card).label("previous_at"),
        raised("fills_alert_key").label("fills_alert_raised"),
        raised("region_alert_key").label("region_alert_raised"),
    ).select_from(day)


HISTORY = _history_statement()

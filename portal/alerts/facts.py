"""What the anomaly checks read about a card besides the purchase itself, each fact defined once.

"Approved fills today" (`approved_on_day`, `fills_among_day_rows`) and "the previous fill within
24 h" (`previous_fill`) are SQL built here and nowhere else: the pump's history statement
(portal.purchases.pump) composes them into the one statement it runs under the card's lock (the
fills are summed beside the day's totals, over the same rows), and `gather_facts` runs them for an
offline purchase. Both read *before* the purchase's own row is inserted, so both count it the same
way: the fills of the day so far, plus one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from portal.cards import controls as card_controls
from portal.cards.models import CardControls
from portal.clock import business_date, business_day_bounds
from portal.customers.models import Customer
from portal.drivers.models import Vehicle
from portal.purchases.models import Purchase

#: How far back impossible travel looks for the card's previous fill.
TRAVEL_WINDOW = timedelta(hours=24)

_purchases = Purchase.__table__


@dataclass(frozen=True, slots=True)
class Place:
    """A station as the travel check needs it."""

    lat_e6: int | None
    lon_e6: int | None
    name: str


@dataclass(frozen=True, slots=True)
class PurchaseFacts:
    """What the checks of an approved purchase read besides the purchase itself.

    Authorization has all of it from the two statements it runs under the card's lock anyway
    (portal.purchases.pump), so the common case, no alert, costs no statement here;
    `gather_facts` reads it for offline purchases.
    """

    controls: card_controls.Controls
    #: The customer's home region (only read when the card has no region controls).
    home_region_id: int | None
    #: The card's vehicle (both None: no vehicle).
    vehicle_plate: str | None
    vehicle_tank_ml: int | None
    #: Approved fills of the card on the purchase's business day, this one included.
    fills_today: int
    #: The card's latest other approved fill within TRAVEL_WINDOW before this one (None: none).
    previous_station_id: int | None
    previous_at: datetime | None
    #: The purchase's station (None: read when needed).
    station: Place | None = None
    #: Dedupe keys of once-a-day alerts this purchase could raise that exist already (a caller
    #: that does not know leaves it empty: the alert's insert looks them up).
    raised: frozenset[str] = frozenset()


def approved_on_day(*, card_id, day_start, day_end) -> tuple:
    """The card's approved rows (purchases and refunds) of the business day [day_start, day_end), as
    WHERE conditions (arguments are values or bind parameters)."""
    p = _purchases.c
    return (p.card_id == card_id, p.status == "approved", p.at >= day_start, p.at < day_end)


def fills_among_day_rows():
    """The fact "approved fills today", as an aggregate over `approved_on_day`'s rows: those that
    are purchases (refunds are not fills). The pump sums it beside the day's totals, over the same rows."""
    return func.coalesce(func.sum(case((_purchases.c.kind == "purchase", 1), else_=0)), 0)


def fills_today(*, card_id, day_start, day_end):
    """The fact "approved fills today": how many fills the card made on its business day before this
    purchase is inserted (a scalar subquery). PurchaseFacts.fills_today is this plus one."""
    where = approved_on_day(card_id=card_id, day_start=day_start, day_end=day_end)
    return select(fills_among_day_rows()).where(*where).scalar_subquery()


def previous_fill(column, *, card_id, at, since):
    """The fact "the previous fill within 24 h": `column` of the card's latest fill at or before `at` and
    after `since` (`at` - TRAVEL_WINDOW), read before this purchase is inserted (a scalar
    subquery; NULL when there is none)."""
    p = _purchases.c
    return (
        select(column)
        .where(p.card_id == card_id, p.status == "approved", p.kind == "purchase", p.at <= at, p.at > since)
        .order_by(p.at.desc(), p.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def fills_alert_key(card_id: int, at: datetime) -> str:
    """too_many_fills fires once per card and business day."""
    return f"too_many_fills:{card_id}:{business_date(at).isoformat()}"


def region_alert_key(card_id: int, at: datetime, region_id: int) -> str:
    """outside_region of a card without region controls fires once per card, business day and region."""
    return f"outside_region:{card_id}:{business_date(at).isoformat()}:{region_id}"


def gather_facts(session: Session, purchase: Purchase) -> PurchaseFacts:
    """PurchaseFacts of an approved purchase about to be inserted (not yet in the database)."""
    vehicle = session.get(Vehicle, purchase.vehicle_id) if purchase.vehicle_id is not None else None
    day_start, day_end = business_day_bounds(business_date(purchase.at))
    p = _purchases.c
    on_card = {"card_id": purchase.card_id, "at": purchase.at, "since": purchase.at - TRAVEL_WINDOW}
    history = session.execute(
        select(
            fills_today(card_id=purchase.card_id, day_start=day_start, day_end=day_end).label("fills"),
            previous_fill(p.station_id, **on_card).label("previous_station_id"),
            previous_fill(p.at, **on_card).label("previous_at"),
        )
    ).one()
    row = session.get(CardControls, purchase.card_id)
    controls = card_controls.NO_CONTROLS if row is None else card_controls.Controls.from_row(row)
    home = None
    if not controls.allowed_region_ids:  # the home region only matters without region controls
        home = session.scalar(select(Customer.region_id).where(Customer.id == purchase.customer_id))
    return PurchaseFacts(
        controls=controls,
        home_region_id=home,
        vehicle_plate=None if vehicle is None else vehicle.plate,
        vehicle_tank_ml=None if vehicle is None else vehicle.tank_ml,
        fills_today=int(history.fills) + 1,
        previous_station_id=history.previous_station_id,
        previous_at=history.previous_at,
    )

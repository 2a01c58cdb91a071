"""Finding anomalies in a card's purchases, right after each purchase is recorded.

Each check stores the figures that made it fire in `Alert.detail`, so the page can say why. A
`dedupe_key` makes each cause fire once (per purchase, or per card and day for daily patterns).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.cards import controls as card_controls
from portal.cards.models import CardControls
from portal.clock import business_date, business_day_bounds, to_local
from portal.customers.models import Customer
from portal.drivers.models import Vehicle
from portal.reference.models import Station
from portal.stations.models import Alert, Purchase

#: Never call fewer fills a day than this unusual, whatever the fleet's normal.
MIN_DAILY_FILLS = 3
#: A card is unusual above this multiple of its fleet's normal fills per card and day.
FLEET_NORMAL_FACTOR = 2
FLEET_NORMAL_WINDOW = timedelta(days=28)
#: Faster than this between two stations (straight line) is not driving.
MAX_SPEED_KMH = 120
MIN_TRAVEL_KM = 5
#: Declines of one card within the window that make an alert.
REPEATED_DECLINES = 3
DECLINE_WINDOW = timedelta(hours=1)
#: Local hours (Asia/Shanghai) at which a fill is unusual when the card has no hours control.
NIGHT_HOURS = range(0, 5)


#: How far back impossible travel looks for the card's previous fill.
TRAVEL_WINDOW = timedelta(hours=24)


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
    (portal.stations.authorization), so the common case, no alert, costs no statement here;
    `gather_facts` reads it for other callers (offline purchases).
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


def fills_alert_key(card_id: int, at: datetime) -> str:
    """too_many_fills fires once per card and business day."""
    return f"too_many_fills:{card_id}:{business_date(at).isoformat()}"


def region_alert_key(card_id: int, at: datetime, region_id: int) -> str:
    """outside_region of a card without region controls fires once per card, business day and region."""
    return f"outside_region:{card_id}:{business_date(at).isoformat()}:{region_id}"


def check_purchase(
    session: Session, purchase: Purchase, *, now: datetime, facts: PurchaseFacts | None = None
) -> list[Alert]:
    """Run every check that applies to a just-recorded purchase; returns the new alerts.

    `facts`: what the caller already read about the card (see PurchaseFacts); read here if None."""
    if purchase.kind != "purchase":
        return []
    if purchase.status == "declined":
        return _keep(session, [_repeated_declines(session, purchase)], now)
    if facts is None:
        facts = gather_facts(session, purchase)
    found = [
        _tank_overfill(purchase, facts),
        _too_many_fills(session, purchase, facts),
        _impossible_travel(session, purchase, facts),
        *_outside_controls(purchase, facts),
    ]
    return _keep(session, found, now)


def gather_facts(session: Session, purchase: Purchase) -> PurchaseFacts:
    """PurchaseFacts of a flushed approved purchase, read from the database."""
    vehicle = session.get(Vehicle, purchase.vehicle_id) if purchase.vehicle_id is not None else None
    start, end = business_day_bounds(business_date(purchase.at))
    fills = session.scalar(
        select(func.count(Purchase.id)).where(
            Purchase.card_id == purchase.card_id,
            Purchase.status == "approved",
            Purchase.kind == "purchase",
            Purchase.at >= start,
            Purchase.at < end,
        )
    )
    previous = session.execute(
        select(Purchase.station_id, Purchase.at)
        .where(
            Purchase.card_id == purchase.card_id,
            Purchase.status == "approved",
            Purchase.kind == "purchase",
            Purchase.at <= purchase.at,
            Purchase.id != purchase.id,
            Purchase.at > purchase.at - TRAVEL_WINDOW,
        )
        .order_by(Purchase.at.desc(), Purchase.id.desc())
        .limit(1)
    ).first()
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
        fills_today=fills,
        previous_station_id=None if previous is None else previous.station_id,
        previous_at=None if previous is None else previous.at,
    )


_ALERT_EXISTS = select(Alert.id).where(Alert.dedupe_key == bindparam("key"))


def _keep(session: Session, found: list, now: datetime) -> list[Alert]:
    alerts = []
    for item in found:
        if item is None:
            continue
        purchase, kind, key, detail = item
        if session.scalar(_ALERT_EXISTS, {"key": key}) is not None:
            continue
        alert = Alert(
            customer_id=purchase.customer_id,
            card_id=purchase.card_id,
            purchase_id=purchase.id,
            kind=kind,
            dedupe_key=key,
            detail=detail,
            created_at=now,
        )
        try:
            with session.begin_nested():
                session.add(alert)
        except IntegrityError:
            continue  # a concurrent purchase raised the same alert first
        alerts.append(alert)
    return alerts


def _day_key(purchase: Purchase) -> str:
    return business_date(purchase.at).isoformat()


def _tank_overfill(purchase: Purchase, facts: PurchaseFacts):
    if purchase.vehicle_id is None or facts.vehicle_tank_ml is None or purchase.litres_ml <= facts.vehicle_tank_ml:
        return None
    detail = {"litres_ml": purchase.litres_ml, "tank_ml": facts.vehicle_tank_ml, "plate": facts.vehicle_plate}
    return purchase, "tank_overfill", f"tank_overfill:{purchase.id}", detail


def fleet_normal_daily_fills(session: Session, customer_id: int, now: datetime) -> int:
    """Average approved fills per active card and day over the last four weeks, rounded up."""
    fills, cards = session.execute(
        select(func.count(Purchase.id), func.count(func.distinct(Purchase.card_id))).where(
            Purchase.customer_id == customer_id,
            Purchase.status == "approved",
            Purchase.kind == "purchase",
            Purchase.at >= now - FLEET_NORMAL_WINDOW,
            Purchase.at < now,
        )
    ).one()
    days = FLEET_NORMAL_WINDOW.days
    return max(1, -(-int(fills) // max(1, int(cards) * days)))


def _too_many_fills(session: Session, purchase: Purchase, facts: PurchaseFacts):
    count = facts.fills_today
    key = fills_alert_key(purchase.card_id, purchase.at)
    if count <= MIN_DAILY_FILLS or key in facts.raised:  # raised already today: skip the fleet's figures
        return None
    start, _end = business_day_bounds(business_date(purchase.at))
    normal = fleet_normal_daily_fills(session, purchase.customer_id, start)
    threshold = max(MIN_DAILY_FILLS, FLEET_NORMAL_FACTOR * normal)
    if count <= threshold:
        return None
    detail = {"count": count, "normal": normal, "threshold": threshold, "day": _day_key(purchase)}
    return purchase, "too_many_fills", key, detail


def distance_km(lat1_e6: int, lon1_e6: int, lat2_e6: int, lon2_e6: int) -> float:
    """Great-circle distance (haversine, Earth radius 6,371 km). Geometry, not money: floats are fine."""
    lat1, lon1, lat2, lon2 = (math.radians(v / 1_000_000) for v in (lat1_e6, lon1_e6, lat2_e6, lon2_e6))
    a = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(a))


def _impossible_travel(session: Session, purchase: Purchase, facts: PurchaseFacts):
    if facts.previous_station_id is None or facts.previous_station_id == purchase.station_id:
        return None
    here = facts.station or session.get(Station, purchase.station_id)
    there = session.get(Station, facts.previous_station_id)
    if None in (here.lat_e6, here.lon_e6, there.lat_e6, there.lon_e6):
        return None
    km = distance_km(there.lat_e6, there.lon_e6, here.lat_e6, here.lon_e6)
    minutes = max(1, int((purchase.at - facts.previous_at).total_seconds() // 60))
    if km < MIN_TRAVEL_KM or km * 60 <= MAX_SPEED_KMH * minutes:
        return None
    detail = {
        "km": round(km),
        "minutes": minutes,
        "from_station": there.name,
        "to_station": here.name,
        "max_kmh": MAX_SPEED_KMH,
    }
    return purchase, "impossible_travel", f"impossible_travel:{purchase.id}", detail


def _outside_controls(purchase: Purchase, facts: PurchaseFacts) -> list:
    """Hours and regions. Online purchases outside the card's controls were declined already, so
    with controls this catches offline purchases; without controls it flags night fills and fills
    outside the customer's home region."""
    controls = facts.controls
    found = []
    local = to_local(purchase.at)
    if controls.hours_start_min is not None:
        if not card_controls.within_hours(controls, purchase.at):
            detail = {
                "time": local.strftime("%H:%M"),
                "allowed": card_controls.format_hours(controls.hours_start_min, controls.hours_end_min),
            }
            found.append((purchase, "outside_hours", f"outside_hours:{purchase.id}", detail))
    elif local.hour in NIGHT_HOURS:
        detail = {"time": local.strftime("%H:%M"), "allowed": ""}
        found.append((purchase, "outside_hours", f"outside_hours:{purchase.id}", detail))
    if controls.allowed_region_ids:
        if purchase.region_id not in controls.allowed_region_ids:
            detail = {"region_id": purchase.region_id, "allowed_region_ids": list(controls.allowed_region_ids)}
            found.append((purchase, "outside_region", f"outside_region:{purchase.id}", detail))
    else:
        home = facts.home_region_id
        key = region_alert_key(purchase.card_id, purchase.at, purchase.region_id)
        if home is not None and purchase.region_id != home and key not in facts.raised:
            detail = {"region_id": purchase.region_id, "home_region_id": home}
            found.append((purchase, "outside_region", key, detail))
    return found


_DECLINES_WITHIN = select(func.count(Purchase.id)).where(
    Purchase.card_id == bindparam("card_id"),
    Purchase.status == "declined",
    Purchase.at > bindparam("since"),
    Purchase.at <= bindparam("at"),
)


def _repeated_declines(session: Session, purchase: Purchase):
    count = session.scalar(
        _DECLINES_WITHIN, {"card_id": purchase.card_id, "since": purchase.at - DECLINE_WINDOW, "at": purchase.at}
    )
    if count < REPEATED_DECLINES:
        return None
    detail = {"count": count, "minutes": int(DECLINE_WINDOW.total_seconds() // 60), "last_code": purchase.decline_code}
    return purchase, "repeated_declines", f"repeated_declines:{purchase.card_id}:{_day_key(purchase)}", detail

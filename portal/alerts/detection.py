"""Finding anomalies in a card's purchases, right after each purchase is recorded (both purchase
paths, online and offline, call `check_purchase` with the facts of `portal.alerts.facts`).

Each check stores the figures that made it fire in `Alert.detail`, so the page can say why. A
`dedupe_key` makes each cause fire once (per purchase, or per card and day for daily patterns).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.alerts.facts import PurchaseFacts, fills_alert_key, region_alert_key
from portal.alerts.models import Alert
from portal.cards import controls as card_controls
from portal.clock import business_date, business_day_bounds, to_local
from portal.purchases.models import Purchase
from portal.reference.models import Station
from portal.webhooks import events as webhooks
from portal.webhooks import payloads

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


def check_purchase(session: Session, purchase: Purchase, *, now: datetime, facts: PurchaseFacts | None) -> list[Alert]:
    """Run every check that applies to a just-recorded purchase; returns the new alerts.

    `facts`: what the card's other rows say, read before the purchase was inserted (the pump's
    statements, or `facts.gather_facts`); None for a declined purchase, whose check reads its own."""
    if purchase.kind != "purchase":
        return []
    if purchase.status == "declined":
        return _keep(session, [_repeated_declines(session, purchase)], now)
    found = [
        _tank_overfill(purchase, facts),
        _too_many_fills(session, purchase, facts),
        _impossible_travel(session, purchase, facts),
        *_outside_controls(purchase, facts),
    ]
    return _keep(session, found, now)


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
        webhooks.emit(session, alert.customer_id, "alert.raised", lambda alert=alert: payloads.alert(session, alert),
                      now=now, subject=f"alert:{alert.id}")  # fmt: skip
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

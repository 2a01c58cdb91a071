"""Card controls (限额/限制) as plain values, and the pure rule a pump applies before a purchase.

No database and no Flask: the purchases area calls `check_purchase_allowed` at the pump, the chip
sync writes `Controls` to the chip, and the unit tests exercise every rule directly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime

from portal.clock import to_local

MAX_ALLOWED_STATIONS = 10
MINUTES_PER_DAY = 24 * 60

#: Reason codes `check_purchase_allowed` returns; stable strings (the pump and the UI translate them).
PER_PURCHASE_AMOUNT = "per_purchase_amount"
DAILY_AMOUNT = "daily_amount"
DAILY_COUNT = "daily_count"
DAILY_LITRES = "daily_litres"
PRODUCT = "product"
REGION = "region"
STATION = "station"
PLATE = "plate"
HOURS = "hours"
REASONS = (PER_PURCHASE_AMOUNT, DAILY_AMOUNT, DAILY_COUNT, DAILY_LITRES, PRODUCT, REGION, STATION, PLATE, HOURS)


@dataclass(frozen=True)
class Controls:
    """The limits on one card. None / empty means "no restriction" for that rule."""

    per_purchase_limit_fen: int | None = None
    daily_amount_limit_fen: int | None = None
    daily_count_limit: int | None = None
    daily_litres_limit_ml: int | None = None
    allowed_products: tuple[str, ...] = ()
    allowed_region_ids: tuple[int, ...] = ()
    allowed_station_ids: tuple[int, ...] = ()
    plate_lock: str = ""
    #: Allowed hours, minutes after midnight in Asia/Shanghai: [start, end); wraps when end <= start.
    hours_start_min: int | None = None
    hours_end_min: int | None = None

    @classmethod
    def from_row(cls, row) -> Controls:
        """From a `CardControls` or `ControlTemplate` row (anything with the same attributes)."""
        values = {f.name: getattr(row, f.name) for f in fields(cls)}
        for name in ("allowed_products", "allowed_region_ids", "allowed_station_ids"):
            values[name] = tuple(values[name] or ())
        return cls(**values)

    def as_columns(self) -> dict:
        """Column values for a row (lists, as JSON columns store them)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("allowed_products", "allowed_region_ids", "allowed_station_ids"):
            values[name] = list(values[name])
        return values

    @property
    def unrestricted(self) -> bool:
        return self == Controls()


NO_CONTROLS = Controls()


@dataclass(frozen=True)
class Purchase:
    """A purchase about to be made at a pump."""

    amount_fen: int
    litres_ml: int
    product_code: str
    station_id: int
    region_id: int
    at: datetime
    #: Plate the attendant entered or the pump read ("" if none).
    plate: str = ""


@dataclass(frozen=True)
class DayTotals:
    """What the card has already bought on the purchase's business day (Asia/Shanghai)."""

    amount_fen: int = 0
    count: int = 0
    litres_ml: int = 0


def normalize_plate(plate: str) -> str:
    """京A·12345, 京a 12345 and 京A-12345 are the same plate: 京A12345."""
    return re.sub(r"[\s·.\-]", "", plate or "").upper()


def within_hours(controls: Controls, at: datetime) -> bool:
    if controls.hours_start_min is None or controls.hours_end_min is None:
        return True
    local = to_local(at)
    minute = local.hour * 60 + local.minute
    start, end = controls.hours_start_min, controls.hours_end_min
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end  # the window wraps past midnight, e.g. 22:00-06:00


def check_purchase_allowed(controls: Controls, purchase: Purchase, day_totals: DayTotals) -> list[str]:
    """Every control the purchase would break, as reason codes in a fixed order; empty: allowed."""
    reasons = []
    c = controls
    if c.per_purchase_limit_fen is not None and purchase.amount_fen > c.per_purchase_limit_fen:
        reasons.append(PER_PURCHASE_AMOUNT)
    if c.daily_amount_limit_fen is not None and day_totals.amount_fen + purchase.amount_fen > c.daily_amount_limit_fen:
        reasons.append(DAILY_AMOUNT)
    if c.daily_count_limit is not None and day_totals.count + 1 > c.daily_count_limit:
        reasons.append(DAILY_COUNT)
    if c.daily_litres_limit_ml is not None and day_totals.litres_ml + purchase.litres_ml > c.daily_litres_limit_ml:
        reasons.append(DAILY_LITRES)
    if c.allowed_products and purchase.product_code not in c.allowed_products:
        reasons.append(PRODUCT)
    if c.allowed_region_ids and purchase.region_id not in c.allowed_region_ids:
        reasons.append(REGION)
    if c.allowed_station_ids and purchase.station_id not in c.allowed_station_ids:
        reasons.append(STATION)
    if c.plate_lock and normalize_plate(purchase.plate) != normalize_plate(c.plate_lock):
        reasons.append(PLATE)
    if not within_hours(c, purchase.at):
        reasons.append(HOURS)
    return reasons


@dataclass(frozen=True)
class ControlProblem:
    """A reason a set of controls cannot be saved: a stable code and the field it is about."""

    code: str
    field: str
    detail: dict = field(default_factory=dict)


def validate_controls(controls: Controls) -> list[ControlProblem]:
    """Shape rules the database also enforces (see `portal.cards.models.control_checks`)."""
    problems = []
    for name in ("per_purchase_limit_fen", "daily_amount_limit_fen", "daily_count_limit", "daily_litres_limit_ml"):
        value = getattr(controls, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
            problems.append(ControlProblem("not_positive", name))
    if len(controls.allowed_station_ids) > MAX_ALLOWED_STATIONS:
        problems.append(ControlProblem("too_many_stations", "allowed_station_ids", {"max": MAX_ALLOWED_STATIONS}))
    for name in ("allowed_products", "allowed_region_ids", "allowed_station_ids"):
        values = getattr(controls, name)
        if len(set(values)) != len(values):
            problems.append(ControlProblem("duplicates", name))
    start, end = controls.hours_start_min, controls.hours_end_min
    if (start is None) != (end is None):
        problems.append(ControlProblem("hours_incomplete", "hours"))
    elif start is not None and not (0 <= start < MINUTES_PER_DAY and 0 < end <= MINUTES_PER_DAY and start != end):
        problems.append(ControlProblem("hours_invalid", "hours"))
    if len(controls.plate_lock) > 16:
        problems.append(ControlProblem("plate_too_long", "plate_lock"))
    return problems


_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–~至]\s*(\d{1,2}):(\d{2})\s*$")


def parse_hours(text: str) -> tuple[int, int] | None:
    """ "06:00-22:00" -> (360, 1320); "" -> None (no restriction). "24:00" is allowed as an end.

    Raises ValueError for anything else (the form shows a message).
    """
    if not text or not text.strip():
        return None
    match = _HOURS.match(text)
    if not match:
        raise ValueError("use HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if m1 > 59 or m2 > 59 or h1 > 23 or h2 > 24 or (h2 == 24 and m2):
        raise ValueError("not a time of day")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end == 0:
        end = MINUTES_PER_DAY  # "22:00-00:00" means until midnight
    if start == end:
        raise ValueError("the window is empty")
    return start, end


def format_hours(start: int | None, end: int | None) -> str:
    if start is None or end is None:
        return ""
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


def parse_id_list(values: Iterable[str]) -> tuple[int, ...]:
    """Ids from a multi-select, in order, without duplicates; ValueError for non-numbers."""
    seen: list[int] = []
    for value in values:
        number = int(value)
        if number not in seen:
            seen.append(number)
    return tuple(seen)

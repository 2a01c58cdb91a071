"""交易统计: approved purchases net of refunds, grouped by one dimension, in one GROUP BY query."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select, text
from sqlalchemy.orm import Session

from portal.purchases.models import Purchase
from portal.queries import purchases
from portal.queries.filters import FilterSpec
from portal.queries.names import Names
from portal.queries.scope import Scope
from portal.sql_clock import business_day, business_month
from portal.statistics import rollup

GROUPS = ("day", "month", "card", "driver", "vehicle", "product", "station", "region")
#: Groups whose rows are one vehicle's fuel, where litres per 100 km means something.
CONSUMPTION_GROUPS = ("card", "driver", "vehicle")
#: Time groups are listed in time order; the others biggest amount first.
TIME_GROUPS = ("day", "month")
MAX_MONTHS = 24


def spec(max_months: int = MAX_MONTHS) -> FilterSpec:
    return FilterSpec(
        extra={"group": GROUPS, "type": purchases.TYPES, "station": None, "product": None, "region": None},
        defaults={"group": "day"},
        max_months=max_months,
    )


def group_key(group: str):
    return {
        "day": business_day(Purchase.at),
        "month": business_month(Purchase.at),
        "card": Purchase.card_id,
        "driver": Purchase.driver_id,
        "vehicle": Purchase.vehicle_id,
        "product": Purchase.product_code,
        "station": Purchase.station_id,
        "region": Purchase.region_id,
    }[group]


@dataclass
class Row:
    key: object
    label: str
    count: int
    amount: int
    litres_ml: int
    points: int
    #: Millilitres per 100 km, when odometer readings cover a distance.
    ml_per_100km: int | None = None

    @property
    def average_price(self) -> int | None:
        """Fen per litre, rounded half up; None without litres."""
        if self.litres_ml <= 0:
            return None
        return (self.amount * 1000 * 2 + self.litres_ml) // (self.litres_ml * 2)


@dataclass
class Report:
    group: str
    rows: list[Row]
    total: Row


def _signed(column):
    return case((Purchase.kind == "refund", -column), else_=column)


def report(session: Session, scope: Scope, flt, *, locale: str = "zh_CN", use_rollup: bool = False) -> Report:
    """The statistics of the filter; from the daily totals (`rollup`) when `use_rollup` and they
    can answer it, else from the purchases."""
    group = flt.get("group", "day")
    if use_rollup and rollup.covers(scope, flt, group):
        rows = [Row(k, "", c, a, ml, p) for k, c, a, ml, p in rollup.grouped(session, scope, flt, group)]
        _label(rows, group, Names(session, locale))
        return Report(group, rows, _total(rows))
    _plan_for_aggregates(session)
    where = purchases.conditions(session, scope, flt, status="approved")
    key = group_key(group).label("key")
    amount = func.sum(_signed(Purchase.amount_fen))
    columns = [
        key,
        func.count(case((Purchase.kind == "purchase", 1))),
        amount,
        func.sum(_signed(Purchase.litres_ml)),
        func.sum(_signed(Purchase.points)),
    ]
    consumption = group in CONSUMPTION_GROUPS
    if consumption:
        # The odometer span of each group in the same pass over the rows (not one more per figure).
        columns += [func.min(_reading(Purchase.odometer_km)), func.max(_reading(Purchase.odometer_km))]
        columns.append(func.sum(_reading(Purchase.litres_ml)))
    query = select(*columns).where(*where).group_by(key)
    query = query.order_by(key) if group in TIME_GROUPS else query.order_by(amount.desc(), key)
    rows, spans = [], {}
    for k, c, a, ml, p, *span in session.execute(query):
        rows.append(Row(k, "", int(c), int(a or 0), int(ml or 0), int(p or 0)))
        if span and span[0] is not None:
            spans[k] = tuple(int(value) for value in span)
    _label(rows, group, Names(session, locale))
    if consumption:
        _consumption(session, rows, spans, group, where)
    return Report(group, rows, _total(rows))


def _reading(column):
    """`column` on purchases that came with an odometer reading, NULL (ignored by aggregates) else."""
    return case(((Purchase.kind == "purchase") & Purchase.odometer_km.is_not(None), column))


def _total(rows: list[Row]) -> Row:
    return Row(None, "", *(sum(getattr(r, f) for r in rows) for f in ("count", "amount", "litres_ml", "points")))


def _plan_for_aggregates(session: Session) -> None:
    """PostgreSQL cannot estimate how many days or months a range holds, so it thinks a year's
    GROUP BY is expensive enough to compile to machine code (JIT): ~250 ms spent to save nothing on
    a scan that takes about as long. Off for this transaction; the rest of the request is a page."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


def _label(rows: list[Row], group: str, names: Names) -> None:
    if group in TIME_GROUPS:
        for row in rows:
            row.label = row.key
        return
    lookup = getattr(names, group + "s")({row.key for row in rows})
    for row in rows:
        row.label = lookup.get(row.key, "") if row.key is not None else ""


def _consumption(session: Session, rows: list[Row], spans: dict, group: str, where: list) -> None:
    """Litres per 100 km from odometer readings: fuel bought after the first reading, over the
    distance between the first and the last reading (the first fill burned before the first reading).
    `spans` holds each group's (first reading, last reading, litres bought with readings)."""
    spans = {k: span for k, span in spans.items() if span[1] > span[0]}
    if not spans:
        return
    key = group_key(group)
    readings = [*where, Purchase.kind == "purchase", Purchase.odometer_km.is_not(None)]
    first = (
        select(key.label("key"), func.min(Purchase.odometer_km).label("low")).where(*readings).group_by(key).subquery()
    )
    first_fill = dict(
        session.execute(
            select(first.c.key, func.max(Purchase.litres_ml))
            .join(first, (key == first.c.key) & (Purchase.odometer_km == first.c.low))
            .where(*readings)
            .group_by(first.c.key)
        ).all()
    )
    for row in rows:
        if row.key not in spans:
            continue
        low, high, total = spans[row.key]
        distance = high - low
        burned = total - int(first_fill.get(row.key) or 0)
        if burned > 0:
            row.ml_per_100km = (burned * 100 * 2 + distance) // (distance * 2)

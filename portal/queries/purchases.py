"""消费交易查询: approved purchases and refunds (one tab) and declined attempts (the other).

Reads only `Purchase` facts: customer, card, driver, plate, station and region were copied into each
row when it was made, so the page is one index range scan on (customer_id, at, id) or
(card_id, at, id) and the totals one aggregate over the same conditions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Bundle, Session

from portal.cards.models import Card
from portal.drivers.models import Driver
from portal.purchases.models import Purchase, PurchaseDay
from portal.queries.cursor import Key
from portal.queries.filters import Filter, FilterSpec
from portal.queries.pages import Page, after, ordering, page_of
from portal.queries.scope import Scope, resolve_card
from portal.reference.models import Product, Region, Station

TABS = ("approved", "declined")
TYPES = ("purchase", "refund")


def spec(max_days: int = 366) -> FilterSpec:
    return FilterSpec(
        extra={"tab": TABS, "type": TYPES, "station": None, "product": None, "region": None},
        defaults={"tab": "approved"},
        max_days=max_days,
    )


class UnknownReference(LookupError):
    """A station, product or region filter naming nothing that exists."""

    def __init__(self, what: str, value: str):
        super().__init__(f"unknown {what} {value!r}")
        self.what = what
        self.value = value


def _signed(column):
    """A refund gives back: its amount, litres and points count negative in totals and statistics."""
    return case((Purchase.kind == "refund", -column), else_=column)


def signed_figures() -> tuple:
    """A row's amount, litres and points as every page row and export shows them: negative for a
    refund, so that the rows of a page or a file add up to its totals (one definition, issue 12)."""
    return (
        _signed(Purchase.amount_fen).label("amount_fen"),
        _signed(Purchase.litres_ml).label("litres_ml"),
        _signed(Purchase.points).label("points"),
    )


def conditions(session: Session, scope: Scope, flt: Filter, *, status: str | None = None) -> list:
    """The WHERE clause of a filter, checked against the scope (foreign cards are unknown cards)."""
    start, end = flt.utc_range
    where = [Purchase.customer_id == scope.customer_id, Purchase.at >= start, Purchase.at < end]
    if scope.card_ids is not None:
        where.append(Purchase.card_id.in_(sorted(scope.card_ids) or [-1]))
    if flt.card:
        where.append(Purchase.card_id == resolve_card(session, scope, flt.card).id)
    if flt.driver is not None:
        where.append(Purchase.driver_id == flt.driver)
    if flt.plate:
        where.append(Purchase.plate == flt.plate)
    status = status or flt.get("tab", "approved")
    where.append(Purchase.status == status)
    if flt.get("type"):
        where.append(Purchase.kind == flt.get("type"))
    if flt.get("station"):
        station_id = session.scalar(select(Station.id).where(Station.code == flt.get("station")))
        if station_id is None:
            raise UnknownReference("station", flt.get("station"))
        where.append(Purchase.station_id == station_id)
    if flt.get("product"):
        where.append(Purchase.product_code == _known_product(session, flt))
    if flt.get("region"):
        where.append(Purchase.region_id == _known_region_id(session, flt))
    return where


def _known_product(session: Session, flt: Filter) -> str:
    """The product filter's code, once a product has it."""
    if session.get(Product, flt.get("product")) is None:
        raise UnknownReference("product", flt.get("product"))
    return flt.get("product")


def _known_region_id(session: Session, flt: Filter) -> int:
    """The id of the region the region filter names."""
    region_id = session.scalar(select(Region.id).where(Region.code == flt.get("region")))
    if region_id is None:
        raise UnknownReference("region", flt.get("region"))
    return region_id


@dataclass(frozen=True)
class Totals:
    #: Rows matched (purchases, refunds or declines).
    count: int
    #: Of which purchases (refunds are not extra purchases).
    purchases: int
    amount: int
    litres_ml: int
    points: int


def totals(session: Session, where: list) -> Totals:
    """Net totals of the filter (refunds subtract) in one aggregate query."""
    row = session.execute(
        select(
            func.count(),
            func.count(case((Purchase.kind == "purchase", 1))),
            func.coalesce(func.sum(_signed(Purchase.amount_fen)), 0),
            func.coalesce(func.sum(_signed(Purchase.litres_ml)), 0),
            func.coalesce(func.sum(_signed(Purchase.points)), 0),
        ).where(*where)
    ).one()
    return Totals(*(int(value) for value in row))


# --- the same totals from the daily totals (PurchaseDay, kept by portal.purchases.rollup) ---------


def day_totals_cover(scope: Scope, flt: Filter) -> bool:
    """Whether the daily totals can answer this filter exactly: they know no card, driver, plate
    or station (the statistics' groupings add their own condition, `statistics.rollup.covers`)."""
    return bool(scope.whole_customer) and not (flt.card or flt.driver is not None or flt.plate or flt.get("station"))


def day_conditions(session: Session, scope: Scope, flt: Filter, status: str) -> list:
    """The WHERE clause of a filter the daily totals cover, on `PurchaseDay`."""
    where = [
        PurchaseDay.customer_id == scope.customer_id,
        PurchaseDay.day >= flt.start,
        PurchaseDay.day <= flt.end,
        PurchaseDay.status == status,
    ]
    if flt.get("type"):
        where.append(PurchaseDay.kind == flt.get("type"))
    if flt.get("product"):
        where.append(PurchaseDay.product_code == _known_product(session, flt))
    if flt.get("region"):
        where.append(PurchaseDay.region_id == _known_region_id(session, flt))
    return where


def _day_signed(column):
    return case((PurchaseDay.kind == "refund", -column), else_=column)


def day_figures():
    """Purchases (refunds are not extra purchases), then net amount, litres and points."""
    return (
        func.coalesce(func.sum(case((PurchaseDay.kind == "purchase", PurchaseDay.count), else_=0)), 0),
        func.coalesce(func.sum(_day_signed(PurchaseDay.amount_fen)), 0),
        func.coalesce(func.sum(_day_signed(PurchaseDay.litres_ml)), 0),
        func.coalesce(func.sum(_day_signed(PurchaseDay.points)), 0),
    )


def day_totals(session: Session, scope: Scope, flt: Filter, status: str) -> Totals:
    """`totals` of a filter the daily totals cover, read from them."""
    row = session.execute(
        select(func.coalesce(func.sum(PurchaseDay.count), 0), *day_figures()).where(
            *day_conditions(session, scope, flt, status)
        )
    ).one()
    return Totals(*(int(value) for value in row))


#: What a page row shows of a purchase: plain values (no ORM objects to build and track per row).
PAGE_COLUMNS = Bundle(
    "purchase",
    Purchase.id,
    Purchase.at,
    Purchase.kind,
    Purchase.status,
    Purchase.decline_code,
    Purchase.card_id,
    Purchase.plate,
    Purchase.unit_price_fen,
    *signed_figures(),
)


def page(
    session: Session,
    scope: Scope,
    flt: Filter,
    *,
    key: Key | None,
    limit: int,
    locale: str = "zh_CN",
    use_rollup: bool = False,
) -> tuple[Page, Totals]:
    """One page of rows, each (purchase columns, card number, driver, station, region, product name): the
    names come by primary-key joins on the page's rows only, in the same query. The totals come
    from the daily totals when `use_rollup` and the filter allows (`day_totals`)."""
    where = conditions(session, scope, flt)
    zh = locale.startswith("zh")
    query = (
        select(
            PAGE_COLUMNS,
            Card.number,
            Driver.name,
            Station.name,
            Region.name_zh if zh else Region.name_en,
            Product.name_zh if zh else Product.name_en,
        )
        .outerjoin(Card, Card.id == Purchase.card_id)
        .outerjoin(Driver, Driver.id == Purchase.driver_id)
        .outerjoin(Station, Station.id == Purchase.station_id)
        .outerjoin(Region, Region.id == Purchase.region_id)
        .outerjoin(Product, Product.code == Purchase.product_code)
        .where(*where)
        .order_by(*ordering(Purchase.at, Purchase.id, flt.order))
        .limit(limit + 1)
    )
    condition = after(Purchase.at, Purchase.id, key, flt.order)
    if condition is not None:
        query = query.where(condition)
    carried = key.totals if key is not None and key.totals is not None and len(key.totals) == 5 else None
    if carried:
        sums = Totals(*carried)
    elif use_rollup and day_totals_cover(scope, flt):
        sums = day_totals(session, scope, flt, flt.get("tab", "approved"))
    else:
        sums = totals(session, where)
    as_tuple = (sums.count, sums.purchases, sums.amount, sums.litres_ml, sums.points)
    rows, next_key = page_of(list(session.execute(query).tuples()), limit, lambda r: Key(r[0].at, r[0].id, as_tuple))
    return Page(rows, next_key), sums


#: Columns an export needs, fetched as plain tuples (no ORM objects for 100,000 rows).
EXPORT_COLUMNS = (
    Purchase.id,
    Purchase.at,
    Purchase.kind,
    Purchase.status,
    Purchase.decline_code,
    Purchase.card_id,
    Purchase.driver_id,
    Purchase.plate,
    Purchase.station_id,
    Purchase.region_id,
    Purchase.product_code,
    Purchase.unit_price_fen,
    *signed_figures(),
    Purchase.odometer_km,
)


def stream(session: Session, scope: Scope, flt: Filter) -> Iterator:
    """Every row of the filter in order, fetched in batches through a server-side cursor. The filter
    is checked now (bad input must fail before a download starts); rows are read as consumed."""
    where = conditions(session, scope, flt)
    query = select(*EXPORT_COLUMNS).where(*where).order_by(*ordering(Purchase.at, Purchase.id, flt.order))
    return _rows(session, query.execution_options(yield_per=2000, stream_results=True))


def _rows(session: Session, query) -> Iterator:
    # `with`: a download stopped early (the XLSX row cap, a client gone) closes the server cursor.
    with session.execute(query) as result:
        yield from result


def export_query(session: Session, scope: Scope, flt: Filter, *, locale: str, kind_labels: dict, decline_labels: dict):
    """The export's rows as formatted text cells, for `exports.copy` (PostgreSQL): the same cells,
    in the same order, as the view's Python rows give `writers.csv_chunks`."""
    from portal.exports import copy as sql

    where = conditions(session, scope, flt)
    zh = locale.startswith("zh")
    amount, litres, points = signed_figures()
    cells = [
        sql.local_time(Purchase.at),
        sql.formula_safe(sql.labelled(Purchase.kind, kind_labels)),
        sql.formula_safe(Card.number),
        sql.formula_safe(Driver.name),
        sql.formula_safe(Purchase.plate),
        sql.formula_safe(Station.name),
        sql.formula_safe(Region.name_zh if zh else Region.name_en),
        sql.formula_safe(Product.name_zh if zh else Product.name_en),
        sql.litres(litres.element),
        sql.money(Purchase.unit_price_fen),
        sql.money(amount.element),
        sql.integer(points.element),
        sql.integer(Purchase.odometer_km),
    ]
    if flt.get("tab") == "declined":
        cells.append(sql.formula_safe(sql.labelled(Purchase.decline_code, decline_labels)))
    return (
        select(*cells)
        .select_from(Purchase)
        # The customer's own cards and drivers (all a purchase can name): an index range of them,
        # not a hash of every card in the country.
        .outerjoin(Card, (Card.id == Purchase.card_id) & (Card.customer_id == scope.customer_id))
        .outerjoin(Driver, (Driver.id == Purchase.driver_id) & (Driver.customer_id == scope.customer_id))
        .outerjoin(Station, Station.id == Purchase.station_id)
        .outerjoin(Region, Region.id == Purchase.region_id)
        .outerjoin(Product, Product.code == Purchase.product_code)
        .where(*where)
        .order_by(*ordering(Purchase.at, Purchase.id, flt.order))
    )

"""Transactions over the API: the three transaction queries of the portal (账户交易查询, 消费交易查询,
积分交易查询), with the pages' filters and the pages' keyset cursors.

- Each list calls the page's own query code (portal.queries.journal / portal.queries.purchases):
  the same rows, states, totals and running balances as the pages, scoped to the key's customer
  (a fleet admin's scope: the whole customer).
- Filters are the pages' query-string filters (portal.queries.filters): the pydantic models here
  describe them for the OpenAPI document and check their types; `page_filter` hands them to the
  pages' own parser, so every range limit and refusal is the pages' (400 `bad_filter`). Dates are
  Asia/Shanghai business days, inclusive; giving `start` and `end` means a custom period.
- Pagination: `?limit=&cursor=`, `{"data": [...], "next_cursor": ...}`; the cursor is the page's
  signed keyset key (portal.queries.cursor) under the list's own name, so a cursor of one list is
  refused by another (400 `bad_cursor`). Each answer also carries the filter's totals, as the page
  shows them above its table.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from flask import g
from pydantic import BaseModel, Field
from sqlalchemy import select

from portal.api import bp
from portal.api.auth import api_endpoint
from portal.api.pagination import NEXT_CURSOR, PageQuery, QueryModel, cursor_key, cursor_of
from portal.api.problems import ApiProblem, Problem
from portal.api.serialize import Fen, Time, local_time
from portal.extensions import db
from portal.ledger.models import MONEY, POINTS
from portal.purchases.models import Purchase
from portal.queries import journal, purchases
from portal.queries.filters import Filter, FilterError, FilterSpec, parse_filter
from portal.queries.scope import Scope, customer_scope
from portal.queries.web import locale, max_days, today, use_rollup
from portal.reference.models import Region, Station
from portal.web.memos import describe_movement, describe_transfer

TAGS = ["transactions"]
#: Card numbers as the pages accept them (ASCII digits only: `\d` would take any script's digits).
CARD_PATTERN = r"^[0-9]{8,19}$"


# --- filters: the pages' query strings -------------------------------------------------------------


class PeriodFilter(QueryModel):
    """The period and the card / driver / plate filters every query page has."""

    preset: Literal["today", "this_month", "last_month", "custom"] | None = Field(
        None, description="a named period (Asia/Shanghai); default this_month, or custom when start and end are given"
    )
    start: date | None = Field(None, description="first business day (Asia/Shanghai), inclusive")
    end: date | None = Field(None, description="last business day (Asia/Shanghai), inclusive")
    card: str | None = Field(None, pattern=CARD_PATTERN, description="one card's number")
    driver: int | None = Field(None, ge=1, le=999_999_999_999, description="a driver's id")
    plate: str | None = Field(None, min_length=1, max_length=32, description="a vehicle's plate, e.g. 京A12345")


class ListFilter(PeriodFilter, PageQuery):
    order: Literal["desc", "asc"] = Field("desc", description="newest first (desc) or oldest first (asc)")


def page_filter(query: BaseModel, spec: FilterSpec, **extra: str | None) -> Filter:
    """The page's Filter for an API query: its fields as the page's query string, parsed by the page's
    own parser (same ranges, same refusals: 400 `bad_filter`). `extra` are the page's own parameters."""
    args: dict[str, str] = {}
    preset = getattr(query, "preset", None)
    start, end = getattr(query, "start", None), getattr(query, "end", None)
    if preset is None and (start is not None or end is not None):
        preset = "custom"
    for name, value in (("preset", preset), ("start", start), ("end", end)):
        if value is not None:
            args[name] = value.isoformat() if isinstance(value, date) else value
    for name in ("card", "driver", "plate", "order"):
        value = getattr(query, name, None)
        if value is not None:
            args[name] = str(value)
    args |= {name: value for name, value in extra.items() if value}
    try:
        return parse_filter(args, spec, today=today())
    except FilterError as error:
        raise ApiProblem(400, "bad_filter", str(error)) from None


def api_scope() -> Scope:
    """What a key sees: its customer's whole books, as a fleet admin does."""
    return customer_scope(g.api_customer_id)


PAGE_PROBLEMS = {400: Problem, 404: Problem}


# --- account transactions (账户交易查询) ---------------------------------------------------------------

ACCOUNT_REPORT = "api.account_transactions"
AccountCode = Literal["deposit", "allocation", "collection", "load", "replacement", "reversal"]
MovementState = Literal["posted", "waiting", "loaded", "cancelled", "expired"]


class AccountTransactionQuery(ListFilter):
    type: AccountCode | None = Field(None, description="one kind of movement")


class TransactionSide(BaseModel):
    kind: str = Field(
        description="account kind: unit, reserve, purse, points, or a system side (deposits_clearing, ...)"
    )
    card_number: str | None = Field(description="the card of a card account")


class AccountTransaction(BaseModel):
    id: str = Field(description="the ledger transfer's id")
    at: Time
    type: AccountCode
    state: MovementState = Field(description="posted; a chip load: waiting, loaded, cancelled or expired")
    source: TransactionSide
    target: TransactionSide
    amount_fen: Fen
    signed_fen: int = Field(
        description="fen into (+) or out of (-) the filtered accounts; 0 between two of them or when nothing moved"
    )
    memo: str = Field(description="what the movement is, as the page says it")


class CodeTotal(BaseModel):
    type: AccountCode
    count: int
    amount_fen: Fen


class StateTotal(BaseModel):
    state: MovementState
    count: int
    amount_fen: Fen


class AccountTransactionList(BaseModel):
    data: list[AccountTransaction]
    next_cursor: str | None = NEXT_CURSOR
    totals: list[CodeTotal] = Field(description="count and amount per type over the whole filter")
    loads: list[StateTotal] = Field(description="chip loads of the filter by state")


def _side(side: tuple[str, str]) -> TransactionSide:
    return TransactionSide(kind=side[0], card_number=side[1] or None)


@bp.get("/account-transactions")
@api_endpoint("read", query=AccountTransactionQuery, resp={200: AccountTransactionList, **PAGE_PROBLEMS}, tags=TAGS)
def list_account_transactions(query: AccountTransactionQuery):
    """Deposits, allocations, collections, chip loads, replacements and reversals of the customer's
    unit account and cards' reserves and purses, newest first (the 账户交易查询 page)."""
    flt = page_filter(query, journal.account_spec(max_days()), type=query.type)
    j = journal.journal(db.session, api_scope(), flt, MONEY, journal.ACCOUNT_CODES)
    page = journal.page(db.session, j, flt, key=cursor_key(query, report=ACCOUNT_REPORT), limit=query.limit)
    return AccountTransactionList(
        data=[
            AccountTransaction(
                id=m.transfer.id,
                at=local_time(m.transfer.created_at),
                type=m.transfer.code,
                state=m.state,
                source=_side(m.source),
                target=_side(m.target),
                amount_fen=m.transfer.amount,
                signed_fen=m.signed,
                memo=describe_movement(m),
            )  # fmt: skip
            for m in page.rows
        ],
        next_cursor=cursor_of(page.next_key, report=ACCOUNT_REPORT),
        totals=[CodeTotal(type=code, count=c, amount_fen=a) for code, (c, a) in sorted(page.totals.items())],
        loads=[StateTotal(state=state, count=c, amount_fen=a) for state, (c, a) in sorted(page.states.items())],
    )


# --- purchase transactions (消费交易查询) --------------------------------------------------------------

PURCHASE_REPORT = "api.purchase_transactions"


class PurchaseTransactionQuery(ListFilter):
    status: Literal["approved", "declined"] = Field(
        "approved", description="approved purchases and refunds, or declined attempts"
    )
    type: Literal["purchase", "refund"] | None = Field(None, description="only purchases or only refunds")
    station: str | None = Field(None, min_length=1, max_length=32, description="a station's code")
    product: str | None = Field(None, min_length=1, max_length=32, description="a product's code, e.g. 92")
    region: str | None = Field(None, min_length=1, max_length=32, description="a region's code")


class PurchaseTransaction(BaseModel):
    id: int
    at: Time
    kind: Literal["purchase", "refund"]
    status: Literal["approved", "declined"]
    decline_code: str | None = Field(description="why a declined attempt was refused")
    card_number: str | None
    driver_id: int | None
    driver_name: str | None
    vehicle_id: int | None
    plate: str | None
    station_code: str | None
    station_name: str | None
    region_code: str | None
    region_name: str | None
    product_code: str | None
    product_name: str | None
    litres_ml: int = Field(description="millilitres; negative for a refund")
    unit_price_fen: int | None
    amount_fen: int = Field(description="integer fen; negative for a refund")
    points: int = Field(description="points earned; negative for a refund")
    odometer_km: int | None


class PurchaseTotals(BaseModel):
    count: int = Field(description="rows of the filter (purchases, refunds or declines)")
    purchases: int = Field(description="of which purchases")
    amount_fen: int = Field(description="net of refunds")
    litres_ml: int
    points: int


class PurchaseTransactionList(BaseModel):
    data: list[PurchaseTransaction]
    next_cursor: str | None = NEXT_CURSOR
    totals: PurchaseTotals


def _purchase_codes(ids: list[int]) -> dict[int, tuple]:
    """The machine-readable side of the page's rows (ids and codes where the page shows names)."""
    if not ids:
        return {}
    rows = db.session.execute(
        select(
            Purchase.id, Purchase.driver_id, Purchase.vehicle_id, Purchase.product_code, Purchase.odometer_km,
            Station.code, Region.code,
        )
        .outerjoin(Station, Station.id == Purchase.station_id)
        .outerjoin(Region, Region.id == Purchase.region_id)
        .where(Purchase.id.in_(ids))
    )  # fmt: skip
    return {row[0]: tuple(row[1:]) for row in rows}


@bp.get("/purchase-transactions")
@api_endpoint("read", query=PurchaseTransactionQuery, resp={200: PurchaseTransactionList, **PAGE_PROBLEMS}, tags=TAGS)
def list_purchase_transactions(query: PurchaseTransactionQuery):
    """Approved purchases and refunds (or declined attempts) of the customer's cards, newest first,
    with the filter's net totals (the 消费交易查询 page)."""
    flt = page_filter(
        query, purchases.spec(max_days()), tab=query.status, type=query.type, station=query.station,
        product=query.product, region=query.region,
    )  # fmt: skip
    page, totals = purchases.page(
        db.session, api_scope(), flt, key=cursor_key(query, report=PURCHASE_REPORT), limit=query.limit, locale=locale(),
        use_rollup=use_rollup(),
    )  # fmt: skip
    codes = _purchase_codes([row[0].id for row in page.rows])
    data = []
    for p, card_number, driver_name, station_name, region_name, product_name in page.rows:
        driver_id, vehicle_id, product_code, odometer_km, station_code, region_code = codes[p.id]
        data.append(
            PurchaseTransaction(
                id=p.id,
                at=local_time(p.at),
                kind=p.kind,
                status=p.status,
                decline_code=p.decline_code,
                card_number=card_number,
                driver_id=driver_id,
                driver_name=driver_name,
                vehicle_id=vehicle_id,
                plate=p.plate or None,
                station_code=station_code,
                station_name=station_name,
                region_code=region_code,
                region_name=region_name,
                product_code=product_code,
                product_name=product_name,
                litres_ml=p.litres_ml,
                unit_price_fen=p.unit_price_fen,
                amount_fen=p.amount_fen,
                points=p.points,
                odometer_km=odometer_km,
            )  # fmt: skip
        )
    return PurchaseTransactionList(
        data=data,
        next_cursor=cursor_of(page.next_key, report=PURCHASE_REPORT),
        totals=PurchaseTotals(
            count=totals.count,
            purchases=totals.purchases,
            amount_fen=totals.amount,
            litres_ml=totals.litres_ml,
            points=totals.points,
        ),  # fmt: skip
    )


# --- points transactions (积分交易查询) ----------------------------------------------------------------

POINTS_REPORT = "api.points_transactions"
PointsCode = Literal["points_earn", "points_redeem", "points_expire", "replacement", "reversal"]


class PointsTransactionQuery(ListFilter):
    type: Literal["points_earn", "points_redeem", "points_expire"] | None = Field(
        None, description="only points earned, redeemed or expired"
    )


class PointsTransaction(BaseModel):
    id: str = Field(description="the ledger transfer's id")
    at: Time
    type: PointsCode
    card_number: str | None = Field(description="the card whose points moved ('old -> new' for a replacement)")
    source: TransactionSide
    target: TransactionSide
    points: int = Field(description="points into (+) or out of (-) the filtered accounts")
    moved: int = Field(description="points the row moved (also between two of the customer's own cards)")
    balance_after: int | None = Field(description="the filtered accounts' points right after this row")
    memo: str


class PointsTotal(BaseModel):
    type: PointsCode
    count: int
    points: int = Field(description="points the rows of this type moved")


class PointsTransactionList(BaseModel):
    data: list[PointsTransaction]
    next_cursor: str | None = NEXT_CURSOR
    balance: int = Field(description="the filtered accounts' points now")
    totals: list[PointsTotal] = Field(description="count and points per type over the whole filter")


def points_card(m: journal.Movement) -> str:
    """The card a points row is about, as the page's export names it."""
    if m.internal:  # a replacement card inheriting the old card's points
        return f"{m.source[1]} -> {m.target[1]}"
    return m.target[1] if m.signed >= 0 else m.source[1]


@bp.get("/points-transactions")
@api_endpoint("read", query=PointsTransactionQuery, resp={200: PointsTransactionList, **PAGE_PROBLEMS}, tags=TAGS)
def list_points_transactions(query: PointsTransactionQuery):
    """Points earned, redeemed and expired, with the running balance after each row (the 积分交易查询 page)."""
    flt = page_filter(query, journal.points_spec(max_days()), type=query.type)
    j = journal.journal(db.session, api_scope(), flt, POINTS, journal.POINTS_CODES)
    page = journal.points_page(db.session, j, flt, key=cursor_key(query, report=POINTS_REPORT), limit=query.limit)
    return PointsTransactionList(
        data=[
            PointsTransaction(
                id=m.transfer.id,
                at=local_time(m.transfer.created_at),
                type=m.transfer.code,
                card_number=points_card(m) or None,
                source=_side(m.source),
                target=_side(m.target),
                points=m.signed,
                moved=m.transfer.amount,
                balance_after=m.balance_after,
                memo=describe_transfer(m.transfer),
            )  # fmt: skip
            for m in page.rows
        ],
        next_cursor=cursor_of(page.next_key, report=POINTS_REPORT),
        balance=journal.points_balance_now(db.session, j),
        totals=[PointsTotal(type=code, count=c, points=a) for code, (c, a) in sorted(page.totals.items())],
    )

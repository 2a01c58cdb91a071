"""Statistics over the API: the two statistics pages (交易统计, 积分交易统计) as JSON, from the pages'
own reports (portal.statistics.transactions / .points) with the pages' filters, groupings and
period limits (at most STATISTICS_MAX_MONTHS calendar months). Rows come in the pages' order
(time groups by time, the others biggest amount first) with the total row the page shows.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from portal.api import bp
from portal.api.auth import api_endpoint
from portal.api.problems import Problem
from portal.api.transactions import PeriodFilter, api_scope, page_filter
from portal.extensions import db
from portal.queries.web import locale, max_months, use_rollup
from portal.statistics import points, transactions

TAGS = ["statistics"]
PROBLEMS = {400: Problem, 404: Problem}


class TransactionStatisticsQuery(PeriodFilter):
    group: Literal["day", "month", "card", "driver", "vehicle", "product", "station", "region"] = Field(
        "day", description="one row per day, month (Asia/Shanghai), card, driver, vehicle, product, station or region"
    )
    type: Literal["purchase", "refund"] | None = Field(None, description="only purchases or only refunds")
    station: str | None = Field(None, min_length=1, max_length=32, description="a station's code")
    product: str | None = Field(None, min_length=1, max_length=32, description="a product's code, e.g. 92")
    region: str | None = Field(None, min_length=1, max_length=32, description="a region's code")


class TransactionStatisticsRow(BaseModel):
    key: str | None = Field(
        description="the group: a day (YYYY-MM-DD), a month (YYYY-MM), a product code, or an id (card, driver, "
        "vehicle, station, region); null for purchases without one (e.g. no driver)"
    )
    label: str = Field(description="the group's name as the page shows it (card number, driver name, ...)")
    purchases: int = Field(description="purchases (refunds are not extra purchases)")
    amount_fen: int = Field(description="net of refunds")
    litres_ml: int = Field(description="net of refunds, millilitres")
    average_price_fen: int | None = Field(description="fen per litre, rounded half up; null without litres")
    points: int
    ml_per_100km: int | None = Field(
        None, description="card, driver and vehicle groups: millilitres per 100 km from odometer readings"
    )


class TransactionStatistics(BaseModel):
    group: str
    start: str = Field(description="first business day of the period (YYYY-MM-DD)")
    end: str = Field(description="last business day of the period (YYYY-MM-DD)")
    rows: list[TransactionStatisticsRow]
    total: TransactionStatisticsRow


def _transaction_row(row: transactions.Row) -> TransactionStatisticsRow:
    return TransactionStatisticsRow(
        key=str(row.key) if row.key is not None else None, label=str(row.label or ""), purchases=row.count,
        amount_fen=row.amount, litres_ml=row.litres_ml, average_price_fen=row.average_price, points=row.points,
        ml_per_100km=row.ml_per_100km,
    )  # fmt: skip


@bp.get("/statistics/transactions")
@api_endpoint("read", query=TransactionStatisticsQuery, resp={200: TransactionStatistics, **PROBLEMS}, tags=TAGS)
def transaction_statistics(query: TransactionStatisticsQuery):
    """Approved purchases net of refunds, grouped by one dimension (the 交易统计 page)."""
    flt = page_filter(
        query, transactions.spec(max_months()), group=query.group, type=query.type, station=query.station,
        product=query.product, region=query.region,
    )  # fmt: skip
    report = transactions.report(db.session, api_scope(), flt, locale=locale(), use_rollup=use_rollup())
    return TransactionStatistics(
        group=report.group, start=flt.start.isoformat(), end=flt.end.isoformat(),
        rows=[_transaction_row(row) for row in report.rows], total=_transaction_row(report.total),
    )  # fmt: skip


class PointsStatisticsQuery(PeriodFilter):
    group: Literal["day", "month", "card"] = Field("day", description="one row per day, month or card")


class PointsStatisticsRow(BaseModel):
    key: str | None = Field(description="a day (YYYY-MM-DD), a month (YYYY-MM) or a card id; null for the total")
    label: str
    earned: int
    taken_back: int = Field(description="points refunds took back")
    redeemed: int
    expired: int
    carried: int = Field(description="points a replacement card inherited (+) or a replaced card handed over (-)")
    net: int = Field(description="earned - taken_back - redeemed - expired + carried")


class PointsStatistics(BaseModel):
    group: str
    start: str
    end: str
    rows: list[PointsStatisticsRow]
    total: PointsStatisticsRow


def _points_row(row: points.Row) -> PointsStatisticsRow:
    return PointsStatisticsRow(
        key=str(row.key) if row.key is not None else None, label=str(row.label or ""), earned=row.earned,
        taken_back=row.taken_back, redeemed=row.redeemed, expired=row.expired, carried=row.carried, net=row.net,
    )  # fmt: skip


@bp.get("/statistics/points")
@api_endpoint("read", query=PointsStatisticsQuery, resp={200: PointsStatistics, **PROBLEMS}, tags=TAGS)
def points_statistics(query: PointsStatisticsQuery):
    """Points earned, taken back, redeemed, expired and carried over (the 积分交易统计 page)."""
    flt = page_filter(query, points.spec(max_months()), group=query.group)
    report = points.report(db.session, api_scope(), flt, locale=locale())
    return PointsStatistics(
        group=report.group, start=flt.start.isoformat(), end=flt.end.isoformat(),
        rows=[_points_row(row) for row in report.rows], total=_points_row(report.total),
    )  # fmt: skip

"""The statistics blueprint: transaction statistics (交易统计) and points statistics (积分交易统计),
each a chart above a table, with the same filters as the queries and CSV/XLSX exports."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import gettext as _

from portal.exports.web import export_response
from portal.exports.writers import Column
from portal.extensions import db
from portal.money import format_fen
from portal.queries import labels
from portal.queries.web import (
    current_scope,
    driver_choices,
    locale,
    max_months,
    parse,
    reference_choices,
    register_bad_filter,
    register_template_helpers,
    use_rollup,
)
from portal.statistics import points, transactions
from portal.statistics.chart import bar_chart
from portal.web.access import guard, requires
from portal.web.filters import count as format_points

bp = guard(Blueprint("statistics", __name__, url_prefix="/statistics"))
register_bad_filter(bp)
register_template_helpers(bp)


@bp.get("/transactions", endpoint="transactions")
@requires("statistics.view")
def transactions_page():
    """交易统计: amount, litres, count and average price by day, month, card, driver, ..."""
    scope = current_scope()
    flt = parse(transactions.spec(max_months()))
    report = transactions.report(db.session, scope, flt, locale=locale(), use_rollup=use_rollup())
    chart = bar_chart([(row.label or "—", row.amount) for row in report.rows], format_fen)
    return render_template(
        "statistics/transactions.html",
        flt=flt,
        report=report,
        chart=chart,
        labels=labels,
        drivers=driver_choices(scope),
        consumption=report.group in transactions.CONSUMPTION_GROUPS,
        **reference_choices(),
    )


@bp.get("/transactions/export.<any(csv, xlsx):fmt>")
@requires("statistics.view")
def transactions_export(fmt: str):
    scope = current_scope()
    flt = parse(transactions.spec(max_months()))
    report = transactions.report(db.session, scope, flt, locale=locale(), use_rollup=use_rollup())
    columns = (
        Column(str(labels.GROUPS[report.group])),
        Column(_("Purchases"), "int"),
        Column(_("Amount (yuan)"), "money"),
        Column(_("Litres"), "litres"),
        Column(_("Average price (yuan/L)"), "money", total=False),
        Column(_("Points"), "int"),
        Column(_("Litres per 100 km"), "litres", total=False),
    )
    rows = ((r.label, r.count, r.amount, r.litres_ml, r.average_price, r.points, r.ml_per_100km) for r in report.rows)
    return export_response(fmt, f"statistics-{report.group}-{flt.start}-{flt.end}", columns, rows)


POINT_GROUPS = {code: labels.GROUPS[code] for code in points.GROUPS}


@bp.get("/points", endpoint="points")
@requires("statistics.view")
def points_page():
    """积分交易统计: points earned, taken back, redeemed, expired and carried over, by day, month or card."""
    scope = current_scope()
    flt = parse(points.spec(max_months()))
    report = points.report(db.session, scope, flt, locale=locale())
    chart = bar_chart([(row.label or "—", row.net) for row in report.rows], format_points)
    return render_template(
        "statistics/points.html",
        flt=flt,
        report=report,
        chart=chart,
        labels=labels,
        groups=POINT_GROUPS,
        drivers=driver_choices(scope),
    )


@bp.get("/points/export.<any(csv, xlsx):fmt>")
@requires("statistics.view")
def points_export(fmt: str):
    scope = current_scope()
    flt = parse(points.spec(max_months()))
    report = points.report(db.session, scope, flt, locale=locale())
    columns = (
        Column(str(labels.GROUPS[report.group])),
        Column(_("Earned"), "int"),
        Column(_("Taken back by refunds"), "int"),
        Column(_("Redeemed"), "int"),
        Column(_("Expired"), "int"),
        Column(_("Card replacement"), "int"),
        Column(_("Net"), "int"),
    )
    rows = ((r.label, r.earned, r.taken_back, r.redeemed, r.expired, r.carried, r.net) for r in report.rows)
    return export_response(fmt, f"points-statistics-{report.group}-{flt.start}-{flt.end}", columns, rows)

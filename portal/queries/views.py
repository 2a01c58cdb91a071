"""The queries blueprint: balances, the three transaction queries and statements, with exports.

Fleet admins see their whole customer, drivers only their own cards; staff and system admins are
refused (403) once for the blueprint. Every filter comes from the query string (bookmarkable).
"""

from __future__ import annotations

from flask import render_template, url_for
from flask_babel import gettext as _

from portal.exports import copy
from portal.exports.web import copy_csv_response, export_response
from portal.exports.writers import Column
from portal.extensions import db
from portal.queries import labels, purchases
from portal.queries.names import Names
from portal.queries.web import (
    bp,
    current_scope,
    driver_choices,
    locale,
    max_days,
    page_size,
    parse,
    read_cursor,
    reference_choices,
    use_rollup,
    write_cursor,
)
from portal.web.access import requires


@bp.get("/purchases", endpoint="purchases")
@requires("queries.view")
def purchases_page():
    """消费交易查询: approved purchases and refunds, or declined attempts on their own tab."""
    scope = current_scope()
    flt = parse(purchases.spec(max_days()))
    page, totals = purchases.page(
        db.session,
        scope,
        flt,
        key=read_cursor(flt, "purchases"),
        limit=page_size(),
        locale=locale(),
        use_rollup=use_rollup(),
    )
    next_cursor = write_cursor(page.next_key, "purchases")
    return render_template(
        "queries/purchases.html",
        flt=flt,
        page=page,
        totals=totals,
        labels=labels,
        drivers=driver_choices(scope),
        next_url=url_for(".purchases", **flt.query_args(cursor=next_cursor)) if next_cursor else None,
        **reference_choices(),
    )


def purchase_columns(declined: bool) -> tuple[Column, ...]:
    columns = [
        Column(_("Time"), "datetime"),
        Column(_("Type")),
        Column(_("Card")),
        Column(_("Driver")),
        Column(_("Plate")),
        Column(_("Station")),
        Column(_("Region")),
        Column(_("Product")),
        Column(_("Litres"), "litres"),
        Column(_("Unit price (yuan/L)"), "money", total=False),
        Column(_("Amount (yuan)"), "money"),
        Column(_("Points"), "int"),
        Column(_("Odometer (km)"), "int", total=False),
    ]
    if declined:
        columns.append(Column(_("Decline reason")))
    return tuple(columns)


@bp.get("/purchases/export.<any(csv, xlsx):fmt>")
@requires("queries.view")
def purchases_export(fmt: str):
    """The purchases (or declines) of the filter as a streamed CSV or XLSX file."""
    scope = current_scope()
    flt = parse(purchases.spec(max_days()))
    declined = flt.get("tab") == "declined"
    name = f"{'declines' if declined else 'purchases'}-{flt.start.isoformat()}-{flt.end.isoformat()}"
    if fmt == "csv" and copy.available(db.session):
        # PostgreSQL formats the cells and streams them with COPY: no Python work per row.
        query = purchases.export_query(
            db.session,
            scope,
            flt,
            locale=locale(),
            kind_labels=labels.PURCHASE_KINDS,
            decline_labels=labels.DECLINE_CODES,
        )
        return copy_csv_response(name, purchase_columns(declined), query)
    return export_response(fmt, name, purchase_columns(declined), purchase_lines(scope, flt))


def purchase_lines(scope, flt):
    """The export's rows for the portable writers (SQLite, and XLSX everywhere)."""
    rows = purchases.stream(db.session, scope, flt)
    names = Names(db.session, locale())
    names.preload_all(scope.customer_id)
    declined = flt.get("tab") == "declined"

    def lines():
        for r in rows:
            line = (
                r.at,
                labels.label(labels.PURCHASE_KINDS, r.kind),
                names.name("card", r.card_id),
                names.name("driver", r.driver_id),
                r.plate,
                names.name("station", r.station_id),
                names.name("region", r.region_id),
                names.name("product", r.product_code),
                r.litres_ml,
                r.unit_price_fen,
                r.amount_fen,
                r.points,
                r.odometer_km,
            )
            yield (*line, labels.label(labels.DECLINE_CODES, r.decline_code)) if declined else line

    return lines()

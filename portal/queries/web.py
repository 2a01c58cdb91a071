"""The queries blueprint (its routes: views.py and ledger_views.py), and the view helpers the queries
and statistics blueprints share: scope of the signed-in user, parsing the filter, turning bad input
into a 400 page, the cursor, and the filter form's choices."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import select

from portal.clock import business_date, to_local
from portal.drivers.models import Driver
from portal.extensions import clock, db
from portal.money import format_fen, format_litres
from portal.queries import labels, purchases
from portal.queries.cursor import BadCursor, Key, decode_cursor, encode_cursor
from portal.queries.filters import Filter, FilterError, FilterSpec, param_label, parse_filter
from portal.queries.scope import Scope, UnknownCard, customer_scope, driver_scope
from portal.queries.states import state_label
from portal.reference.models import Product, Region
from portal.web.access import guard


def current_scope() -> Scope:
    user = current_user.user
    if user.role == "admin" and user.customer_id is not None:
        return customer_scope(user.customer_id)
    if user.role == "driver" and user.customer_id is not None and user.driver_id is not None:
        return driver_scope(db.session, user.customer_id, user.driver_id)
    abort(403)


def today():
    return business_date(clock().now())


def parse(spec: FilterSpec) -> Filter:
    return parse_filter(request.args, spec, today=today())


def locale() -> str:
    return str(get_locale())


def page_size() -> int:
    return int(current_app.config.get("PAGE_SIZE", 50))


def use_rollup() -> bool:
    """Read totals from the daily purchase totals (`purchase_days`, kept by
    `purchases.rollup` and read through `statistics.rollup`): on once every path that
    adds purchases keeps them (see the rollup module)."""
    return bool(current_app.config.get("PURCHASE_ROLLUP", False))


def max_days() -> int:
    return int(current_app.config.get("QUERY_MAX_DAYS", 366))


def max_months() -> int:
    return int(current_app.config.get("STATISTICS_MAX_MONTHS", 24))


def read_cursor(flt: Filter, report: str) -> Key | None:
    if not flt.cursor:
        return None
    return decode_cursor(flt.cursor, secret=current_app.config["SECRET_KEY"], report=report)


def write_cursor(key: Key | None, report: str) -> str | None:
    if key is None:
        return None
    return encode_cursor(key, secret=current_app.config["SECRET_KEY"], report=report)


def driver_choices(scope: Scope) -> list[tuple[int, str]]:
    """Drivers an admin may filter by; a driver sees only their own cards, so no choice."""
    if not scope.whole_customer:
        return []
    return list(
        db.session.execute(
            select(Driver.id, Driver.name).where(Driver.customer_id == scope.customer_id).order_by(Driver.name)
        ).all()
    )


def bad_filter(error: Exception):
    """The 400 page for a filter the page cannot honour: says what is wrong, offers a clean start."""
    if isinstance(error, FilterError):
        message = str(error)
    elif isinstance(error, UnknownCard):
        message = _("No card with this number among the cards you can see.")
    elif isinstance(error, purchases.UnknownReference):
        message = _("%(name)s: %(value)s is not known.", name=param_label(error.what), value=error.value[:32])
    elif isinstance(error, BadCursor):
        message = _("This page link is not valid any more. Start again from the first page.")
    else:  # pragma: no cover - only the errors registered below reach here
        raise error
    return render_template("queries/bad_filter.html", message=message, back=request.path), 400


def register_bad_filter(bp) -> None:
    for error in (FilterError, UnknownCard, purchases.UnknownReference, BadCursor):
        bp.register_error_handler(error, bad_filter)


def litres(ml: int | None) -> str:
    """Template filter: integer millilitres as litres with two decimals (45.13 L)."""
    if ml is None:
        return ""
    return format_litres(ml, locale())


def select_options(choices, selected) -> Markup:
    """`<option>`s of (value, text) pairs, `selected` marked: one join instead of a template loop,
    which matters for a fleet's hundreds of drivers on every filtered page."""
    selected = "" if selected is None else str(selected)
    return Markup(
        "".join(
            f'<option value="{escape(value)}"{" selected" if str(value) == selected else ""}>{escape(text)}</option>'
            for value, text in choices
        )
    )


def register_template_helpers(bp) -> None:
    """Filters these pages need that the shared set (portal.web.filters) does not have yet."""

    def install(state):
        state.app.jinja_env.filters.setdefault("litres", litres)
        # Row cells of long tables: the same text as `money` / `localtime`, without a locale lookup
        # per cell (amounts and Beijing times read the same in both languages).
        state.app.jinja_env.filters.setdefault("fen", format_fen)
        state.app.jinja_env.filters.setdefault("litres_plain", format_litres)
        state.app.jinja_env.filters.setdefault("minute", lambda at: to_local(at).strftime("%Y-%m-%d %H:%M"))
        state.app.jinja_env.globals.setdefault("transfer_label", lambda code: labels.label(labels.TRANSFER_CODES, code))
        state.app.jinja_env.globals.setdefault("select_options", select_options)
        state.app.jinja_env.globals.setdefault("movement_state", state_label)

    bp.record_once(install)


def reference_choices() -> dict:
    """Products and regions for the filter form (short lists); stations are typed by code."""
    zh = locale().startswith("zh")
    # Plain (code, name) rows: no ORM objects to build on every page view.
    return {
        "products": db.session.execute(
            select(Product.code, Product.name_zh if zh else Product.name_en).order_by(Product.code)
        ).all(),
        "regions": db.session.execute(
            select(Region.code, Region.name_zh if zh else Region.name_en).order_by(Region.code)
        ).all(),
    }


#: Fleet admins see their whole customer, drivers only their own cards (`current_scope`); every
#: view declares "queries.view". Every filter comes from the query string (bookmarkable).
bp = guard(Blueprint("queries", __name__, url_prefix="/queries"))
register_bad_filter(bp)
register_template_helpers(bp)

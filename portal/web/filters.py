"""Jinja filters every area's templates use: money in fen, points, times in Shanghai, card numbers."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import Flask
from flask_babel import format_date, format_datetime, format_decimal, get_locale

from portal.money import format_fen


def money(fen: int | None) -> str:
    """Display an amount of integer fen in the current language (e.g. ¥1,234.56)."""
    if fen is None:
        return ""
    if isinstance(fen, bool) or not isinstance(fen, int):
        # A float here would mean a rounding bug upstream: fail loudly, never display it.
        raise TypeError(f"money needs integer fen, got {type(fen).__name__}")
    return format_fen(fen, str(get_locale()))


def points(value: int | None) -> str:
    """A whole number of points, grouped in the current language (12,345)."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"points are integers, got {type(value).__name__}")
    return format_decimal(value)


#: One date-time and one date format per language (CLDR patterns), used by every page and message.
DATETIME_FORMATS = {"zh": "yyyy-MM-dd HH:mm", "en": "yyyy-MM-dd HH:mm"}
DATE_FORMATS = {"zh": "yyyy-MM-dd", "en": "yyyy-MM-dd"}


def _pattern(table: dict[str, str]) -> str:
    return table.get(get_locale().language, table["zh"])


def localtime(at: datetime | None, _format: str | None = None) -> str:
    """An aware UTC instant shown in the business timezone (Asia/Shanghai), in the one date-time
    format of the current language. (A pattern passed by an older template is ignored on purpose:
    every page shows times the same way.)"""
    if at is None:
        return ""
    if at.tzinfo is None:
        raise ValueError("localtime needs an aware datetime; stored times are UTC-aware")
    return format_datetime(at, _pattern(DATETIME_FORMATS))


def date_text(day: date | None) -> str:
    """A calendar date (validity, business day) in the one date format of the current language."""
    if day is None:
        return ""
    if isinstance(day, datetime):
        raise TypeError("date_text takes a date; show instants with localtime")
    return format_date(day, _pattern(DATE_FORMATS))


def count(value: int | None) -> str:
    """A count of things (cards, purchases, rows), grouped like points: 1,234. (A database count
    may arrive as an integral Decimal; a fraction is refused.)"""
    if isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise TypeError("a count is a whole number")
        value = int(value)
    return points(value)


def points_signed(value: int | None) -> str:
    """A change of points with its sign, grouped: +1,234 / -567."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"points are integers, got {type(value).__name__}")
    return format_decimal(value, "+#,##0;-#,##0")


def card_number(number: str | None) -> str:
    """Group a card number in fours, as printed on the card: 9030 0001 2345 6789."""
    if not number:
        return ""
    digits = "".join(number.split())
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def as_controls(values):
    """A card's controls as the chip stores them (a dict of CardControls columns) as a Controls value,
    so that pages show them in words (cards/_controls_summary.html), never as column names."""
    from dataclasses import fields

    from portal.cards.controls import Controls

    known = {f.name for f in fields(Controls)}
    chosen = {name: value for name, value in (values or {}).items() if name in known and value is not None}
    for name in ("allowed_products", "allowed_region_ids", "allowed_station_ids"):
        chosen[name] = tuple(chosen.get(name) or ())
    return Controls(**chosen)


def register_filters(app: Flask) -> None:
    from portal.queries.labels import card_status

    app.add_template_filter(money, "money")
    app.add_template_filter(points, "points")
    app.add_template_filter(localtime, "localtime")
    app.add_template_filter(localtime, "minute")  # the queries' older name: the same format
    app.add_template_filter(date_text, "date")
    app.add_template_filter(count, "count")
    app.add_template_filter(points_signed, "points_signed")
    app.add_template_filter(card_number, "card_number")
    app.add_template_filter(as_controls, "as_controls")
    app.add_template_filter(card_status, "card_status")

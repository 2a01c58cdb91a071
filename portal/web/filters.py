"""Jinja filters every area's templates use: money in fen, points, times in Shanghai, card numbers."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask_babel import format_datetime, format_decimal, get_locale

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


def localtime(at: datetime | None, format: str = "medium") -> str:
    """An aware UTC instant shown in the business timezone (Asia/Shanghai) and the current language."""
    if at is None:
        return ""
    if at.tzinfo is None:
        raise ValueError("localtime needs an aware datetime; stored times are UTC-aware")
    return format_datetime(at, format)


def card_number(number: str | None) -> str:
    """Group a card number in fours, as printed on the card: 9030 0001 2345 6789."""
    if not number:
        return ""
    digits = "".join(number.split())
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def register_filters(app: Flask) -> None:
    app.add_template_filter(money, "money")
    app.add_template_filter(points, "points")
    app.add_template_filter(localtime, "localtime")
    app.add_template_filter(card_number, "card_number")

"""Query-string filters shared by the queries, statistics and exports: parsed and validated here.

Pure parsing (no database, no request): `parse_filter(args, spec, today=...)` returns a `Filter` or
raises `FilterError` whose message the view shows with a 400. Dates are Asia/Shanghai business days,
inclusive; the service turns them into a half-open UTC range with `business_day_bounds`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l

from portal.clock import business_day_bounds

PRESETS = ("today", "this_month", "last_month", "custom")
ORDERS = ("desc", "asc")
#: Parameters every filtered page accepts; a spec adds its own (type, tab, group, ...).
COMMON_PARAMS = frozenset({"preset", "start", "end", "card", "driver", "plate", "order", "cursor"})
_CARD_NUMBER = re.compile(r"\d{8,19}", re.ASCII)
_MAX_TEXT = 32


class FilterError(ValueError):
    """A filter the page cannot honour. `code` is stable; `message` is translatable."""

    def __init__(self, code: str, message, **params):
        super().__init__(code)
        self.code = code
        self.message = message
        self.params = params

    def __str__(self) -> str:
        return str(self.message) % self.params if self.params else str(self.message)


@dataclass(frozen=True)
class FilterSpec:
    """What one page accepts: extra parameters, allowed values of each, and the range limit."""

    #: Extra parameter name -> allowed values (None: free text or a number, checked by the service).
    extra: Mapping[str, tuple[str, ...] | None] = field(default_factory=dict)
    #: Longest range allowed, in days (lists) or months (statistics, see `max_months`).
    max_days: int = 366
    max_months: int | None = None
    default_preset: str = "this_month"
    #: Extra parameters' defaults when absent.
    defaults: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Filter:
    preset: str
    #: Inclusive business days.
    start: date
    end: date
    card: str = ""
    driver: int | None = None
    plate: str = ""
    order: str = "desc"
    cursor: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def utc_range(self) -> tuple[datetime, datetime]:
        """[start of the first day, start of the day after the last) as UTC instants."""
        return business_day_bounds(self.start)[0], business_day_bounds(self.end)[1]

    def get(self, name: str, default: str = "") -> str:
        return self.extra.get(name, default)

    def query_args(self, **changes) -> dict[str, str]:
        """The filter as query-string arguments (for links: next page, exports, tabs)."""
        args = {"preset": self.preset, "order": self.order}
        if self.preset == "custom":
            args |= {"start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.card:
            args["card"] = self.card
        if self.driver is not None:
            args["driver"] = str(self.driver)
        if self.plate:
            args["plate"] = self.plate
        args |= {k: v for k, v in self.extra.items() if v}
        args |= {k: v for k, v in changes.items() if v is not None}
        return {k: v for k, v in args.items() if v != ""}


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    """The first of the month `months` after (or before) `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def preset_range(preset: str, today: date) -> tuple[date, date]:
    if preset == "today":
        return today, today
    if preset == "this_month":
        return month_start(today), today
    if preset == "last_month":
        first = add_months(today, -1)
        return first, month_start(today) - timedelta(days=1)
    raise ValueError(preset)


#: The dates a filter may name (bounds the input, not the data): date arithmetic near the years 1 and
#: 9999 overflows, and nothing in the books is older than the portal.
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)


def _parse_date(text: str, name: str) -> date:
    label = param_label(name)
    try:
        if len(text) != 10 or not text.isascii():
            raise ValueError
        value = date.fromisoformat(text)
    except ValueError:
        raise FilterError("bad_date", _l("%(name)s must be a date like 2026-03-01."), name=label) from None
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise FilterError(
            "date_out_of_range",
            _l("%(name)s must be between %(earliest)s and %(latest)s."),
            name=label,
            earliest=EARLIEST_DATE.isoformat(),
            latest=LATEST_DATE.isoformat(),
        )
    return value


#: What each query-string parameter is called on the page: messages name the field, never the parameter.
_PARAM_LABELS = {
    "start": _l("The start date"),
    "end": _l("The end date"),
    "preset": _l("Period"),
    "card": _l("Card number"),
    "driver": _l("Driver"),
    "plate": _l("Plate"),
    "order": _l("Order"),
    "cursor": _l("Page"),
    "type": _l("Type"),
    "tab": _l("Show"),
    "group": _l("Group by"),
    "station": _l("Station"),
    "product": _l("Product"),
    "region": _l("Region"),
}
#: A parameter without a label (a page's own extra): still never shown by its name.
_SOME_FIELD = _l("A filter")


def param_label(name: str):
    """The translated name of a query-string parameter, as its field is labelled on the page."""
    return _PARAM_LABELS.get(name, _SOME_FIELD)


def refuse_unknown(args: Mapping[str, str], allowed) -> None:
    """Refuse a query string naming parameters the page does not take (a mistyped or stale link), so
    that a mistyped filter never silently shows unfiltered data. The message does not repeat the
    names: they are the address's internals, not words of the page."""
    if set(args) - set(allowed):
        raise FilterError(
            "unknown_filter", _l("This link holds a filter the page does not know; open the page from its menu.")
        )


def _text(args: Mapping[str, str], name: str) -> str:
    value = (args.get(name) or "").strip()
    if len(value) > _MAX_TEXT:
        raise FilterError("too_long", _l("%(name)s is too long."), name=param_label(name))
    return value


def parse_filter(args: Mapping[str, str], spec: FilterSpec, *, today: date) -> Filter:
    """Validate the query string against `spec`. Unknown parameters are refused, not ignored, so a
    mistyped filter never silently shows unfiltered data."""
    refuse_unknown(args, COMMON_PARAMS | set(spec.extra))

    preset = _text(args, "preset") or spec.default_preset
    if preset not in PRESETS:
        raise FilterError("bad_preset", _l("Unknown period: choose today, this month, last month or custom."))
    if preset == "custom":
        if not args.get("start") or not args.get("end"):
            raise FilterError("missing_dates", _l("A custom period needs a start date and an end date."))
        start, end = _parse_date(args["start"].strip(), "start"), _parse_date(args["end"].strip(), "end")
    else:
        start, end = preset_range(preset, today)
    if start > end:
        raise FilterError("start_after_end", _l("The start date is after the end date."))
    if spec.max_months is not None:
        # Calendar months touched, so "24 months" means e.g. 2024-04-01 .. 2026-03-31.
        if (end.year * 12 + end.month) - (start.year * 12 + start.month) + 1 > spec.max_months:
            raise FilterError(
                "range_too_long", _l("Choose a period of at most %(months)d months."), months=spec.max_months
            )
    elif (end - start).days + 1 > spec.max_days:
        raise FilterError("range_too_long", _l("Choose a period of at most %(days)d days."), days=spec.max_days)

    card = "".join(_text(args, "card").split())
    if card and not _CARD_NUMBER.fullmatch(card):
        raise FilterError("bad_card", _l("A card number has only digits."))
    driver_text = _text(args, "driver")
    driver = None
    if driver_text:
        if not driver_text.isascii() or not driver_text.isdigit() or len(driver_text) > 12:
            raise FilterError("bad_driver", _l("Unknown driver."))
        driver = int(driver_text)
    order = _text(args, "order") or "desc"
    if order not in ORDERS:
        raise FilterError("bad_order", _l("Sort by newest or oldest first."))

    extra: dict[str, str] = {}
    for name, allowed_values in spec.extra.items():
        value = _text(args, name) or spec.defaults.get(name, "")
        if value and allowed_values is not None and value not in allowed_values:
            raise FilterError("bad_value", _l("%(name)s: choose one of the offered values."), name=param_label(name))
        extra[name] = value
    return Filter(
        preset=preset,
        start=start,
        end=end,
        card=card,
        driver=driver,
        plate=_text(args, "plate").upper(),
        order=order,
        cursor=(args.get("cursor") or "")[:512],
        extra=extra,
    )

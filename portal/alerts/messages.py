"""Human-readable, translated texts for the alert kinds: a title and why an alert fired, with its
figures (grouped like every figure the portal shows). Web layer only: it imports Flask-Babel."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

ALERT_TITLES = {
    "tank_overfill": _l("Fill larger than the tank"),
    "too_many_fills": _l("More fills in a day than usual"),
    "impossible_travel": _l("Stations too far apart for the time between fills"),
    "outside_hours": _l("Fill outside allowed hours"),
    "outside_region": _l("Fill outside allowed regions"),
    "repeated_declines": _l("Repeated declines"),
}
#: A kind this version does not know (written by a newer one): never shown as its key.
UNKNOWN_TITLE = _l("Unusual fuelling")


def alert_title(kind: str) -> str:
    """The alert kind's title in the current language; a generic one for an unknown kind."""
    return str(ALERT_TITLES.get(kind, UNKNOWN_TITLE))


def _n(detail: dict, name: str) -> str:
    """A whole figure of the detail (count, km, minutes), grouped: 1,234."""
    return format_decimal(int(detail.get(name) or 0))


def _litres(ml) -> str:
    """Millilitres as litres with two decimals (half up), grouped: 1,234.50. Exact: no float."""
    litres = Decimal(int(ml or 0)).scaleb(-3).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return format_decimal(litres, "#,##0.00")


def alert_explanation(kind: str, detail: dict) -> str:
    """Why the alert fired, with its figures, in the current language."""
    d = detail or {}
    if kind == "tank_overfill":
        return _(
            "%(litres)s litres were filled into %(plate)s, whose tank holds %(tank)s litres.",
            litres=_litres(d.get("litres_ml")),
            tank=_litres(d.get("tank_ml")),
            plate=d.get("plate", ""),
        )
    if kind == "too_many_fills":
        return _(
            "%(count)s fills on %(day)s; this fleet's normal is %(normal)s per card and day (alert above %(threshold)s).",
            count=_n(d, "count"),
            day=d.get("day", ""),
            normal=_n(d, "normal"),
            threshold=_n(d, "threshold"),
        )
    if kind == "impossible_travel":
        return _(
            "%(km)s km from %(origin)s to %(destination)s in %(minutes)s minutes (faster than %(max)s km/h).",
            km=_n(d, "km"),
            origin=d.get("from_station", ""),
            destination=d.get("to_station", ""),
            minutes=_n(d, "minutes"),
            max=_n(d, "max_kmh"),
        )
    if kind == "outside_hours":
        if d.get("allowed"):
            return _("Fill at %(time)s; the card is allowed %(allowed)s.", time=d.get("time", ""), allowed=d["allowed"])
        return _("Fill at %(time)s, in the middle of the night.", time=d.get("time", ""))
    if kind == "outside_region":
        if "allowed_region_ids" in d:
            return _("Fill in a region the card is not allowed to use.")
        return _("Fill outside the customer's home region.")
    if kind == "repeated_declines":
        return _(
            "%(count)s declined attempts within %(minutes)s minutes.",
            count=_n(d, "count"),
            minutes=_n(d, "minutes"),
        )
    return _("The fill looked unusual; check it with the driver.")

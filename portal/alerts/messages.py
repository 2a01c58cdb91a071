"""Human-readable, translated texts for the alert kinds: a title and why an alert fired, with its
figures. Web layer only: it imports Flask-Babel."""

from __future__ import annotations

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


def alert_explanation(kind: str, detail: dict) -> str:
    """Why the alert fired, with its figures, in the current language."""
    d = detail or {}
    if kind == "tank_overfill":
        return _(
            "%(litres).2f litres were filled into %(plate)s, whose tank holds %(tank).2f litres.",
            litres=d.get("litres_ml", 0) / 1000,
            tank=d.get("tank_ml", 0) / 1000,
            plate=d.get("plate", ""),
        )
    if kind == "too_many_fills":
        return _(
            "%(count)d fills on %(day)s; this fleet's normal is %(normal)d per card and day (alert above %(threshold)d).",
            count=d.get("count", 0),
            day=d.get("day", ""),
            normal=d.get("normal", 0),
            threshold=d.get("threshold", 0),
        )
    if kind == "impossible_travel":
        return _(
            "%(km)d km from %(origin)s to %(destination)s in %(minutes)d minutes (faster than %(max)d km/h).",
            km=d.get("km", 0),
            origin=d.get("from_station", ""),
            destination=d.get("to_station", ""),
            minutes=d.get("minutes", 0),
            max=d.get("max_kmh", 0),
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
            "%(count)d declined attempts within %(minutes)d minutes.",
            count=d.get("count", 0),
            minutes=d.get("minutes", 0),
        )
    return kind

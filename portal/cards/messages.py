"""What the card services' refusals say to people, by stable error code (web layer only)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from portal.cards import controls
from portal.queries import labels

ERRORS = {
    "card_not_found": _l("No such card."),
    "card_not_active": _l("This card is lost or closed; the action needs an active card."),
    "already_reported": _l("This card is already reported lost."),
    "report_not_open": _l("This loss report was already cancelled, or the card already replaced."),
    "replacement_too_early": _l("The card cannot be replaced yet; see when replacement is possible."),
    "funds_in_flight": _l("A load onto this card's chip is still pending; cancel it or wait until it expires."),
    "password_not_confirmed": _l("Please enter your password again to continue."),
    "invalid_controls": _l("These controls are not valid."),
    "not_owned": _l("A driver, vehicle, station, region or product you chose is not available."),
    "duplicate_name": _l("A template with this name exists already."),
}

#: Why a pump refuses a purchase (the reason codes of `check_purchase_allowed`).
CONTROL_REASONS = {
    controls.PER_PURCHASE_AMOUNT: _l("above the amount per purchase"),
    controls.DAILY_AMOUNT: _l("above the amount per day"),
    controls.DAILY_COUNT: _l("too many purchases today"),
    controls.DAILY_LITRES: _l("above the litres per day"),
    controls.PRODUCT: _l("product not allowed"),
    controls.REGION: _l("region not allowed"),
    controls.STATION: _l("station not allowed"),
    controls.PLATE: _l("plate does not match"),
    controls.HOURS: _l("outside the allowed hours"),
}

LOSS_REASONS = {
    "lost": _l("Lost"),
    "stolen": _l("Stolen"),
    "damaged": _l("Damaged"),
    "other": _l("Other"),
}

#: One label per card state: the queries' table is the only home (re-exported for the cards pages).
CARD_STATUSES = labels.CARD_STATUSES

REPORT_STATUSES = {"open": _l("Open"), "cancelled": _l("Cancelled"), "replaced": _l("Replaced")}


def error_message(error) -> str:
    return str(ERRORS.get(getattr(error, "code", ""), _l("The request could not be completed.")))

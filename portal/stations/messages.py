"""Human-readable, translated texts for the station side's stable codes (decline reasons, API
errors; alert texts live in portal.alerts.messages). Web layer only: it imports Flask-Babel."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from portal.purchases import rules

DECLINE_MESSAGES = {
    "approved": _l("Approved."),
    rules.CARD_LOST: _l("The card has been reported lost."),
    rules.CARD_BLOCKED: _l("The card is blocked."),
    rules.CARD_CLOSED: _l("The card is closed."),
    rules.CARD_EXPIRED: _l("The card has expired."),
    rules.INSUFFICIENT_BALANCE: _l("Not enough money on the chip."),
    rules.PER_PURCHASE_LIMIT: _l("Over the card's limit for one purchase."),
    rules.DAILY_AMOUNT_LIMIT: _l("Over the card's daily amount limit."),
    rules.DAILY_COUNT_LIMIT: _l("Over the card's daily number of purchases."),
    rules.DAILY_LITRES_LIMIT: _l("Over the card's daily litres limit."),
    rules.PRODUCT_NOT_ALLOWED: _l("This card may not buy this product."),
    rules.STATION_NOT_ALLOWED: _l("This card may not be used at this station."),
    rules.REGION_NOT_ALLOWED: _l("This card may not be used in this region."),
    rules.HOURS_NOT_ALLOWED: _l("This card may not be used at this time of day."),
    rules.PLATE_MISMATCH: _l("The vehicle plate does not match the card."),
}

ERROR_MESSAGES = {
    "unauthorized": _l("A valid terminal API key is required."),
    "body_too_large": _l("The request body is too large."),
    "rate_limited": _l("Too many requests: try again after the time in Retry-After."),
    "malformed_json": _l("The request body must be a JSON object."),
    "missing_field": _l("A required field is missing."),
    "bad_field": _l("A field has the wrong type or format."),
    "out_of_range": _l("A number is out of range (amounts, litres and prices must be positive)."),
    "amount_mismatch": _l("The amount differs from litres times unit price by more than one fen."),
    "clock_skew": _l("The terminal's clock is too far off."),
    "unknown_card": _l("No card has this number."),
    "unknown_product": _l("No product has this code."),
    "unknown_station": _l("Unknown or inactive station."),
    "station_mismatch": _l("The station code is not this terminal's station."),
    "unknown_purchase": _l("No such purchase at this station."),
    "not_refundable": _l("A declined purchase cannot be refunded."),
    "already_refunded": _l("This purchase was already refunded."),
    "sequence_reused": _l("This sequence number was already used for a different request."),
    "bad_points": _l("Points are redeemed in whole blocks."),
    "insufficient_points": _l("The card does not have that many points."),
    "key_reused": _l("This key was already used for a different request."),
    "card_lost": _l("The card has been reported lost."),
    "card_closed": _l("The card is closed."),
    "card_blocked": _l("The card is blocked."),
    "ledger_refused": _l("The books refused the movement."),
    "chip_refused": _l("The chip refused the purchase: it is blocked, or holds less (sync the card first)."),
    "busy_retry": _l("The system is busy and nothing was changed: send the same request again after Retry-After."),
}


def decline_message(code: str | None) -> str:
    """The plain-language reason for a decline code (for the API, the admin and the driver)."""
    text = DECLINE_MESSAGES.get(code or "approved")
    return str(text) if text is not None else code or ""


def error_message(code: str, fallback: str = "") -> str:
    text = ERROR_MESSAGES.get(code)
    return str(text) if text is not None else fallback

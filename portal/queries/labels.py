"""Translatable labels for the stable codes the queries show (transfer codes, decline reasons, ...)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

TRANSFER_CODES = {
    "deposit": _l("Deposit"),
    "allocation": _l("Allocation"),
    "collection": _l("Collection"),
    "load": _l("Load onto chip"),
    "purchase": _l("Purchase"),
    "refund": _l("Refund"),
    "points_earn": _l("Points earned"),
    "points_redeem": _l("Points redeemed"),
    "points_expire": _l("Points expired"),
    "replacement": _l("Card replacement"),
    "reversal": _l("Reversal"),
}

TRANSFER_KINDS = {
    "posted": _l("Posted"),
    "pending": _l("Pending"),
    "post_pending": _l("Confirmed"),
    "void_pending": _l("Voided"),
}

ACCOUNT_KINDS = {
    "unit": _l("Unit account"),
    "reserve": _l("Reserve"),
    "purse": _l("Chip purse"),
    "points": _l("Points"),
    "deposits_clearing": _l("Bank deposit"),
    "station_sales": _l("Station"),
    "pending_loads": _l("Load in progress"),
    "points_issued": _l("Points issued"),
    "points_redeemed": _l("Points redeemed"),
    "points_expired": _l("Points expired"),
}

PURCHASE_KINDS = {"purchase": _l("Purchase"), "refund": _l("Refund")}

DECLINE_CODES = {
    "card_closed": _l("Card closed"),
    "card_lost": _l("Card reported lost"),
    "card_blocked": _l("Card blocked"),
    "card_expired": _l("Card expired"),
    "per_purchase_limit": _l("Over the per-purchase limit"),
    "daily_amount_limit": _l("Over the daily amount limit"),
    "daily_count_limit": _l("Over the daily purchase count"),
    "daily_litres_limit": _l("Over the daily litre limit"),
    "product_not_allowed": _l("Product not allowed"),
    "station_not_allowed": _l("Station not allowed"),
    "region_not_allowed": _l("Region not allowed"),
    "hours_not_allowed": _l("Outside the allowed hours"),
    "plate_mismatch": _l("Plate does not match"),
    "insufficient_balance": _l("Insufficient chip balance"),
}

#: One label per card state, everywhere (pages, filters, exports).
CARD_STATUSES = {"active": _l("Active"), "lost": _l("Reported lost"), "closed": _l("Closed")}

PRESETS = {
    "today": _l("Today"),
    "this_month": _l("This month"),
    "last_month": _l("Last month"),
    "custom": _l("Custom"),
}

GROUPS = {
    "day": _l("Day"),
    "month": _l("Month"),
    "card": _l("Card"),
    "driver": _l("Driver"),
    "vehicle": _l("Vehicle"),
    "product": _l("Product"),
    "station": _l("Station"),
    "region": _l("Region"),
}


def label(table: dict, code: str | None) -> str:
    """The translated label of `code`, or the code itself when it is new to this table."""
    if code is None:
        return ""
    return str(table.get(code, code))


def card_status(status: str | None) -> str:
    """The one label of a card state (正常 / 已挂失 / 已注销)."""
    return label(CARD_STATUSES, status)

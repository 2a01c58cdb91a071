"""Translatable labels for the stable codes the queries show (transfer codes, decline reasons, ...)."""

from __future__ import annotations

import re
from datetime import date

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.ledger import memos
from portal.web.filters import card_number, money

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


# --- what a journal row is about, in the reader's language ---------------------------------------
#: Old rows (before memos were structured) hold English sentences; these patterns read their fields
#: back, so that an old row renders like a new one and no English memo reaches a page.
_LEGACY_MEMOS = (
    re.compile(r"^(?P<source>online|offline) purchase (?P<product>\S+) at station (?P<station>\d+)$"),
    re.compile(r"^bank (?P<bank>.+)$"),
    re.compile(r"^(?:allocation|collection) (?P<batch>\S+)$"),
    re.compile(r"^refund of purchase (?P<purchase>\d+)$"),
    re.compile(r"^(?P<old_card>\d{8,19}) -> (?P<new_card>\d{8,19})$"),
    re.compile(r"^voucher (?P<voucher_fen>\d+) fen \((?P<channel>\w+)\)$"),
    re.compile(r"^earned before (?P<earned_before>\d{4}-\d{2}-\d{2})$"),
    re.compile(r"^(?P<reason>expired|refund)$"),
)

REDEMPTION_CHANNELS = {"portal": _l("online service"), "station": _l("at the station")}


def memo_fields(memo: str | None) -> dict:
    """The structured fields of a memo, new (JSON) or old (an English sentence); {} if none."""
    fields = memos.parse(memo)
    if fields is not None:
        return fields
    for pattern in _LEGACY_MEMOS:
        match = pattern.match((memo or "").strip())
        if match:
            return {name: value for name, value in match.groupdict().items() if value is not None}
    return {}


def card_status(status: str | None) -> str:
    """The one label of a card state (正常 / 已挂失 / 已注销)."""
    return label(CARD_STATUSES, status)


def product_name(code) -> str:
    """A product's name in the current language (92#汽油), from its code ("92"); "92#" if unknown."""
    from portal.extensions import db
    from portal.reference.models import Product

    if code is None or code == "":
        return ""
    product = db.session.get(Product, str(code))
    return product.name(str(get_locale())) if product is not None else f"{code}#"


def _station_name(station_id) -> str:
    from portal.extensions import db
    from portal.reference.models import Station

    station = db.session.get(Station, int(station_id)) if str(station_id).isdigit() else None
    return station.name if station is not None else ""


def _date(text) -> str:
    from portal.web.filters import date_text

    try:
        return date_text(date.fromisoformat(str(text)))
    except ValueError:
        return ""


def _describe_load(kind: str, fields: dict) -> str:
    if kind == "pending":
        return _("Load requested; waiting to be written to the chip")
    if kind == "post_pending":
        return _("Written to the chip")
    if kind == "void_pending":
        if fields.get("reason") == "expired":
            return _("Load expired; the money is back in the reserve")
        if fields.get("reason") == "cancelled":
            return _("Load cancelled; the money is back in the reserve")
        return _("Load voided; the money is back in the reserve")
    return _("Loaded onto the chip")


def _describe_purchase(fields: dict) -> str:
    product = product_name(fields["product"])
    station = _station_name(fields.get("station"))
    offline = fields.get("source") == "offline"
    if not station:
        return (
            _("Offline purchase: %(product)s", product=product)
            if offline
            else _("Purchase: %(product)s", product=product)
        )
    if offline:
        return _("Offline purchase: %(product)s, %(station)s", product=product, station=station)
    return _("Purchase: %(product)s, %(station)s", product=product, station=station)


def describe_transfer(transfer) -> str:
    """One line saying what a journal row is, in the current language, from its code, kind and
    structured memo (never the stored memo text itself: old rows hold English sentences)."""
    code, kind, fields = transfer.code, transfer.kind, memo_fields(transfer.memo)
    if code == "deposit":
        return _("Bank transfer %(reference)s", reference=fields["bank"]) if "bank" in fields else _("Bank transfer")
    if code == "allocation":
        return _("Allocated from the unit account")
    if code == "collection":
        return _("Collected back to the unit account")
    if code == "load":
        return _describe_load(kind, fields)
    if code == "purchase" and "product" in fields:
        return _describe_purchase(fields)
    if code == "refund" and "purchase" in fields:
        return _("Refund of purchase no. %(number)s", number=fields["purchase"])
    if code == "replacement" and "new_card" in fields:
        return _("Card replaced: balance moved from %(old)s to %(new)s", old=card_number(str(fields.get("old_card", ""))),
                 new=card_number(str(fields["new_card"])))  # fmt: skip
    if code == "points_earn":
        return _("Points for a purchase")
    if code == "points_redeem" and "voucher_fen" in fields:
        return _("Fuel voucher of %(value)s (%(channel)s)", value=money(int(fields["voucher_fen"])),
                 channel=label(REDEMPTION_CHANNELS, str(fields.get("channel", "portal"))))  # fmt: skip
    if code == "points_expire" and "earned_before" in fields:
        return _("Points earned before %(date)s expired", date=_date(fields["earned_before"]))
    if code == "reversal" and fields.get("reason") == "refund":
        return _("Points taken back for a refund")
    return label(TRANSFER_CODES, code)

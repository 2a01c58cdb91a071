"""What a journal row is about, in the reader's language: one home for the text of every memo.

The ledger stores structured memos (`portal.ledger.memos`); pages and exports call
`describe_transfer`, which reads the transfer's code, kind and memo fields and never shows the stored
memo itself (rows written before memos were structured hold English sentences: their fields are read
back through `_LEGACY_MEMOS`).
"""

from __future__ import annotations

import re
from datetime import date

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.extensions import db
from portal.ledger import memos
from portal.queries.labels import TRANSFER_CODES, label
from portal.reference.models import Product, Station
from portal.web.filters import card_number, date_text, money

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


def product_name(code) -> str:
    """A product's name in the current language (92#汽油), from its code ("92"); "92#" if unknown."""
    if code is None or code == "":
        return ""
    product = db.session.get(Product, str(code))
    return product.name(str(get_locale())) if product is not None else f"{code}#"


def _station_name(station_id) -> str:
    station = db.session.get(Station, int(station_id)) if str(station_id).isdigit() else None
    return station.name if station is not None else ""


def _date(text) -> str:
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


#: What a load movement (its pending row, `journal.Movement`) says in each state.
_LOAD_STATES = {
    "waiting": _l("Load requested; waiting to be written to the chip"),
    "loaded": _l("Written to the chip"),
    "cancelled": _l("Load cancelled; the money is back in the reserve"),
    "expired": _l("Load expired; the money is back in the reserve"),
}


def describe_movement(movement) -> str:
    """One line saying what a movement is, in the current language. A two-phase load is one
    movement listed on its request row: it is described by its state (waiting, on the chip,
    cancelled, expired), not by the request it started as (issue 12)."""
    transfer = movement.transfer
    if transfer.code == "load" and transfer.kind == "pending" and movement.state in _LOAD_STATES:
        return str(_LOAD_STATES[movement.state])
    return describe_transfer(transfer)


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


def register_memo_text(app) -> None:
    """Templates call describe_transfer(transfer), describe_movement(movement) and product_name(code)."""
    app.add_template_global(describe_transfer, "describe_transfer")
    app.add_template_global(describe_movement, "describe_movement")
    app.add_template_global(product_name, "product_name")

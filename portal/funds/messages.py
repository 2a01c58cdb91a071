"""Translated messages for the stable error codes of the funds and chips services (web layer only)."""

from __future__ import annotations

from flask_babel import gettext as _

from portal.funds.plan import LineError
from portal.money import format_fen


def _money(fen) -> str:
    return format_fen(fen) if isinstance(fen, int) else ""


def line_error_message(error: LineError, *, csv: bool) -> str:
    """One problem as a sentence, prefixed with its CSV line number (uploads) or card (the page)."""
    p = error.params
    texts = {
        "unknown_card": _("card %(card)s is not one of your sub-cards", card=p.get("card", "")),
        "not_sub_card": _("card %(card)s is the main card; funds go to sub-cards", card=p.get("card", "")),
        "card_lost": _("card %(card)s is reported lost", card=p.get("card", "")),
        "card_closed": _("card %(card)s is closed", card=p.get("card", "")),
        "duplicate_card": _("card %(card)s is already on line %(line)s", card=p.get("card", ""),
                            line=p.get("first_line", "")),
        "amount_empty": _("enter an amount"),
        "amount_negative": _("the amount cannot be negative"),
        "amount_zero": _("the amount must be more than zero"),
        "amount_too_many_decimals": _("use at most two decimal places (fen)"),
        "amount_too_large": _("the amount is too large"),
        "amount_not_a_number": _("the amount is not a number, write it like 1234.56"),
        "amount_bad_grouping": _("thousands separators must come every three digits, like 1,234.56"),
        "above_reserve": _("card %(card)s holds only %(available)s available", card=p.get("card", ""),
                           available=_money(p.get("available"))),
        "above_unit_balance": _("the total %(total)s is more than the unit account's available %(available)s",
                                total=_money(p.get("total")), available=_money(p.get("available"))),
        "nothing": _("enter at least one amount"),
        "too_many_lines": _("at most %(max)s lines at once", max=p.get("max", "")),
        "file_too_large": _("the file is too large"),
        "bad_csv": _("the file is not a readable CSV file"),
        "bad_encoding": _("the file is not UTF-8 or GB18030 text"),
        "missing_header": _("the file is empty; the first line must be the header card_number,amount"),
        "bad_header": _("the first line must be the header card_number,amount (found: %(found)s)",
                        found=p.get("found", "")),
        "bad_columns": _("expected 2 columns (card number, amount), found %(count)s", count=p.get("count", "")),
    }  # fmt: skip
    text = texts.get(error.code) or _("The request could not be completed.")
    if error.line_no is not None and csv:
        return _("Line %(line)s: %(problem)s.", line=error.line_no, problem=text)
    if error.code.startswith("amount_") and p.get("card"):
        return _("Card %(card)s: %(problem)s.", card=p["card"], problem=text)
    return _("%(problem)s.", problem=text[:1].upper() + text[1:])


def service_error_message(code: str, params: dict | None = None) -> str:
    """FundsError / LoadError codes."""
    p = params or {}
    texts = {
        "draft_expired": _("This preview is more than an hour old; balances may have changed. Start again."),
        "insufficient": _("Balances changed since the preview: not enough funds (available %(available)s).",
                          available=_money(p.get("available"))),
        "account_unusable": _("An account of this operation is frozen or closed."),
        "conflict": _("This form was already used for something else; reload the page."),
        "reference_required": _("Enter the bank transfer reference."),
        "duplicate_reference": _("This bank reference was already recorded for this customer."),
        "reserve_insufficient": _("The card's reserve holds only %(available)s available.",
                                  available=_money(p.get("available"))),
        "not_sub_card": _("Only sub-cards carry a chip purse to load."),
        "card_not_active": _("The card is lost or closed; it cannot be loaded."),
        "bad_amount": _("The amount must be more than zero."),
        "not_pending": _("This load is no longer waiting to be written."),
        "expired": _("This load request has expired; request it again."),
        "reader": _("The card reader could not write the chip."),
        "blocked": _("The chip is blocked."),
        "no_card": _("No card in the reader."),
    }  # fmt: skip
    return texts.get(code) or _("The request could not be completed.")

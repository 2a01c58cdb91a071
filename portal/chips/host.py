"""What the host knows about a card's money and settings, read in bulk for pages listing many cards.

Balances come straight from the ledger's account rows (one query for any number of cards); the
card's controls and blocked state come from the cards area.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.cards.models import Card
from portal.chips.models import LoadRequest
from portal.ledger.models import Account


@dataclass(frozen=True)
class CardMoney:
    """A sub-card's money as the host sees it, in fen."""

    #: Reserve balance (备用金), posted.
    reserve: int = 0
    #: Reserve not held by pending debits (what can still be loaded or collected).
    reserve_available: int = 0
    #: Host-known chip purse balance (posted loads minus uploaded purchases).
    purse: int = 0
    #: Loads requested and not yet written to the chip ("funds waiting to be loaded").
    pending_load: int = 0


def card_money(session: Session, card_ids: Iterable[int]) -> dict[int, CardMoney]:
    """{card id: CardMoney} for every given card (zeros for cards without ledger accounts yet)."""
    ids = list(card_ids)
    if not ids:
        return {}
    values: dict[int, dict[str, int]] = {card_id: {} for card_id in ids}
    rows = session.execute(
        select(
            Account.card_id, Account.kind, Account.credits_posted, Account.debits_posted, Account.debits_pending
        ).where(Account.card_id.in_(ids), Account.kind.in_(("reserve", "purse")))
    )
    for card_id, kind, credits, debits, debits_pending in rows:
        values[card_id][kind] = credits - debits
        if kind == "reserve":
            values[card_id]["reserve_available"] = credits - debits - debits_pending
    pending = session.execute(
        select(LoadRequest.card_id, func.sum(LoadRequest.amount))
        .where(LoadRequest.card_id.in_(ids), LoadRequest.status == "pending")
        .group_by(LoadRequest.card_id)
    )
    for card_id, total in pending:
        values[card_id]["pending_load"] = int(total)
    return {card_id: CardMoney(**v) for card_id, v in values.items()}


def purse_balance(session: Session, card_id: int) -> int:
    return card_money(session, [card_id])[card_id].purse


def unit_balances(session: Session, customer_id: int) -> tuple[int, int]:
    """(balance, available) of the customer's unit account; (0, 0) if it is not open yet."""
    row = session.execute(
        select(Account.credits_posted, Account.debits_posted, Account.debits_pending).where(
            Account.customer_id == customer_id, Account.kind == "unit", Account.card_id.is_(None)
        )
    ).first()
    if row is None:
        return 0, 0
    credits, debits, pending = row
    return credits - debits, credits - debits - pending


@dataclass(frozen=True)
class HostSettings:
    """What the chip should hold besides money: the controls (and their version) and the blacklist flag."""

    controls: dict
    controls_version: int
    blocked: bool


def host_settings(session: Session, card: Card) -> HostSettings:
    """The card's current controls as the chip stores them, and whether terminals must refuse it."""
    controls, version = _controls(session, card)
    return HostSettings(controls=controls, controls_version=version, blocked=card.status != "active")


def _controls(session: Session, card: Card) -> tuple[dict, int]:
    try:
        from portal.cards.controls import controls_for_chip  # provided by the cards area
    except ImportError:
        controls_for_chip = None
    if controls_for_chip is not None:
        return controls_for_chip(session, card.id)
    try:
        from portal.cards.models import CardControls
    except ImportError:  # the cards area has no controls yet: nothing to write
        return {}, 0
    row = session.get(CardControls, card.id)
    if row is None:
        return {}, 0
    fields = (
        "per_purchase_limit_fen", "daily_amount_limit_fen", "daily_count_limit", "daily_litres_limit_ml",
        "allowed_products", "allowed_region_ids", "allowed_station_ids", "plate_lock", "hours_start_min",
        "hours_end_min",
    )  # fmt: skip
    return {name: getattr(row, name) for name in fields if getattr(row, name, None) not in (None, "", [])}, row.version

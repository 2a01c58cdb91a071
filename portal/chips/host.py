"""What the host knows about a card that the chip should match: its money as the chip side sees it
(the loads still waiting for the chip besides the ledger's balances) and its settings.

Balances come from the ledger's read API (`portal.ledger.balances`, one query for any number of
cards), the loads waiting from this area's load requests; the card's controls and blocked state
come from the cards area.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from portal import ledger
from portal.cards.models import Card, CardControls
from portal.chips.loads import pending_load_totals


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


def card_money(session: Session, card_ids: Iterable[int], *, now: datetime | None = None) -> dict[int, CardMoney]:
    """{card id: CardMoney} for every given card (zeros for cards without ledger accounts yet). With
    `now` (pages), loads whose hold has lapsed are not counted as waiting."""
    ids = list(card_ids)
    if not ids:
        return {}
    balances = ledger.many_card_balances(session, ids)
    waiting = pending_load_totals(session, ids, now=now)
    return {
        card_id: CardMoney(
            reserve=balances[card_id].reserve.posted,
            reserve_available=balances[card_id].reserve.available,
            purse=balances[card_id].purse.posted,
            pending_load=waiting.get(card_id, 0),
        )
        for card_id in ids
    }


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


#: The card controls written to the chip (the pump enforces them offline), by CardControls column.
CHIP_CONTROL_FIELDS = (
    "per_purchase_limit_fen", "daily_amount_limit_fen", "daily_count_limit", "daily_litres_limit_ml",
    "allowed_products", "allowed_region_ids", "allowed_station_ids", "plate_lock", "hours_start_min",
    "hours_end_min",
)  # fmt: skip


def _controls(session: Session, card: Card) -> tuple[dict, int]:
    """The card's set controls as the chip stores them, and their version ({} and 0: none)."""
    row = session.get(CardControls, card.id)
    if row is None:
        return {}, 0
    values = {name: getattr(row, name) for name in CHIP_CONTROL_FIELDS}
    return {name: value for name, value in values.items() if value not in (None, "", [])}, row.version

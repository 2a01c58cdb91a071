"""The card reader interface: what the portal needs from any device that talks to a card's chip.

Two implementations: `portal.chips.virtual.VirtualReader` (chips kept in the database, for
development, demos and tests) and a hardware PC/SC reader (see docs/card-reader.md for what it must
provide). Services only use this interface, so they never know which one they talk to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol


class ReaderError(Exception):
    """The reader could not complete an operation (no card, write refused, card removed...)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ChipEntry:
    """One transaction in the chip's log, identified by the chip's transaction counter."""

    counter: int
    kind: str  # "purchase" | "load" | "refund"
    amount: int
    balance_after: int
    at: datetime
    station_code: str = ""
    product_code: str = ""
    litres_ml: int = 0
    #: For loads: the host's load request id written with the credit (how retries are recognised).
    load_id: str | None = None
    #: For purchases and refunds made online: the host's reference. The host booked them when the
    #: pump asked, so sync uploads only the purchases without one (the offline ones).
    host_ref: str | None = None

    @property
    def offline_purchase(self) -> bool:
        """A purchase the host has not heard of until the chip is synced."""
        return self.kind == "purchase" and self.host_ref is None


@dataclass(frozen=True)
class ChipData:
    """Everything the chip holds, as read."""

    card_number: str
    purse_balance: int
    counter: int
    controls: dict
    controls_version: int
    blocked: bool
    expires_on: date
    entries: tuple[ChipEntry, ...] = field(default_factory=tuple)


class CardReader(Protocol):
    #: True for the simulated reader: the UI says so on every chip page.
    virtual: bool
    #: Short name shown to people and stored in the sync log.
    name: str

    def read(self, card_number: str) -> ChipData:
        """Read the whole chip (purse, counter, controls, flags, transaction log)."""

    def write_settings(self, card_number: str, *, controls: dict, controls_version: int, blocked: bool) -> ChipData:
        """Write the card controls and the blacklist flag; returns the chip as read back."""

    def credit_purse(self, card_number: str, *, amount: int, load_id: str, at: datetime) -> ChipEntry:
        """Credit the purse by `amount` fen for load `load_id`. Idempotent: if the chip already holds
        a credit for `load_id`, that entry is returned and nothing is credited again."""

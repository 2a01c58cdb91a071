"""The virtual card reader: chips live in the database (`virtual_chips`, `virtual_chip_entries`).

A chip is personalised the first time something is written to it: purse = the host-known purse
balance, counter 0, the card's expiry. Reading a card whose chip was never written shows that fresh
chip without storing it (a read never writes). It can also simulate an offline purchase at a pump, so the whole
upload path can be exercised without hardware.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import ledger
from portal.cards.models import Card
from portal.chips.models import VirtualChip, VirtualChipEntry
from portal.chips.reader import ChipData, ChipEntry, ReaderError


class VirtualReader:
    virtual = True
    name = "virtual"

    def __init__(self, session: Session, *, now: datetime):
        self.session = session
        self.now = now

    # -- the CardReader interface ------------------------------------------------------------
    def read(self, card_number: str) -> ChipData:
        card = self._card(card_number)
        chip = self.session.scalar(select(VirtualChip).where(VirtualChip.card_id == card.id))
        if chip is None:
            chip = self._fresh_chip(card)
            return ChipData(
                card_number=card_number, purse_balance=chip.purse_balance, counter=0, controls={},
                controls_version=0, blocked=False, expires_on=chip.expires_on, entries=(),
            )  # fmt: skip
        entries = self.session.scalars(
            select(VirtualChipEntry).where(VirtualChipEntry.chip_id == chip.id).order_by(VirtualChipEntry.counter)
        )
        return ChipData(
            card_number=card_number,
            purse_balance=chip.purse_balance,
            counter=chip.counter,
            controls=dict(chip.controls or {}),
            controls_version=chip.controls_version,
            blocked=chip.blocked,
            expires_on=chip.expires_on,
            entries=tuple(_entry(e) for e in entries),
        )

    def write_settings(self, card_number: str, *, controls: dict, controls_version: int, blocked: bool) -> ChipData:
        chip = self._chip(card_number)
        chip.controls = dict(controls)
        chip.controls_version = controls_version
        chip.blocked = blocked
        chip.written_at = self.now
        self.session.flush()
        return self.read(card_number)

    def credit_purse(self, card_number: str, *, amount: int, load_id: str, at: datetime) -> ChipEntry:
        chip = self._chip(card_number)
        done = self.session.scalar(
            select(VirtualChipEntry).where(VirtualChipEntry.chip_id == chip.id, VirtualChipEntry.load_id == load_id)
        )
        if done is not None:
            return _entry(done)
        if chip.blocked:
            raise ReaderError("blocked", "The chip is blocked; it refuses credits.")
        return self._append(chip, "load", amount, at=at, load_id=load_id)

    # -- simulation only (what a pump does to a chip) ----------------------------------------
    def simulate_purchase(
        self,
        card_number: str,
        *,
        amount: int,
        at: datetime,
        station_code: str = "",
        product_code: str = "",
        litres_ml: int = 0,
    ) -> ChipEntry:
        """An offline purchase at a pump: debits the chip purse and logs it with the next counter."""
        chip = self._chip(card_number)
        if chip.blocked:
            raise ReaderError("blocked", "The chip is blocked; the pump refuses it.")
        if amount <= 0 or amount > chip.purse_balance:
            raise ReaderError("insufficient", "The chip purse does not hold that much.")
        return self._append(
            chip, "purchase", amount, at=at, station_code=station_code, product_code=product_code, litres_ml=litres_ml
        )

    # -- internals ---------------------------------------------------------------------------
    def _append(self, chip: VirtualChip, kind: str, amount: int, *, at: datetime, **fields) -> ChipEntry:
        chip.counter += 1
        chip.purse_balance += amount if kind == "load" else -amount
        entry = VirtualChipEntry(
            chip_id=chip.id,
            counter=chip.counter,
            kind=kind,
            amount=amount,
            balance_after=chip.purse_balance,
            at=at,
            **fields,
        )
        self.session.add(entry)
        chip.written_at = self.now
        self.session.flush()
        return _entry(entry)

    def _card(self, card_number: str) -> Card:
        card = self.session.scalar(select(Card).where(Card.number == card_number))
        if card is None:
            raise ReaderError("no_card", "No card in the reader.")
        return card

    def _fresh_chip(self, card: Card) -> VirtualChip:
        """The chip as personalising it now would make it (not added to the session)."""
        return VirtualChip(
            card_id=card.id,
            purse_balance=_host_purse_balance(self.session, card.id),
            counter=0,
            controls={},
            controls_version=0,
            blocked=False,
            expires_on=card.expires_on,
            personalised_at=self.now,
            written_at=self.now,
        )

    def _chip(self, card_number: str) -> VirtualChip:
        """The chip to write to, locked; personalised on the first write."""
        card = self._card(card_number)
        chip = self.session.scalar(select(VirtualChip).where(VirtualChip.card_id == card.id).with_for_update())
        if chip is None:
            chip = self._fresh_chip(card)
            self.session.add(chip)
            self.session.flush()
        return chip


def _host_purse_balance(session: Session, card_id: int) -> int:
    """What the host believes is on the purse: a new virtual chip starts in agreement with it."""
    return ledger.card_balances(session, card_id).purse.posted


def _entry(row: VirtualChipEntry) -> ChipEntry:
    return ChipEntry(
        counter=row.counter,
        kind=row.kind,
        amount=row.amount,
        balance_after=row.balance_after,
        at=row.at,
        station_code=row.station_code,
        product_code=row.product_code,
        litres_ml=row.litres_ml,
        load_id=row.load_id,
    )

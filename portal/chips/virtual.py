"""The virtual card reader: chips live in the database (`virtual_chips`, `virtual_chip_entries`).

A chip is personalised the first time something is written to it: purse = the host-known purse
balance, counter 0, the card's expiry. Reading a card whose chip was never written shows that fresh
chip without storing it (a read never writes). It can also simulate an offline purchase at a pump, so the whole
upload path can be exercised without hardware.

It also plays the pump's part in online purchases and refunds (`follow_online`): in the card model the
pump debits the chip when the host approves a purchase, and credits it back for a refund, so the chip
keeps agreeing with the host's purse. Those entries carry the host's reference and are never uploaded
by sync (the host booked them already). The ledger stays the only source of truth: nothing here writes
to it; the chip is the device's copy.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import ledger
from portal.cards.models import Card
from portal.chips.models import VirtualChip, VirtualChipEntry
from portal.chips.reader import ChipData, ChipEntry, ReaderError
from portal.purchases.authorization import Answer
from portal.purchases.pump import lock_purse
from portal.reference.models import Station

#: Chip entries that add to the purse; the others ("purchase") take from it.
CREDITS = ("load", "refund")


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

    def follow_online(
        self, card_number: str, *, kind: str, amount: int, host_ref: str, at: datetime, station_code: str = "",
        product_code: str = "", litres_ml: int = 0,
    ) -> ChipEntry | None:  # fmt: skip
        """The pump's write for an online purchase ("purchase": debit) or refund ("refund": credit)
        the host has booked, logged with the host's reference `host_ref`. Once per reference,
        whatever the retries. A chip never written yet is left alone: personalised later from the
        host's balance, it shows the purchase already. A purchase the chip cannot pay (blocked, or
        its purse short because offline purchases are not uploaded yet) raises ReaderError, as the
        pump refuses that card; a refund is always given back to the chip."""
        card = self._card(card_number)
        lock_purse(self.session, card.id)  # held already when the host has just booked it: the same order
        chip = self.session.scalar(select(VirtualChip).where(VirtualChip.card_id == card.id).with_for_update())
        if chip is None:
            return None
        done = self.session.scalar(
            select(VirtualChipEntry).where(VirtualChipEntry.chip_id == chip.id, VirtualChipEntry.host_ref == host_ref)
        )
        if done is not None:
            return _entry(done)
        if kind == "purchase":
            if chip.blocked:
                raise ReaderError("blocked", "The chip is blocked; the pump refuses it.")
            if amount > chip.purse_balance:
                raise ReaderError("insufficient", "The chip purse does not hold that much.")
        elif kind != "refund":
            raise ValueError(f"not an online chip write: {kind!r}")
        return self._append(
            chip, kind, amount, at=at, host_ref=host_ref, station_code=station_code, product_code=product_code,
            litres_ml=litres_ml,
        )  # fmt: skip

    # -- internals ---------------------------------------------------------------------------
    def _append(self, chip: VirtualChip, kind: str, amount: int, *, at: datetime, **fields) -> ChipEntry:
        chip.counter += 1
        chip.purse_balance += amount if kind in CREDITS else -amount
        entry = VirtualChipEntry(
            customer_id=chip.customer_id,
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
            customer_id=card.customer_id,
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
        """The chip to write to, locked; personalised on the first write. The card's purse is locked
        first: an online purchase holds it when its chip follows (`follow_online`), so every chip
        write takes the two in one order and a sync cannot deadlock with a purchase on the card."""
        card = self._card(card_number)
        lock_purse(self.session, card.id)
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
        host_ref=row.host_ref,
    )


def follow_online(session: Session, answer: Answer, *, now: datetime) -> ChipEntry | None:
    """The virtual pump's side of a terminal's answer: an approved online purchase debits the card's
    chip, a refund credits it (`VirtualReader.follow_online`). Declines and replays write nothing.
    Raises ReaderError when the pump would refuse the chip: the caller rolls the answer back."""
    purchase = answer.purchase
    if answer.replayed or not answer.approved:
        return None
    # One statement for the usual case, a chip never written (nothing to follow).
    if session.scalar(select(VirtualChip.id).where(VirtualChip.card_id == purchase.card_id)) is None:
        return None
    card = session.get(Card, purchase.card_id)
    return VirtualReader(session, now=now).follow_online(
        card.number, kind=purchase.kind, amount=purchase.amount_fen, host_ref=purchase.transfer_id, at=purchase.at,
        station_code=_station_code(session, purchase.station_id), product_code=purchase.product_code,
        litres_ml=purchase.litres_ml,
    )  # fmt: skip


def _station_code(session: Session, station_id: int | None) -> str:
    station = session.get(Station, station_id) if station_id is not None else None
    return station.code if station is not None else ""

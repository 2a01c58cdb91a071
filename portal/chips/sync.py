"""Read chip (卡内信息查询) and sync card (同步卡数据).

Sync, in this order: upload the chip's offline purchases (each posted once, keyed by the chip's
transaction counter; the online purchases and refunds the pump wrote to the chip were booked when it
asked the host, and are not uploaded again) and recognise loads the chip holds but the host has not posted; write the
current controls and blocked state; then write the loads waiting for this card. Two syncs of one
card run one after the other (each claims the card first, portal.idempotency): the second finds
the first's uploads and posts nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import idempotency, ledger
from portal.audit.services import record
from portal.cards.models import Card
from portal.chips.host import card_money, host_settings
from portal.chips.loads import (
    CARD_CHIP_WORK,
    LoadError,
    expire_loads,
    pending_loads_for_card,
    post_load,
    write_claimed_load,
)
from portal.chips.models import ChipSync, LoadRequest, PurchaseUpload
from portal.chips.reader import CardReader, ChipData, ChipEntry
from portal.purchases.authorization import AuthorizationError
from portal.purchases.offline import claim_offline_purchase, record_offline_purchase


@dataclass
class SyncResult:
    purchases_uploaded: int = 0
    purchases_total: int = 0
    loads_reconciled: int = 0
    loads_applied: int = 0
    loads_total: int = 0
    #: (code, detail) of things that could not be done; the page lists them.
    problems: list[tuple[str, str]] = field(default_factory=list)
    chip: ChipData | None = None


def sync_card(session: Session, reader: CardReader, card: Card, *, now: datetime, actor_id: int | None) -> SyncResult:
    idempotency.claim(session, CARD_CHIP_WORK, card.id)
    result = SyncResult()
    expire_loads(session, now=now, card_id=card.id)
    chip = reader.read(card.number)
    for entry in chip.entries:
        if entry.offline_purchase:  # online purchases and refunds were booked when the pump asked
            _upload_purchase(session, card, entry, now=now, result=result)
        elif entry.kind == "load" and entry.load_id:
            load = session.get(LoadRequest, entry.load_id)
            if load is not None and load.card_id == card.id and load.status == "pending":
                if post_load(session, load, now=now, chip_counter=entry.counter, actor_id=actor_id):
                    result.loads_reconciled += 1
    settings = host_settings(session, card)
    reader.write_settings(
        card.number, controls=settings.controls, controls_version=settings.controls_version, blocked=settings.blocked
    )
    if not settings.blocked:
        for load in pending_loads_for_card(session, card.id):
            try:
                write_claimed_load(session, reader, load, now=now, actor_id=actor_id)
            except LoadError as exc:
                result.problems.append((exc.code, load.id))
                continue
            result.loads_applied += 1
            result.loads_total += load.amount
    result.chip = reader.read(card.number)
    session.add(
        ChipSync(
            customer_id=card.customer_id,
            card_id=card.id,
            at=now,
            actor_id=actor_id,
            reader=reader.name,
            purchases_uploaded=result.purchases_uploaded,
            loads_applied=result.loads_applied + result.loads_reconciled,
            controls_version=result.chip.controls_version,
            blocked=result.chip.blocked,
            chip_counter=result.chip.counter,
        )
    )
    record(
        session, "chips.sync", actor_id=actor_id, customer_id=card.customer_id, now=now,
        detail={"card": card.number, "purchases": result.purchases_uploaded,
                "loads": result.loads_applied + result.loads_reconciled, "problems": len(result.problems)},
    )  # fmt: skip
    session.flush()
    return result


def _upload_purchase(session: Session, card: Card, entry: ChipEntry, *, now: datetime, result: SyncResult) -> None:
    claim_offline_purchase(session, card.id, entry.counter)
    exists = session.scalar(
        select(PurchaseUpload.id).where(PurchaseUpload.card_id == card.id, PurchaseUpload.counter == entry.counter)
    )
    if exists is not None:
        return
    transfer_id = f"chip-purchase:{card.id}:{entry.counter}"
    try:
        # A savepoint: a refused purchase leaves no half-booked rows behind; the sync carries on.
        with session.begin_nested():
            _book_purchase(session, card, entry, transfer_id, now=now)
    except (ledger.InsufficientFunds, ledger.AccountFrozen, ledger.AccountClosed, AuthorizationError) as exc:
        result.problems.append(("purchase_refused", f"#{entry.counter}: {exc}"))
        return
    session.add(
        PurchaseUpload(
            customer_id=card.customer_id,
            card_id=card.id,
            counter=entry.counter,
            amount=entry.amount,
            station_code=entry.station_code,
            product_code=entry.product_code,
            litres_ml=entry.litres_ml,
            purchased_at=entry.at,
            uploaded_at=now,
            transfer_id=transfer_id,
        )
    )
    session.flush()
    result.purchases_uploaded += 1
    result.purchases_total += entry.amount


def _book_purchase(session: Session, card: Card, entry: ChipEntry, transfer_id: str, *, now: datetime) -> None:
    """Post the purchase once, through the purchase area (Purchase row, points, anomaly checks)."""
    record_offline_purchase(
        session, card, chip_counter=entry.counter, station_code=entry.station_code,
        product_code=entry.product_code, litres_ml=entry.litres_ml, amount_fen=entry.amount, at=entry.at,
        now=now, transfer_id=transfer_id,
    )  # fmt: skip


@dataclass(frozen=True)
class Comparison:
    """One line of the read-chip page: what the chip holds beside what the host thinks."""

    key: str
    kind: str  # "money" | "number" | "flag" | "date" | "controls"
    chip: object
    host: object

    @property
    def differs(self) -> bool:
        return self.chip != self.host


def last_synced(session: Session, card_id: int) -> ChipSync | None:
    return session.scalar(select(ChipSync).where(ChipSync.card_id == card_id).order_by(ChipSync.at.desc()).limit(1))


def last_synced_at(session: Session, card_ids: list[int]) -> dict[int, datetime]:
    """{card id: time of its last sync} for the given cards that were ever synced, in one query."""
    if not card_ids:
        return {}
    rows = session.execute(
        select(ChipSync.card_id, func.max(ChipSync.at)).where(ChipSync.card_id.in_(card_ids)).group_by(ChipSync.card_id)
    )
    return dict(rows.all())


def compare_chip(session: Session, card: Card, chip: ChipData, *, now: datetime | None = None) -> list[Comparison]:
    """Chip vs host, field by field (with `now`, lapsed load holds are not counted as waiting)."""
    money = card_money(session, [card.id], now=now)[card.id]
    settings = host_settings(session, card)
    uploaded = set(session.scalars(select(PurchaseUpload.counter).where(PurchaseUpload.card_id == card.id)))
    not_uploaded = [e for e in chip.entries if e.offline_purchase and e.counter not in uploaded]
    posted_counters = set(
        session.scalars(
            select(LoadRequest.chip_counter).where(LoadRequest.card_id == card.id, LoadRequest.status == "loaded")
        )
    )
    unposted_loads = [e for e in chip.entries if e.kind == "load" and e.counter not in posted_counters]
    return [
        Comparison("purse_balance", "money", chip.purse_balance, money.purse),
        Comparison("purchases_not_uploaded", "number", len(not_uploaded), 0),
        Comparison("loads_not_posted", "number", len(unposted_loads), 0),
        Comparison("pending_load", "money", 0, money.pending_load),
        Comparison("controls_version", "number", chip.controls_version, settings.controls_version),
        Comparison("controls", "controls", chip.controls, settings.controls),
        Comparison("blocked", "flag", chip.blocked, settings.blocked),
        Comparison("expires_on", "date", chip.expires_on, card.expires_on),
    ]

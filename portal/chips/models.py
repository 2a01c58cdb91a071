"""Host-side chip records (load requests, uploaded purchases, sync log) and the virtual reader's chips.

The `virtual_chip*` tables stand in for the IC chips themselves: only `portal.chips.virtual` reads or
writes them, exactly as a hardware reader would talk to a card. Everything else is what the host knows.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base

#: pending: reserve held by a pending ledger transfer; loaded: written to the chip and posted;
#: cancelled / expired: the pending transfer was voided, the reserve is free again.
LOAD_STATUSES = ("pending", "loaded", "cancelled", "expired")


class LoadRequest(Base):
    """A request to move funds from a card's reserve onto its chip purse (资金圈存)."""

    __tablename__ = "load_requests"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'loaded', 'cancelled', 'expired')", name="status"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("expires_at > requested_at", name="expiry_after_request"),
        CheckConstraint("(status = 'pending') = (resolved_at IS NULL)", name="resolved_at_set"),
        Index("ix_load_requests_card_status", "card_id", "status"),
        Index("ix_load_requests_status_expires", "status", "expires_at"),
    )

    #: A random UUID (hex) made when the form was rendered: the idempotency key of the request.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    amount: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: After this the pending transfer is voided and the reserve released.
    expires_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The chip's transaction counter of the credit, once written.
    chip_counter: Mapped[int | None]


class PurchaseUpload(Base):
    """An offline purchase read from a chip and posted to the ledger (purse -> station_sales).

    Unique per (card, chip counter): a purchase is posted once however often the chip is synced.
    """

    __tablename__ = "chip_purchase_uploads"
    __table_args__ = (
        UniqueConstraint("card_id", "counter"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("litres_ml >= 0", name="litres_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The card's customer (copied in on insert: every tenant row names its tenant, docs/scaling.md).
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    #: The chip's transaction counter of this purchase.
    counter: Mapped[int]
    amount: Mapped[int]
    station_code: Mapped[str] = mapped_column(String(16), default="")
    product_code: Mapped[str] = mapped_column(String(8), default="")
    litres_ml: Mapped[int] = mapped_column(default=0)
    #: When the purchase happened at the pump (from the chip).
    purchased_at: Mapped[datetime]
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    transfer_id: Mapped[str] = mapped_column(String(64))


class ChipSync(Base):
    """One sync of a card's chip: what was uploaded and written (the card's "last synced")."""

    __tablename__ = "chip_syncs"
    __table_args__ = (
        CheckConstraint("purchases_uploaded >= 0 AND loads_applied >= 0", name="counts_not_negative"),
        Index("ix_chip_syncs_card_at", "card_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The card's customer (copied in on insert: every tenant row names its tenant, docs/scaling.md).
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: "virtual" or the hardware reader's name.
    reader: Mapped[str] = mapped_column(String(32))
    purchases_uploaded: Mapped[int] = mapped_column(default=0)
    loads_applied: Mapped[int] = mapped_column(default=0)
    controls_version: Mapped[int] = mapped_column(default=0)
    blocked: Mapped[bool] = mapped_column(default=False)
    chip_counter: Mapped[int] = mapped_column(default=0)


class VirtualChip(Base):
    """The memory of one card's chip, for the virtual reader (development, demos, tests)."""

    __tablename__ = "virtual_chips"
    __table_args__ = (
        CheckConstraint("purse_balance >= 0", name="purse_not_negative"),
        CheckConstraint("counter >= 0", name="counter_not_negative"),
        CheckConstraint("controls_version >= 0", name="controls_version_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The card's customer (copied in on insert: every tenant row names its tenant, docs/scaling.md).
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), unique=True)
    #: Electronic purse balance on the chip, in fen: the only money that pays at the pump.
    purse_balance: Mapped[int] = mapped_column(default=0)
    #: Transaction counter: +1 for every purse credit or debit (the chip's own sequence number).
    counter: Mapped[int] = mapped_column(default=0)
    controls: Mapped[dict] = mapped_column(JSON, default=dict)
    controls_version: Mapped[int] = mapped_column(default=0)
    #: Blacklist flag: terminals refuse a blocked chip.
    blocked: Mapped[bool] = mapped_column(default=False)
    expires_on: Mapped[date]
    personalised_at: Mapped[datetime] = mapped_column(default=utcnow)
    written_at: Mapped[datetime] = mapped_column(default=utcnow)


class VirtualChipEntry(Base):
    """One transaction in a virtual chip's log: a purchase (offline, or online with `host_ref`), a
    refund of an online purchase, or a purse credit (load)."""

    __tablename__ = "virtual_chip_entries"
    __table_args__ = (
        UniqueConstraint("chip_id", "counter"),
        # A load is credited to a chip at most once, whatever the retries.
        UniqueConstraint("chip_id", "load_id", name="uq_virtual_chip_entries_chip_load"),
        # An online purchase or refund is written once, whatever the retries.
        UniqueConstraint("chip_id", "host_ref", name="uq_virtual_chip_entries_chip_host_ref"),
        CheckConstraint("kind IN ('purchase', 'load', 'refund')", name="kind"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("balance_after >= 0", name="balance_after_not_negative"),
        CheckConstraint("(kind = 'load') = (load_id IS NOT NULL)", name="load_id_for_loads"),
        CheckConstraint("kind <> 'refund' OR host_ref IS NOT NULL", name="host_ref_for_refunds"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The chip's card's customer (copied from the chip on insert).
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    chip_id: Mapped[int] = mapped_column(ForeignKey("virtual_chips.id"))
    counter: Mapped[int]
    kind: Mapped[str] = mapped_column(String(8))
    amount: Mapped[int]
    balance_after: Mapped[int]
    at: Mapped[datetime]
    station_code: Mapped[str] = mapped_column(String(16), default="")
    product_code: Mapped[str] = mapped_column(String(8), default="")
    litres_ml: Mapped[int] = mapped_column(default=0)
    load_id: Mapped[str | None] = mapped_column(String(32))
    #: For online purchases and refunds: the host's transfer id. The host booked them when the pump
    #: asked, so card sync never uploads them (only purchases without it are offline ones).
    host_ref: Mapped[str | None] = mapped_column(String(64))

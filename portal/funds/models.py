"""Allocation and collection batches (planned at preview, posted at confirmation) and deposits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import utcnow
from portal.db import Base

BATCH_KINDS = ("allocation", "collection")
#: draft: previewed, nothing moved yet; posted: the ledger batch is written.
BATCH_STATUSES = ("draft", "posted")


class FundsBatch(Base):
    """One allocation or collection over many sub-cards, posted as ONE ledger batch.

    The id is generated at preview and carried through confirmation: it is the idempotency key, so a
    double submit or a browser retry finds the posted batch instead of posting again.
    """

    __tablename__ = "funds_batches"
    __table_args__ = (
        CheckConstraint("kind IN ('allocation', 'collection')", name="kind"),
        CheckConstraint("status IN ('draft', 'posted')", name="status"),
        CheckConstraint("source IN ('form', 'csv')", name="source"),
        CheckConstraint("total > 0", name="total_positive"),
        CheckConstraint("line_count > 0", name="line_count_positive"),
        CheckConstraint("(status = 'posted') = (posted_at IS NOT NULL)", name="posted_at_set"),
        Index("ix_funds_batches_customer_created", "customer_id", "created_at"),
    )

    #: A random UUID (hex), the idempotency key; ledger transfer ids are derived from it.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(8), default="draft")
    #: Where the amounts came from: the page's amount fields or an uploaded CSV file.
    source: Mapped[str] = mapped_column(String(8), default="form")
    #: Sum of the lines, in fen.
    total: Mapped[int]
    line_count: Mapped[int]
    #: Unit account balance right after posting (for the receipt).
    unit_balance_after: Mapped[int | None]
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    posted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    posted_at: Mapped[datetime | None]

    lines: Mapped[list[FundsBatchLine]] = relationship(
        order_by="FundsBatchLine.line_no", cascade="all, delete-orphan", back_populates="batch"
    )


class FundsBatchLine(Base):
    """One card of a batch: how much moves between the unit account and this card's reserve."""

    __tablename__ = "funds_batch_lines"
    __table_args__ = (
        UniqueConstraint("batch_id", "card_id"),
        UniqueConstraint("batch_id", "line_no", name="uq_funds_batch_lines_batch_line_no"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("funds_batches.id", ondelete="CASCADE"))
    #: The batch's customer (copied in on insert: every tenant row names its tenant, docs/scaling.md).
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    #: Position in the batch (the CSV line number for uploads); part of the ledger transfer id.
    line_no: Mapped[int]
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    amount: Mapped[int]
    #: The card's reserve balance right after posting (for the receipt).
    reserve_after: Mapped[int | None]

    batch: Mapped[FundsBatch] = relationship(back_populates="lines")


class Deposit(Base):
    """Money a customer paid in (bank transfer), recorded by support staff: deposits_clearing -> unit."""

    __tablename__ = "deposits"
    __table_args__ = (
        # The same bank transfer must never be credited twice.
        UniqueConstraint("customer_id", "bank_reference"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_deposits_customer_recorded", "customer_id", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Idempotency key generated when the form was rendered (also the ledger transfer's id suffix).
    key: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    amount: Mapped[int]
    #: The bank's reference of the incoming transfer (流水号).
    bank_reference: Mapped[str] = mapped_column(String(64))
    memo: Mapped[str] = mapped_column(String(200), default="")
    #: The ledger transfer that credited the unit account.
    transfer_id: Mapped[str] = mapped_column(String(64))
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

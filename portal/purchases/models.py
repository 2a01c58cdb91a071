"""The purchase side's facts: each purchase (or refund, or decline) at a station, and the daily
totals kept beside them.

`PurchaseDay` holds daily purchase totals per customer: what statistics and page totals read
instead of the raw rows. A year of a big fleet is ~500,000 purchases; summing them per request costs
~0.5 s however they are indexed. These rows hold the same sums per (customer, business day, status,
kind, product, region) — a few dozen per customer and day — so a year's statistics read thousands of
rows, not hundreds of thousands. Card, driver, vehicle and station are not in the key: with them a
row would be about one purchase (a vehicle fuels about once a day), so those groups and filters
read the purchases.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base


class Purchase(Base):
    """A fuel purchase (or its refund) at a station, approved or declined.

    Rows are facts and are never updated: a refund is a new row (`kind="refund"`, `refund_of_id`)
    whose money moves by a ledger transfer. Customer, region, driver, vehicle and plate are copied in
    at the time of purchase so that queries on years of history need no joins and stay correct when
    a card is later reassigned.
    """

    __tablename__ = "purchases"
    __table_args__ = (
        CheckConstraint("kind IN ('purchase', 'refund')", name="kind"),
        CheckConstraint("status IN ('approved', 'declined')", name="status"),
        CheckConstraint("source IN ('online', 'offline')", name="source"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("litres_ml >= 0", name="litres_non_negative"),
        CheckConstraint("unit_price_fen > 0", name="price_positive"),
        CheckConstraint("points >= 0", name="points_non_negative"),
        CheckConstraint("status = 'declined' OR decline_code IS NULL", name="decline_code_only_when_declined"),
        CheckConstraint("status = 'approved' OR transfer_id IS NULL", name="no_money_when_declined"),
        # The same terminal sequence number, or the same chip counter, never makes two purchases.
        UniqueConstraint("terminal_id", "terminal_seq"),
        UniqueConstraint("card_id", "chip_counter"),
        # Keyset pagination: newest first per customer, per card; statistics by station.
        # On PostgreSQL the customer's also carries what totals and statistics sum (migration 0009),
        # so those aggregates are index-only scans instead of one heap visit per row.
        Index(
            "ix_purchases_customer_at",
            "customer_id",
            "at",
            "id",
            postgresql_include=["status", "kind", "amount_fen", "litres_ml", "points"],
        ),
        Index("ix_purchases_card_at", "card_id", "at", "id"),
        # The driver and plate filters (without them a year of one driver scans the customer's rows).
        Index("ix_purchases_driver_at", "driver_id", "at", "id"),
        Index("ix_purchases_plate_at", "plate", "at", "id"),
        Index("ix_purchases_station_at", "station_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), default="purchase")
    status: Mapped[str] = mapped_column(String(8))
    #: Stable reason code when declined, e.g. "card_lost", "insufficient_balance", "daily_amount".
    decline_code: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(8), default="online")
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    driver_id: Mapped[int | None] = mapped_column(ForeignKey("drivers.id"))
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"))
    plate: Mapped[str] = mapped_column(String(16), default="")
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    terminal_id: Mapped[int | None] = mapped_column(ForeignKey("terminals.id"))
    #: The terminal's own sequence number (online purchases): the idempotency key at the pump.
    terminal_seq: Mapped[int | None]
    #: The chip's transaction counter (offline purchases uploaded by card sync).
    chip_counter: Mapped[int | None]
    product_code: Mapped[str] = mapped_column(ForeignKey("products.code"))
    litres_ml: Mapped[int]
    unit_price_fen: Mapped[int]
    amount_fen: Mapped[int]
    #: Points earned (purchase) or taken back (refund); integer.
    points: Mapped[int] = mapped_column(default=0)
    odometer_km: Mapped[int | None]
    #: The chip purse balance right after an approved purchase or refund (replays answer with it).
    balance_after_fen: Mapped[int | None]
    #: The ledger transfer that moved the money (approved rows only).
    transfer_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    refund_of_id: Mapped[int | None] = mapped_column(ForeignKey("purchases.id"), unique=True)
    #: When the fuel was sold (terminal or chip time, UTC).
    at: Mapped[datetime]
    #: When the host learned of it (later than `at` for offline purchases).
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class PurchaseDay(Base):
    """Sums of one customer's purchases (or refunds, or declines) of one kind on one business day.

    Written in the same transaction as each purchase (`portal.purchases.rollup.record_purchase`), and rebuilt from
    the purchases by `flask statistics rebuild-rollup`. Purchases are never updated or deleted, so
    the sums only grow.
    """

    __tablename__ = "purchase_days"
    __table_args__ = (
        CheckConstraint("status IN ('approved', 'declined')", name="status"),
        CheckConstraint("kind IN ('purchase', 'refund')", name="kind"),
        CheckConstraint("count > 0", name="count_positive"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("litres_ml >= 0", name="litres_non_negative"),
        CheckConstraint("points >= 0", name="points_non_negative"),
    )

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    #: The Asia/Shanghai business day of the purchases' `at`.
    day: Mapped[date] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(8), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    product_code: Mapped[str] = mapped_column(ForeignKey("products.code"), primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), primary_key=True)
    #: Purchase rows summed (each positive: refunds are their own kind, subtracted when read).
    count: Mapped[int]
    amount_fen: Mapped[int]
    litres_ml: Mapped[int]
    points: Mapped[int]

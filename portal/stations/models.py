from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base


class Terminal(Base):
    """A station's payment terminal. It authenticates with an API key; only the key's hash is kept."""

    __tablename__ = "terminals"

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    #: First characters of the key, shown to admins to tell keys apart; not secret.
    key_prefix: Mapped[str] = mapped_column(String(12))
    #: SHA-256 hex of the full API key.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


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


#: Product kinds a points rule can name (as in reference.Product.kind).
PRODUCT_KINDS = ("gasoline", "diesel", "other")


class PointsRule(Base):
    """How many points a purchase earns: `points_per_step` for every full `step_fen` of the amount.

    The most specific active rule wins: product code + region, product code, kind + region, kind.
    Rounding: down to whole steps (a purchase of 99.99 yuan earns 99 points at 1 point per yuan);
    the rest never accumulates across purchases. Defaults (migration 0007): gasoline 1 point per
    yuan, diesel 1 point per 2 yuan, other products none.
    """

    __tablename__ = "points_rules"
    __table_args__ = (
        CheckConstraint("product_kind IN ('gasoline', 'diesel', 'other')", name="product_kind"),
        CheckConstraint("step_fen > 0", name="step_positive"),
        CheckConstraint("points_per_step >= 0", name="points_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_kind: Mapped[str] = mapped_column(String(16))
    #: Narrows the rule to one product (e.g. "98"); NULL: every product of the kind.
    product_code: Mapped[str | None] = mapped_column(ForeignKey("products.code"))
    #: Narrows the rule to one region; NULL: every region.
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    step_fen: Mapped[int]
    points_per_step: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)


class PointsRedemption(Base):
    """Points spent for a voucher of `value_fen` (at a station, or in the portal).

    The points move on the POINTS ledger (card points -> points_redeemed); the voucher is honoured
    by the station outside the money ledger, so the money ledger is unchanged.
    """

    __tablename__ = "points_redemptions"
    __table_args__ = (
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("value_fen > 0", name="value_positive"),
        CheckConstraint("channel IN ('station', 'portal')", name="channel"),
        UniqueConstraint("terminal_id", "terminal_seq"),
        Index("ix_points_redemptions_card_at", "card_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    points: Mapped[int]
    value_fen: Mapped[int]
    channel: Mapped[str] = mapped_column(String(8))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    terminal_id: Mapped[int | None] = mapped_column(ForeignKey("terminals.id"))
    terminal_seq: Mapped[int | None]
    #: The user who redeemed in the portal.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The POINTS ledger transfer (also the idempotency key of a portal redemption).
    transfer_id: Mapped[str] = mapped_column(String(64), unique=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


#: Why an anomaly alert fired (portal/alerts/detection.py explains each).
ALERT_KINDS = (
    "tank_overfill",
    "too_many_fills",
    "impossible_travel",
    "outside_hours",
    "outside_region",
    "repeated_declines",
)


class Alert(Base):
    """An anomaly found in a card's purchases, shown to the customer's admins until acknowledged.

    `detail` holds the figures that made it fire (litres vs tank, km and minutes between stations,
    ...), so the page can explain it in the reader's language.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('tank_overfill', 'too_many_fills', 'impossible_travel', 'outside_hours', "
            "'outside_region', 'repeated_declines')",
            name="kind",
        ),
        CheckConstraint("(acknowledged_at IS NULL) = (acknowledged_by IS NULL)", name="acknowledged_by_someone"),
        # Open alerts of a customer, newest first (the admin home).
        Index("ix_alerts_customer_open", "customer_id", "acknowledged_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    purchase_id: Mapped[int | None] = mapped_column(ForeignKey("purchases.id"))
    kind: Mapped[str] = mapped_column(String(24))
    #: One alert per cause: e.g. "too_many_fills:<card>:<day>" fires once a day, not on every fill.
    dedupe_key: Mapped[str] = mapped_column(String(96), unique=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base, add_foreign_key
from portal.ledger.models import Account

CARD_ROLES = ("main", "sub")
#: active: usable; lost: reported lost (blocked at once); closed: replaced or cancelled.
CARD_STATUSES = ("active", "lost", "closed")

#: Most stations a card may be limited to (限站点).
MAX_ALLOWED_STATIONS = 10


class Card(Base):
    """An IC fuel card. The main card carries the unit account; sub-cards carry reserve and purse."""

    __tablename__ = "cards"
    __table_args__ = (
        CheckConstraint("role IN ('main', 'sub')", name="role"),
        CheckConstraint("status IN ('active', 'lost', 'closed')", name="status"),
        Index("ix_cards_customer_role", "customer_id", "role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The 16-digit number printed on the card.
    number: Mapped[str] = mapped_column(String(19), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    role: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(8), default="active")
    nickname: Mapped[str] = mapped_column(String(64), default="")
    driver_id: Mapped[int | None] = mapped_column(ForeignKey("drivers.id"), index=True)
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"), index=True)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_on: Mapped[date]
    #: For a replacement card (补卡), the card it replaced.
    replaces_card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))


class ControlColumns:
    """The limits a sub-card can carry (限额/限制); shared by a card's controls and by templates.

    Empty lists and None mean "no restriction". Amounts in fen, volumes in millilitres, hours in
    minutes after midnight Asia/Shanghai: [start, end), wrapping past midnight when end <= start.
    """

    #: 单笔限额: most one purchase may cost.
    per_purchase_limit_fen: Mapped[int | None]
    #: 日限额: most all purchases of one business day may cost together.
    daily_amount_limit_fen: Mapped[int | None]
    #: 日限次: most purchases per business day.
    daily_count_limit: Mapped[int | None]
    #: 日限升数: most millilitres per business day.
    daily_litres_limit_ml: Mapped[int | None]
    #: 限油品: product codes (e.g. ["92", "95"]).
    allowed_products: Mapped[list] = mapped_column(JSON, default=list)
    #: 限地区: region ids.
    allowed_region_ids: Mapped[list] = mapped_column(JSON, default=list)
    #: 限站点: station ids, at most MAX_ALLOWED_STATIONS.
    allowed_station_ids: Mapped[list] = mapped_column(JSON, default=list)
    #: 限车牌: the only plate the card may fuel ("" = any).
    plate_lock: Mapped[str] = mapped_column(String(16), default="")
    #: 限时段: first allowed minute of the day, and the minute the window closes (1..1440).
    hours_start_min: Mapped[int | None]
    hours_end_min: Mapped[int | None]


def control_checks() -> tuple[CheckConstraint, ...]:
    """The database's copy of the rules in `portal.cards.controls.validate_controls`."""
    positive = ("per_purchase_limit_fen", "daily_amount_limit_fen", "daily_count_limit", "daily_litres_limit_ml")
    return (
        *(CheckConstraint(f"{name} IS NULL OR {name} > 0", name=f"{name}_positive") for name in positive),
        CheckConstraint(
            "(hours_start_min IS NULL AND hours_end_min IS NULL) OR "
            "(hours_start_min BETWEEN 0 AND 1439 AND hours_end_min BETWEEN 1 AND 1440 "
            "AND hours_start_min <> hours_end_min)",
            name="hours_window",
        ),
        CheckConstraint(f"json_array_length(allowed_station_ids) <= {MAX_ALLOWED_STATIONS}", name="station_count"),
    )


class CardControls(ControlColumns, Base):
    """The current controls of one sub-card. `version` grows with every change; the chip holds the
    version it was last written with, so sync knows when the chip is behind ("pending sync")."""

    __tablename__ = "card_controls"
    __table_args__ = (*control_checks(), CheckConstraint("version >= 1", name="version_positive"))

    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), primary_key=True)
    #: The card's customer (copied in on insert: every tenant row names its tenant, docs/scaling.md).
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    version: Mapped[int] = mapped_column(default=1)
    #: The template last applied (the controls may have been edited since).
    template_id: Mapped[int | None] = mapped_column(ForeignKey("control_templates.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ControlTemplate(ControlColumns, Base):
    """A named set of controls a fleet admin applies to many cards at once."""

    __tablename__ = "control_templates"
    __table_args__ = (*control_checks(), UniqueConstraint("customer_id", "name"))

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


LOSS_REASONS = ("lost", "stolen", "damaged", "other")
#: open: card blocked, waiting; cancelled: 解挂, card active again; replaced: 补卡 done, card closed.
LOSS_STATUSES = ("open", "cancelled", "replaced")


class LossReport(Base):
    """A card reported lost (卡片挂失). The card is blocked at once; the loss takes full effect at
    `effective_at` (offline terminals may still upload purchases made before it); a replacement is
    possible from `replaceable_from`. At most one open report per card."""

    __tablename__ = "loss_reports"
    __table_args__ = (
        CheckConstraint("reason IN ('lost', 'stolen', 'damaged', 'other')", name="reason"),
        CheckConstraint("status IN ('open', 'cancelled', 'replaced')", name="status"),
        CheckConstraint("effective_at >= reported_at AND replaceable_from >= reported_at", name="timers"),
        CheckConstraint("status <> 'cancelled' OR cancelled_at IS NOT NULL", name="cancelled_at_set"),
        CheckConstraint(
            "status <> 'replaced' OR (replaced_at IS NOT NULL AND replacement_card_id IS NOT NULL)",
            name="replacement_set",
        ),
        Index(
            "uq_loss_reports_open_card",
            "card_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_loss_reports_customer_reported", "customer_id", "reported_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(256), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: After this instant every purchase is refused, offline uploads included.
    effective_at: Mapped[datetime]
    #: From this instant the card may be replaced (补卡).
    replaceable_from: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    replaced_at: Mapped[datetime | None]
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    replacement_card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    #: The idempotency key of the replace form that did it: a resubmitted form gets the same answer.
    replacement_key: Mapped[str | None] = mapped_column(String(64), unique=True)


# The ledger's owner columns point here; the ledger itself knows no product table.
add_foreign_key(Account, "card_id", "cards.id")

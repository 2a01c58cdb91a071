"""The anomaly alerts' table: one row per cause found in a card's purchases (`portal.alerts.detection`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base

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

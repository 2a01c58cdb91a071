from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base

CARD_ROLES = ("main", "sub")
#: active: usable; lost: reported lost (blocked at once); closed: replaced or cancelled.
CARD_STATUSES = ("active", "lost", "closed")


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

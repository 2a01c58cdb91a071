from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base


class AuditEvent(Base):
    """One recorded action. `customer_id` makes staff actions visible to that customer's admins."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_customer_at", "customer_id", "at"),
        Index("ix_audit_events_user_at", "user_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Who acted (None for anonymous events such as a failed sign-in of an unknown name).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The user the action was about, if any.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    #: Dotted action name, e.g. "auth.sign_in", "auth.sign_in_failed", "cards.report_loss".
    action: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(45), default="")
    detail: Mapped[dict] = mapped_column(JSON, default=dict)

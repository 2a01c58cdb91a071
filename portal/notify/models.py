from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base


class OutboxMessage(Base):
    """A mail or SMS to send. Written with the action that causes it; `sent_at` is set on delivery.
    Once delivered, or given up (every attempt failed, refused for good, or its code expired), its body
    and parameters (codes, links) are cleared at once: channel, recipient, subject and times remain."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint("channel IN ('sms', 'email')", name="channel"),
        Index("ix_outbox_messages_recipient_created", "recipient", "created_at"),
        #: Serves the outbox job: unsent messages due for a (re)try.
        Index("ix_outbox_messages_next_attempt", "next_attempt_at"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(8))
    #: Phone number (sms) or mail address (email).
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    #: For SMS gateways, which send only templates approved in advance: the template's key (mapped to
    #: the provider's id by SMS_TEMPLATES) and its parameters as a JSON object. Cleared with the body.
    template: Mapped[str] = mapped_column(String(40), default="", server_default="")
    params: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: When the code or link it carries stops working: never delivered after it (None: no limit).
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    #: Why the last delivery attempt failed (empty when sent or not yet tried).
    error: Mapped[str] = mapped_column(String(500), default="")
    #: When the last delivery attempt was made.
    last_attempt_at: Mapped[datetime | None]
    #: Delivery attempts so far.
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    #: When the outbox job may try (again); None once sent or given up (`attempts` at the maximum).
    next_attempt_at: Mapped[datetime | None]

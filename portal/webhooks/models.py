"""Webhook endpoints, the events written for them (the outbox) and each event's delivery to each endpoint."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base

#: pending: waiting for its (next) attempt; delivered: a 2xx answer; failed: every attempt failed, or
#: the endpoint was disabled or deleted first; cancelled: the change it announced was undone before
#: it was due (a loss report cancelled before it took effect).
DELIVERY_STATUSES = ("pending", "delivered", "failed", "cancelled")


class WebhookEndpoint(Base):
    """A customer's receiver of events: an https URL, the event types it wants, and its signing secret."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        #: What every emit reads: the customer's enabled endpoints (usually none).
        Index("ix_webhook_endpoints_customer_enabled", "customer_id", "enabled"),
        CheckConstraint("disabled_reason IN ('', 'admin', 'failing')", name="disabled_reason"),
        CheckConstraint(
            "unit_balance_threshold_fen IS NULL OR unit_balance_threshold_fen > 0", name="threshold_positive"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    #: The event types it receives, separated by spaces (portal.webhooks.events.EVENT_TYPES).
    events: Mapped[str] = mapped_column(String(1000), default="")
    #: The signing secret ("whsec_..."), encrypted (portal.webhooks.secrets); shown once, never logged.
    secret_encrypted: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    #: Why it is disabled: "admin" (by hand) or "failing" (every attempt failed for a day); "" if enabled.
    disabled_reason: Mapped[str] = mapped_column(String(16), default="")
    disabled_at: Mapped[datetime | None]
    #: unit_balance.below_threshold fires when the unit account falls below this (fen); None: never.
    unit_balance_threshold_fen: Mapped[int | None]
    #: When its deliveries started failing with no success since (None: the last attempt succeeded).
    failing_since: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def event_types(self) -> list[str]:
        return self.events.split()


class WebhookEvent(Base):
    """One thing that happened, for one customer: its id ("evt_...") is the `webhook-id` of every
    delivery and retry of it, so receivers can de-duplicate. `payload` is the body exactly as sent."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_customer_subject", "customer_id", "subject"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    type: Mapped[str] = mapped_column(String(40))
    #: What it is about ("loss_report:12"), to find an announcement to withdraw.
    subject: Mapped[str] = mapped_column(String(80), default="")
    #: The JSON body: {"id", "type", "timestamp", "customer_id", "data"}.
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One event to one endpoint: its attempts so far and the last answer (the endpoint's delivery log)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivered', 'failed', 'cancelled')", name="status"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        #: The delivery job: pending deliveries due for an attempt.
        Index("ix_webhook_deliveries_next_attempt", "next_attempt_at"),
        #: The delivery log: an endpoint's deliveries, newest first.
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
        Index("ix_webhook_deliveries_event", "event_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.id"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    #: The endpoint's customer (every tenant table carries it: docs/scaling.md).
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    #: When the job may try (again); None once delivered, failed or cancelled.
    next_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    #: The last attempt's HTTP status (None: no answer), time to answer, and the start of the answer.
    http_status: Mapped[int | None]
    latency_ms: Mapped[int | None]
    response_excerpt: Mapped[str] = mapped_column(String(500), default="")
    #: Why the last attempt failed ("" when delivered or not yet tried).
    error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

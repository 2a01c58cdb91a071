"""The events a customer's endpoints may receive, and `emit`: the one way a service announces a change.

`emit(session, customer_id, type, data, now=...)` is called by the service that makes the change, in
its transaction: it writes the event and one pending delivery per enabled endpoint of the customer
subscribed to `type`, so a rolled-back change delivers nothing. A customer without such an endpoint
costs one indexed read and writes nothing; `data` may be a function, called only when someone
listens (the purchase path builds no payload for nobody). The jobs runner delivers (delivery.py).

Payloads: money in integer fen, times in ISO 8601 with the Asia/Shanghai offset, card numbers as
printed on the card (digits, no spaces).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, select, true
from sqlalchemy.orm import Session

from portal.clock import to_local
from portal.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

#: Every event type a customer's endpoints may subscribe to (their labels: portal.webhooks.messages).
EVENT_TYPES = (
    "purchase.approved",
    "purchase.declined",
    "purchase.refunded",
    "card.reported_lost",
    "card.loss_effective",
    "card.replaced",
    "load.waiting",
    "load.written",
    "load.expired",
    "unit_balance.below_threshold",
    "allocation.confirmed",
    "collection.confirmed",
    "alert.raised",
)
#: Sent by the "send test event" button only; no endpoint subscribes to it.
TEST_EVENT = "webhook.test"

Data = Mapping[str, Any] | Callable[[], Mapping[str, Any]]

_listening = (
    select(WebhookEndpoint.id, WebhookEndpoint.events, WebhookEndpoint.unit_balance_threshold_fen)
    .where(WebhookEndpoint.customer_id == bindparam("customer_id"), WebhookEndpoint.enabled == true())
    .order_by(WebhookEndpoint.id)
)


def iso(at: datetime | None) -> str | None:
    """An instant as ISO 8601 with the business time zone's offset: 2026-03-02T10:00:00+08:00."""
    return None if at is None else to_local(at).isoformat(timespec="seconds")


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def listening(customer_id):
    """SQL: whether the customer has an enabled endpoint, as a column ("webhooks_listening") of a
    statement that reads the customer anyway (the pump's facts): `emit(..., listening=False)` then
    costs a purchase of a customer without webhooks no statement at all."""
    found = exists().where(WebhookEndpoint.customer_id == customer_id, WebhookEndpoint.enabled == true())
    return found.label("webhooks_listening")


def listeners(session: Session, customer_id: int, event_type: str) -> list:
    """(id, events, threshold) of the customer's enabled endpoints subscribed to `event_type`."""
    rows = session.execute(_listening, {"customer_id": customer_id}).all()
    return [row for row in rows if event_type in row.events.split()]


def emit(
    session: Session,
    customer_id: int,
    event_type: str,
    data: Data,
    *,
    now: datetime,
    subject: str = "",
    due_at: datetime | None = None,
    only: Callable[[Any], bool] | None = None,
    listening: bool | None = None,
) -> WebhookEvent | None:
    """Write `event_type` for the customer's subscribed endpoints (those `only` keeps, if given), due
    at `due_at` (default now); None when no endpoint listens. `listening=False`: the caller read
    already (`listening`) that the customer has no enabled endpoint. Flushes, never commits."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    if listening is False:
        return None
    endpoints = [row for row in listeners(session, customer_id, event_type) if only is None or only(row)]
    if not endpoints:
        return None
    return write_event(session, customer_id, event_type, data, [row.id for row in endpoints],
                       now=now, subject=subject, due_at=due_at)  # fmt: skip


def write_event(
    session: Session,
    customer_id: int,
    event_type: str,
    data: Data,
    endpoint_ids: list[int],
    *,
    now: datetime,
    subject: str = "",
    due_at: datetime | None = None,
) -> WebhookEvent:
    """The event and a pending delivery to each endpoint."""
    body = dict(data() if callable(data) else data)
    event_id = new_event_id()
    payload = {"id": event_id, "type": event_type, "timestamp": iso(now), "customer_id": customer_id, "data": body}
    event = WebhookEvent(
        id=event_id, customer_id=customer_id, type=event_type, subject=subject[:80], created_at=now,
        payload=json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
    )  # fmt: skip
    session.add(event)
    session.flush()  # the event's row before its deliveries' (their foreign key)
    for endpoint_id in endpoint_ids:
        session.add(
            WebhookDelivery(
                event_id=event_id,
                endpoint_id=endpoint_id,
                customer_id=customer_id,
                status="pending",
                attempts=0,
                next_attempt_at=due_at or now,
                created_at=now,
            )  # fmt: skip
        )
    session.flush()
    return event


def withdraw(session: Session, customer_id: int, event_type: str, subject: str, *, now: datetime) -> int:
    """Cancel the deliveries of a `subject`'s `event_type` not yet due (a loss report cancelled before
    its loss took effect); returns how many."""
    events = select(WebhookEvent.id).where(
        WebhookEvent.customer_id == customer_id, WebhookEvent.subject == subject, WebhookEvent.type == event_type
    )
    cancelled = 0
    for delivery in session.scalars(
        select(WebhookDelivery).where(
            WebhookDelivery.event_id.in_(events),
            WebhookDelivery.status == "pending",
            WebhookDelivery.attempts == 0,
            WebhookDelivery.next_attempt_at > now,
        )
    ):
        delivery.status, delivery.next_attempt_at, delivery.error = "cancelled", None, "withdrawn"
        cancelled += 1
    session.flush()
    return cancelled

"""Managing a customer's webhook endpoints: register, edit, enable / disable, delete, rotate the
secret, send a test event, redeliver, and the delivery log. Plain Python on a Session (flush, never
commit); every change is audited, never with the secret. A secret is returned once, by `register`
and `rotate_secret`, and kept only encrypted (portal.webhooks.sealing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cryptography.fernet import Fernet
from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from portal.audit.services import record
from portal.webhooks import addresses, sealing
from portal.webhooks.events import EVENT_TYPES, TEST_EVENT, write_event
from portal.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

#: The deliveries "Redeliver" may send again.
REDELIVERABLE = ("delivered", "failed")
#: Endpoints one customer may have.
MAX_ENDPOINTS = 20


class EndpointError(Exception):
    """A change refused by the rules; `code` is stable (the page says it in the reader's language)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class EndpointInput:
    url: str
    events: list[str] = field(default_factory=list)
    description: str = ""
    #: For unit_balance.below_threshold: the unit account's balance (fen) to fall below.
    threshold_fen: int | None = None


@dataclass(frozen=True)
class Who:
    """Who acts, for the audit log."""

    actor_id: int | None
    ip: str = ""


def _checked(data: EndpointInput, *, allow_insecure: bool, resolve) -> tuple[str, str]:
    """The URL and the space-separated events, if acceptable (raises EndpointError / UrlRefused)."""
    url = addresses.check_url(data.url, allow_insecure=allow_insecure, resolve=resolve)
    events = [name for name in EVENT_TYPES if name in set(data.events)]
    if not events or len(events) != len(set(data.events)):
        raise EndpointError("events", "choose at least one event, from the list")
    if "unit_balance.below_threshold" in events and not data.threshold_fen:
        raise EndpointError("threshold", "unit_balance.below_threshold needs a threshold")
    return url, " ".join(events)


def register(
    session: Session, customer_id: int, data: EndpointInput, *, who: Who, box: Fernet, now: datetime,
    allow_insecure: bool = False, resolve=addresses.socket.getaddrinfo,
) -> tuple[WebhookEndpoint, str]:  # fmt: skip
    """A new enabled endpoint and its secret (shown once)."""
    url, events = _checked(data, allow_insecure=allow_insecure, resolve=resolve)
    count = session.scalar(select(func.count()).where(WebhookEndpoint.customer_id == customer_id))
    if count >= MAX_ENDPOINTS:
        raise EndpointError("too_many", f"a customer has at most {MAX_ENDPOINTS} endpoints")
    secret = sealing.new_secret()
    endpoint = WebhookEndpoint(
        customer_id=customer_id, url=url, events=events, description=data.description.strip()[:200],
        unit_balance_threshold_fen=data.threshold_fen, secret_encrypted=sealing.seal(box, secret), enabled=True,
        disabled_reason="", created_at=now, updated_at=now, created_by=who.actor_id,
    )  # fmt: skip
    session.add(endpoint)
    session.flush()
    _audit(session, "webhooks.create", endpoint, who, now, events=events)
    return endpoint, secret


def update(
    session: Session, endpoint: WebhookEndpoint, data: EndpointInput, *, who: Who, now: datetime,
    allow_insecure: bool = False, resolve=addresses.socket.getaddrinfo,
) -> WebhookEndpoint:  # fmt: skip
    url, events = _checked(data, allow_insecure=allow_insecure, resolve=resolve)
    endpoint.url, endpoint.events, endpoint.description = url, events, data.description.strip()[:200]
    endpoint.unit_balance_threshold_fen = data.threshold_fen
    endpoint.updated_at = now
    session.flush()
    _audit(session, "webhooks.update", endpoint, who, now, events=events)
    return endpoint


def set_enabled(session: Session, endpoint: WebhookEndpoint, enabled: bool, *, who: Who, now: datetime) -> None:
    """Enable (its failure streak forgotten) or disable by hand. A disabled endpoint is sent nothing."""
    if endpoint.enabled == enabled:
        return
    endpoint.enabled = enabled
    endpoint.disabled_reason, endpoint.disabled_at = ("", None) if enabled else ("admin", now)
    endpoint.failing_since = None
    endpoint.updated_at = now
    session.flush()
    _audit(session, "webhooks.enable" if enabled else "webhooks.disable", endpoint, who, now)


def delete_endpoint(session: Session, endpoint: WebhookEndpoint, *, who: Who, now: datetime) -> None:
    """Delete the endpoint, its delivery log, and the events no other endpoint was sent."""
    _audit(session, "webhooks.delete", endpoint, who, now)
    event_ids = select(WebhookDelivery.event_id).where(WebhookDelivery.endpoint_id == endpoint.id)
    elsewhere = exists().where(WebhookDelivery.event_id == WebhookEvent.id, WebhookDelivery.endpoint_id != endpoint.id)
    orphans = list(session.scalars(select(WebhookEvent.id).where(WebhookEvent.id.in_(event_ids), ~elsewhere)))
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    if orphans:
        session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(orphans)))
    session.delete(endpoint)
    session.flush()


def rotate_secret(session: Session, endpoint: WebhookEndpoint, *, who: Who, box: Fernet, now: datetime) -> str:
    """A new secret (shown once); deliveries from now on are signed with it."""
    secret = sealing.new_secret()
    endpoint.secret_encrypted = sealing.seal(box, secret)
    endpoint.updated_at = now
    session.flush()
    _audit(session, "webhooks.rotate_secret", endpoint, who, now)
    return secret


def send_test_event(session: Session, endpoint: WebhookEndpoint, *, who: Who, now: datetime) -> WebhookDelivery:
    """A `webhook.test` event to this endpoint alone, due now."""
    data = {"message": "This is a test event from the Fleet Card Portal.", "endpoint_id": endpoint.id}
    event = write_event(session, endpoint.customer_id, TEST_EVENT, data, [endpoint.id], now=now)
    _audit(session, "webhooks.test", endpoint, who, now, event=event.id)
    return session.scalar(select(WebhookDelivery).where(WebhookDelivery.event_id == event.id))


def redeliver(session: Session, delivery: WebhookDelivery, *, who: Who, now: datetime) -> WebhookDelivery:
    """Send the delivery's event again (same event id) as a new delivery, due now; the old one stays in
    the log. Only a delivery that is over (delivered or failed): a pending one is still on its way, a
    cancelled one announced a change that was undone (EndpointError "not_over")."""
    if delivery.status not in REDELIVERABLE:
        raise EndpointError("not_over", f"a {delivery.status} delivery cannot be sent again")
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    again = WebhookDelivery(event_id=delivery.event_id, endpoint_id=delivery.endpoint_id,
                            customer_id=delivery.customer_id, status="pending", attempts=0, next_attempt_at=now, created_at=now)  # fmt: skip
    session.add(again)
    session.flush()
    _audit(session, "webhooks.redeliver", endpoint, who, now, event=delivery.event_id, delivery=delivery.id)
    return again


def customer_endpoints(session: Session, customer_id: int) -> list[WebhookEndpoint]:
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.customer_id == customer_id).order_by(WebhookEndpoint.id)
    return list(session.scalars(stmt))


def delivery_of(session: Session, endpoint: WebhookEndpoint, delivery_id: int) -> WebhookDelivery | None:
    delivery = session.get(WebhookDelivery, delivery_id)
    return delivery if delivery is not None and delivery.endpoint_id == endpoint.id else None


@dataclass(frozen=True)
class LogRow:
    delivery: WebhookDelivery
    event_type: str


@dataclass(frozen=True)
class LogPage:
    rows: list[LogRow]
    #: The `before` of the next (older) page; None on the last page.
    next_before: int | None


def delivery_log(session: Session, endpoint_id: int, *, before: int | None = None, limit: int = 20) -> LogPage:
    """The endpoint's deliveries, newest first, `limit` at a time (keyset on the id)."""
    stmt = (
        select(WebhookDelivery, WebhookEvent.type)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        stmt = stmt.where(WebhookDelivery.id < before)
    found = [LogRow(delivery, event_type) for delivery, event_type in session.execute(stmt)]
    return LogPage(found[:limit], found[limit - 1].delivery.id if len(found) > limit else None)


def _audit(session: Session, action: str, endpoint: WebhookEndpoint, who: Who, now: datetime, **detail) -> None:
    record(session, action, actor_id=who.actor_id, customer_id=endpoint.customer_id, ip=who.ip, now=now,
           detail={"endpoint": endpoint.id, "url": endpoint.url, **detail})  # fmt: skip

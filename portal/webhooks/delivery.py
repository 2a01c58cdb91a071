"""Delivering events: POST the event's JSON, signed per Standard Webhooks (`webhook-id`: the event's
id, the same on every retry; `webhook-timestamp`; `webhook-signature`, made by the `standardwebhooks`
package), with a short timeout and no redirects followed. A 2xx answer delivers; anything else (an
error status, a timeout, a refused address) is retried after RETRY_DELAYS (about 28 hours in
all), then the delivery has failed. An endpoint that keeps failing for DISABLE_AFTER with no success
is disabled when one of its deliveries fails for good, and the customer's admins are told by mail
(the notify outbox) and on the page.

The jobs runner calls `deliver_due` every minute; each delivery is locked while it is sent
(SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL) and committed at once, so two workers never send
the same one together. `webhook-timestamp` is the wall clock at the attempt (the receiver checks it
against its own clock); the schedule follows the portal's clock (`now`, injected in tests).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import requests
from cryptography.fernet import Fernet
from requests.adapters import HTTPAdapter
from sqlalchemy import exists, select
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from portal.audit.services import record
from portal.auth.models import User
from portal.batches import DEFAULT_BATCH_SIZE, EndBatch, delete_in_batches
from portal.notify import services as outbox
from portal.webhooks import addresses, sealing
from portal.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

#: The wait after each failed attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; the 8th failure is final.
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
#: An endpoint failing this long without one success is disabled when a delivery to it fails for good.
DISABLE_AFTER = timedelta(hours=24)
#: How much of an answer is kept for the delivery log.
EXCERPT_CHARS = 300
USER_AGENT = "FleetCardPortal-Webhooks/1"


@dataclass(frozen=True)
class Settings:
    box: Fernet
    timeout: float = 10.0
    allow_insecure: bool = False
    resolve: addresses.Resolver = addresses.socket.getaddrinfo

    @classmethod
    def from_config(cls, config) -> Settings:
        return cls(
            box=sealing.cipher(config),
            timeout=float(config.get("WEBHOOKS_TIMEOUT") or 10),
            allow_insecure=bool(config.get("WEBHOOKS_ALLOW_INSECURE")),
        )


@dataclass(frozen=True)
class Reply:
    status: int
    text: str


#: post(url, body, headers, timeout, address) -> Reply; raises requests' errors when there is no answer.
#: `address`: the IP the URL's host was checked to have; the connection goes there and nowhere else.
Poster = Callable[..., Reply]


class PinnedAdapter(HTTPAdapter):
    """Connects to `address` (checked before the request) instead of resolving the host name again,
    so a DNS answer that changes between the check and the connection (rebinding) cannot send the
    request elsewhere. TLS still sends the host name (SNI) and verifies the certificate for it; the
    Host header stays the URL's."""

    def __init__(self, address: str):
        self.address = address
        super().__init__(max_retries=0)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        name = host_params["host"]
        host_params["host"] = self.address
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = name
            pool_kwargs["assert_hostname"] = name
        return host_params, pool_kwargs


def http_post(url: str, body: bytes, headers: dict, timeout: float, address: str | None = None) -> Reply:
    """One POST with `requests`, to `address` if given: no redirects, no proxies from the environment,
    the first few KB of the answer read at most."""
    with requests.Session() as http:
        http.trust_env = False
        if address is not None:
            http.mount("http://", PinnedAdapter(address))
            http.mount("https://", PinnedAdapter(address))
            url = requests.Request("POST", url).prepare().url  # an IDN host in its ASCII form, for the header too
            headers = {**headers, "host": urlsplit(url).netloc}
        with http.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False, stream=True) as answer:
            chunk = next(answer.iter_content(4096, decode_unicode=False), b"") or b""
            return Reply(answer.status_code, chunk.decode("utf-8", "replace"))


def storable(text: str, limit: int) -> str:
    """`text` as a database column takes it: no NUL (PostgreSQL refuses it in text), no lone
    surrogates, at most `limit` characters."""
    clean = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return clean[:limit]


def retry_delay(attempts: int) -> timedelta | None:
    """The wait after the `attempts`-th failed attempt; None: that was the last one."""
    return RETRY_DELAYS[attempts - 1] if attempts < MAX_ATTEMPTS else None


def signed_headers(secret: str, event_id: str, body: bytes, at: datetime) -> dict[str, str]:
    signature = Webhook(secret).sign(event_id, at, body)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def due(session: Session, *, now: datetime, limit: int = 200) -> list[int]:
    """Pending deliveries whose attempt is due, oldest first."""
    stmt = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


#: A run of the job stops starting attempts after this long (slow receivers), well within its lease;
#: what is left is the next run's.
RUN_BUDGET = timedelta(minutes=10)
#: Deliveries read from the queue at a time; a run takes batch after batch until the queue is empty.
BATCH_SIZE = 200
#: An endpoint that timed out or refused the connection in a run is not called again in that run:
#: its other due deliveries wait this long, without counting an attempt.
STALLED_WAIT = timedelta(minutes=1)


def deliver_due(
    session: Session, settings: Settings, *, now: datetime, post: Poster = http_post,
    budget: timedelta = RUN_BUDGET, timer: Callable[[], float] = time.monotonic, batch_size: int = BATCH_SIZE,
) -> dict[str, int]:  # fmt: skip
    """Attempt every due delivery, batch after batch, committing after each (a worker stopped
    half-way re-sends nothing sent), until the queue is empty or `budget` is spent."""
    counts = {"webhooks_due": 0, "webhooks_delivered": 0, "webhooks_failed": 0, "webhooks_postponed": 0}
    stop_at = timer() + budget.total_seconds()
    stalled: set[int] = set()
    while True:
        batch = due(session, now=now, limit=batch_size)
        moved = 0
        for delivery_id in batch:
            if timer() > stop_at:
                return counts
            outcome = attempt_and_commit(session, delivery_id, settings, now=now, post=post, stalled=stalled)
            if outcome is None:
                continue  # another worker holds it
            moved += 1
            counts["webhooks_postponed" if outcome == "postponed" else "webhooks_due"] += 1
            if outcome in ("delivered", "failed"):
                counts[f"webhooks_{outcome}"] += 1
        if len(batch) < batch_size or not moved:
            return counts


def attempt_and_commit(session: Session, delivery_id: int, settings: Settings, *, now: datetime,
                       post: Poster = http_post, stalled: set[int] | None = None) -> str | None:  # fmt: skip
    """`attempt`, committed. Whatever goes wrong while recording it (an answer the database refuses,
    a bug) is rolled back and the delivery rescheduled as a failed attempt, so one bad row never
    stops the queue."""
    try:
        outcome = attempt(session, delivery_id, settings, now=now, post=post, stalled=stalled)
        session.commit()
        return outcome
    except Exception as error:  # noqa: BLE001  (one delivery's problem, recorded on it)
        session.rollback()
        outcome = _record_broken(session, delivery_id, now, f"not recorded: {type(error).__name__}")
        session.commit()
        return outcome


def _record_broken(session: Session, delivery_id: int, now: datetime, error: str) -> str | None:
    delivery = session.get(WebhookDelivery, delivery_id, populate_existing=True)
    if delivery is None or delivery.status != "pending":
        return None
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.http_status, delivery.response_excerpt, delivery.error = None, "", error
    _failed_attempt(session, delivery, endpoint, now)
    session.flush()
    return delivery.status


def _claim(session: Session, delivery_id: int, now: datetime) -> WebhookDelivery | None:
    """The delivery, locked, if it is still pending and due (another worker may have sent it)."""
    stmt = (
        select(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
        )
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return session.scalar(stmt)


def attempt(
    session: Session,
    delivery_id: int,
    settings: Settings,
    *,
    now: datetime,
    post: Poster = http_post,
    wall: Callable[[], float] = time.time,
    stalled: set[int] | None = None,
) -> str | None:
    """One attempt of one due delivery; its new status, or None when it was not due (or locked).
    `stalled`: endpoints that did not answer earlier in this run; their deliveries are "postponed"
    (STALLED_WAIT, no attempt counted), and an endpoint that does not answer now joins them. Flushes."""
    delivery = _claim(session, delivery_id, now)
    if delivery is None:
        return None
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    if not endpoint.enabled:
        delivery.status, delivery.next_attempt_at, delivery.error = "failed", None, "endpoint disabled"
        session.flush()
        return delivery.status
    if stalled is not None and endpoint.id in stalled:
        delivery.next_attempt_at = now + STALLED_WAIT
        session.flush()
        return "postponed"
    event = session.get(WebhookEvent, delivery.event_id)
    delivery.attempts += 1
    delivery.last_attempt_at = now
    reply, error, latency = _send(endpoint, event, settings, post, wall)
    if stalled is not None and reply is None and latency is not None:
        stalled.add(endpoint.id)  # it timed out or refused the connection
    delivery.latency_ms = latency
    delivery.http_status = reply.status if reply else None
    delivery.response_excerpt = storable(reply.text if reply else "", EXCERPT_CHARS)
    if reply is not None and 200 <= reply.status < 300:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at, delivery.error = "delivered", now, None, ""
        endpoint.failing_since = None
    else:
        delivery.error = storable(error or f"HTTP {reply.status}", 500)
        _failed_attempt(session, delivery, endpoint, now)
    session.flush()
    return delivery.status


def _send(endpoint: WebhookEndpoint, event: WebhookEvent, settings: Settings, post: Poster, wall):
    """(reply or None, error text, latency in ms or None: not sent). The secret never reaches an error text."""
    body = event.payload.encode()
    try:
        parts = urlsplit(endpoint.url)
        address = addresses.check_host(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80),
                                       allow_insecure=settings.allow_insecure, resolve=settings.resolve)  # fmt: skip
        headers = signed_headers(sealing.unseal(settings.box, endpoint.secret_encrypted), event.id, body,
                                 datetime.fromtimestamp(wall(), UTC))  # fmt: skip
    except (addresses.UrlRefused, sealing.SecretKeyError) as refused:
        return None, f"not sent: {refused}", None
    started = time.monotonic()
    try:
        reply = post(endpoint.url, body, headers, settings.timeout, address=address)
    except requests.Timeout:
        return None, f"no answer within {settings.timeout:g} s", _ms(started)
    except requests.RequestException as error:
        return None, f"{type(error).__name__}: connection failed", _ms(started)
    return reply, "", _ms(started)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _failed_attempt(session: Session, delivery: WebhookDelivery, endpoint: WebhookEndpoint, now: datetime) -> None:
    """Schedule the next attempt, or fail the delivery for good (and maybe disable the endpoint)."""
    if endpoint.failing_since is None:
        endpoint.failing_since = now
    wait = retry_delay(delivery.attempts)
    if wait is not None:
        delivery.next_attempt_at = now + wait
        return
    delivery.status, delivery.next_attempt_at = "failed", None
    if endpoint.enabled and now - endpoint.failing_since >= DISABLE_AFTER:
        disable_failing(session, endpoint, now=now)


def disable_failing(session: Session, endpoint: WebhookEndpoint, *, now: datetime) -> None:
    """Disable an endpoint that keeps failing, and tell the customer's admins by mail."""
    endpoint.enabled, endpoint.disabled_reason, endpoint.disabled_at = False, "failing", now
    record(session, "webhooks.auto_disable", customer_id=endpoint.customer_id, now=now,
           detail={"endpoint": endpoint.id, "url": endpoint.url, "failing_since": endpoint.failing_since.isoformat()})  # fmt: skip
    subject = "车队卡门户：Webhook 端点已停用 / Fleet Card Portal: webhook endpoint disabled"
    body = (
        f"Webhook 端点 {endpoint.url} 自 {endpoint.failing_since:%Y-%m-%d %H:%M} (UTC) 起每次投递都失败，已自动停用。"
        "请检查接收方后在门户的 Webhook 页面重新启用。\n\n"
        f"Every delivery to the webhook endpoint {endpoint.url} has failed since "
        f"{endpoint.failing_since:%Y-%m-%d %H:%M} UTC, so it was disabled. Check the receiver, then enable it "
        "again on the portal's Webhooks page."
    )
    admins = session.scalars(
        select(User).where(User.customer_id == endpoint.customer_id, User.role == "admin", User.active.is_(True))
    )
    for admin in admins:
        if admin.email:
            outbox.queue(session, "email", admin.email, subject, body, now=now)


def prune(
    session: Session,
    *,
    now: datetime,
    keep: timedelta,
    batch_size: int = DEFAULT_BATCH_SIZE,
    end_batch: EndBatch = None,
) -> int:
    """Delete deliveries created longer than `keep` ago that are over (delivered, failed, cancelled),
    then the events left without any, a batch at a time (`end_batch` commits); returns how many
    deliveries went."""
    old = now - keep
    over = (WebhookDelivery.created_at < old) & (WebhookDelivery.status != "pending")
    gone = delete_in_batches(session, WebhookDelivery, over, batch_size=batch_size, end_batch=end_batch)
    orphans = (WebhookEvent.created_at < old) & ~exists().where(WebhookDelivery.event_id == WebhookEvent.id)
    delete_in_batches(session, WebhookEvent, orphans, batch_size=batch_size, end_batch=end_batch)
    return gone

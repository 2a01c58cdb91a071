"""Queueing and delivering messages. `queue` flushes with the caller's transaction; `deliver` runs after
the commit, so a rolled-back action never sends anything.

The web side tries each message once right after the commit; a message that was not sent then (the
mail server down, the process gone) is the outbox job's: `deliver_due` retries it with exponential
backoff (`retry_delay`) until `MAX_ATTEMPTS`, after which it stays unsent with its last error. A
message the provider refuses for good (`PermanentFailure`: an invalid number) is given up at once, and
one carrying a code or link is never sent after the code expires (`expires_at`): it is given up with
the error "expired". A message sent or given up loses its body and parameters at once (development reads codes from
the console backend: portal.notify.web.console_messages); the system admin sees a failed one
(`failures`, on the jobs page) with its recipient masked (`masked`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from portal.batches import DEFAULT_BATCH_SIZE, EndBatch, delete_in_batches, update_in_batches
from portal.notify.backends import Backend, Outgoing, PermanentFailure
from portal.notify.models import OutboxMessage

#: A new message is the web side's to send for this long; then the outbox job takes it over.
FIRST_TRY_GRACE = timedelta(minutes=1)
#: Attempts before a message is given up; the waits between them double from RETRY_BASE to RETRY_CAP.
MAX_ATTEMPTS = 8
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=6)


#: The error recorded on a message not sent before its code or link expired.
EXPIRED = "expired"


def queue(
    session: Session,
    channel: str,
    recipient: str,
    subject: str,
    body: str,
    *,
    now: datetime,
    template: str = "",
    params: Mapping[str, str] | None = None,
    expires_at: datetime | None = None,
) -> OutboxMessage:
    """Write a message to the outbox. `template` and `params`: what an SMS gateway sends instead of the
    body; `expires_at`: when the code or link in it stops working (it is never sent after that)."""
    message = OutboxMessage(
        channel=channel, recipient=recipient, subject=subject, body=body, created_at=now,
        template=template, params=json.dumps(dict(params or {}), ensure_ascii=False) if params else "",
        expires_at=expires_at, next_attempt_at=now + FIRST_TRY_GRACE,
    )  # fmt: skip
    session.add(message)
    session.flush()
    return message


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 1, 2, 4, ... minutes, at most RETRY_CAP."""
    return min(RETRY_BASE * 2 ** max(attempts - 1, 0), RETRY_CAP)


def deliver(session: Session, ids: Iterable[int], backends: Mapping[str, Backend], *, now: datetime) -> int:
    """Send the given unsent messages; record success or the error on each. Never raises for a send.

    The rows are locked (PostgreSQL; skipped when another worker holds them), so the web side's first
    try and the outbox job never send one message twice. Returns how many were sent."""
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.id.in_(list(ids)), OutboxMessage.sent_at.is_(None))
        .order_by(OutboxMessage.id)
        .with_for_update(skip_locked=True)
    )
    sent = 0
    for message in session.scalars(stmt):
        if message.expires_at is not None and now >= message.expires_at:
            _give_up(message, EXPIRED)
            continue
        message.attempts += 1
        message.last_attempt_at = now
        try:
            backends[message.channel].send(outgoing(message))
        except PermanentFailure as refused:
            _give_up(message, error_text(refused, message))
        except Exception as error:  # noqa: BLE001  (a failed send must not fail the user's action)
            if message.attempts < MAX_ATTEMPTS:
                message.error = error_text(error, message)[:500]
                message.next_attempt_at = now + retry_delay(message.attempts)
            else:
                _give_up(message, error_text(error, message))
        else:
            message.sent_at, message.error, message.next_attempt_at = now, "", None
            message.body, message.params = "", ""  # the code or link is the recipient's alone now
            sent += 1
    session.flush()
    return sent


def error_text(error: BaseException, message: OutboxMessage) -> str:
    """What is stored (and shown on the jobs page) of a failed send: the error's type and text, with the
    recipient masked as the page masks it (a mail server's refusal names the address) and never the body."""
    text = f"{type(error).__name__}: {error}"
    if message.body:
        text = text.replace(message.body, "[message]")
    if message.recipient.strip():
        text = re.sub(re.escape(message.recipient.strip()), masked(message.recipient), text, flags=re.IGNORECASE)
    return text


def outgoing(message: OutboxMessage) -> Outgoing:
    params = json.loads(message.params) if message.params else {}
    return Outgoing(message.recipient, message.subject, message.body, message.template, params)


def _give_up(message: OutboxMessage, error: str) -> None:
    """No more attempts: the code or link it carried is of no use to anyone now, so it goes too."""
    message.error = error[:500]
    message.next_attempt_at, message.body, message.params = None, "", ""


def due(session: Session, *, now: datetime, limit: int = 200) -> list[int]:
    """Unsent messages whose next attempt is due, oldest first."""
    stmt = (
        select(OutboxMessage.id)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def given_up(session: Session) -> int:
    """Messages given up: every attempt failed, the provider refused them, or they expired unsent (the
    system admin sees the count)."""
    stmt = select(func.count()).where(
        OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at.is_(None), OutboxMessage.error != ""
    )
    return session.scalar(stmt)


@dataclass(frozen=True)
class Failure:
    """A message that failed at least once and is not sent, as the system admin sees it: never the body."""

    id: int
    channel: str
    recipient: str  # masked: 138****1234, a***@example.com
    attempts: int
    error: str
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None  # None: given up


@dataclass(frozen=True)
class FailurePage:
    failures: list[Failure]
    next_before: int | None  # the `before` of the next (older) page; None on the last page


def failures(session: Session, *, before: int | None = None, limit: int = 50) -> FailurePage:
    """Unsent messages with an error (retrying or given up), newest first, `limit` at a time (keyset
    on the id: `before` is the last page's `next_before`)."""
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.error != "")
        .order_by(OutboxMessage.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        stmt = stmt.where(OutboxMessage.id < before)
    rows = list(session.scalars(stmt))
    page = [
        Failure(
            row.id,
            row.channel,
            masked(row.recipient),
            row.attempts,
            row.error,
            row.created_at,
            row.last_attempt_at,
            row.next_attempt_at,
        )  # fmt: skip
        for row in rows[:limit]
    ]
    return FailurePage(page, page[-1].id if len(rows) > limit else None)


def masked(recipient: str) -> str:
    """A phone number or mail address with the middle hidden: 138****1234, a***@example.com."""
    if "@" in recipient:
        name, _, domain = recipient.rpartition("@")
        return f"{name[:1]}***@{domain}"
    digits = recipient.strip()
    if len(digits) <= 7:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


def clear_delivered_bodies(
    session: Session,
    *,
    now: datetime,
    after: timedelta,
    batch_size: int = DEFAULT_BATCH_SIZE,
    end_batch: EndBatch = None,
) -> int:
    """Blank the body (codes, links) of messages delivered longer than `after` ago. `deliver` blanks
    them as it sends; this catches rows delivered before it did (an upgraded database) or marked sent
    by hand. Channel, recipient, subject and times stay: enough to show "sent to 138****1234".
    `batch_size` rows at a time, `end_batch` (the caller's commit) after each batch."""
    where = and_(OutboxMessage.sent_at <= now - after, or_(OutboxMessage.body != "", OutboxMessage.params != ""))
    values = {"body": "", "params": ""}
    return update_in_batches(session, OutboxMessage, where, values, batch_size=batch_size, end_batch=end_batch)


def prune(
    session: Session,
    *,
    now: datetime,
    keep: timedelta,
    batch_size: int = DEFAULT_BATCH_SIZE,
    end_batch: EndBatch = None,
) -> int:
    """Delete messages sent, or given up, longer than `keep` ago, `batch_size` at a time."""
    old = now - keep
    where = and_(
        OutboxMessage.created_at < old,
        or_(OutboxMessage.sent_at < old, OutboxMessage.next_attempt_at.is_(None)),
    )
    return delete_in_batches(session, OutboxMessage, where, batch_size=batch_size, end_batch=end_batch)

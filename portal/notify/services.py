"""Queueing and delivering messages. `queue` flushes with the caller's transaction; `deliver` runs after
the commit, so a rolled-back action never sends anything.

The web side tries each message once right after the commit; a message that was not sent then (the
mail server down, the process gone) is the outbox job's: `deliver_due` retries it with exponential
backoff (`retry_delay`) until `MAX_ATTEMPTS`, after which it stays unsent with its last error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from portal.notify.backends import Backend
from portal.notify.models import OutboxMessage

#: A new message is the web side's to send for this long; then the outbox job takes it over.
FIRST_TRY_GRACE = timedelta(minutes=1)
#: Attempts before a message is given up; the waits between them double from RETRY_BASE to RETRY_CAP.
MAX_ATTEMPTS = 8
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=6)


def queue(session: Session, channel: str, recipient: str, subject: str, body: str, *, now: datetime) -> OutboxMessage:
    message = OutboxMessage(
        channel=channel, recipient=recipient, subject=subject, body=body, created_at=now,
        next_attempt_at=now + FIRST_TRY_GRACE,
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
        message.attempts += 1
        try:
            backends[message.channel].send(message.recipient, message.subject, message.body)
        except Exception as error:  # noqa: BLE001  (a failed send must not fail the user's action)
            message.error = f"{type(error).__name__}: {error}"[:500]
            if message.attempts < MAX_ATTEMPTS:
                message.next_attempt_at = now + retry_delay(message.attempts)
            else:  # given up: the code or link it carried is of no use to anyone now
                message.next_attempt_at, message.body = None, ""
        else:
            message.sent_at, message.error, message.next_attempt_at = now, "", None
            sent += 1
    session.flush()
    return sent


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
    """Messages that failed every attempt (the system admin sees the count)."""
    stmt = select(func.count()).where(
        OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at.is_(None), OutboxMessage.attempts > 0
    )
    return session.scalar(stmt)


def clear_delivered_bodies(session: Session, *, now: datetime, after: timedelta) -> int:
    """Blank the body (codes, links) of messages delivered longer than `after` ago. Channel, recipient,
    subject and times stay: enough to show "sent to 138****1234"."""
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.sent_at <= now - after, OutboxMessage.body != "")
        .values(body="")
        .execution_options(synchronize_session=False)
    )
    return session.execute(stmt).rowcount


def prune(session: Session, *, now: datetime, keep: timedelta) -> int:
    """Delete messages sent, or given up, longer than `keep` ago."""
    old = now - keep
    stmt = (
        delete(OutboxMessage)
        .where(
            OutboxMessage.created_at < old,
            or_(OutboxMessage.sent_at < old, OutboxMessage.next_attempt_at.is_(None)),
        )
        .execution_options(synchronize_session=False)
    )
    return session.execute(stmt).rowcount


def latest(session: Session, recipient: str) -> OutboxMessage | None:
    """The newest message to a recipient (development and tests read codes this way)."""
    return session.scalar(
        select(OutboxMessage).where(OutboxMessage.recipient == recipient).order_by(OutboxMessage.id.desc()).limit(1)
    )

"""Queueing and delivering messages. `queue` flushes with the caller's transaction; `deliver` runs after
the commit, so a rolled-back action never sends anything."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.notify.backends import Backend
from portal.notify.models import OutboxMessage


def queue(session: Session, channel: str, recipient: str, subject: str, body: str, *, now: datetime) -> OutboxMessage:
    message = OutboxMessage(channel=channel, recipient=recipient, subject=subject, body=body, created_at=now)
    session.add(message)
    session.flush()
    return message


def deliver(session: Session, ids: Iterable[int], backends: Mapping[str, Backend], *, now: datetime) -> None:
    """Send the given unsent messages; record success or the error on each. Never raises for a send."""
    for message in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(list(ids)))):
        if message.sent_at is not None:
            continue
        try:
            backends[message.channel].send(message.recipient, message.subject, message.body)
        except Exception as error:  # noqa: BLE001  (a failed send must not fail the user's action)
            message.error = f"{type(error).__name__}: {error}"[:500]
        else:
            message.sent_at, message.error = now, ""
    session.flush()


def latest(session: Session, recipient: str) -> OutboxMessage | None:
    """The newest message to a recipient (development and tests read codes this way)."""
    return session.scalar(
        select(OutboxMessage).where(OutboxMessage.recipient == recipient).order_by(OutboxMessage.id.desc()).limit(1)
    )

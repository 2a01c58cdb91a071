"""Counting failed sign-ins per address and per typed name: captcha after 3, lockout after 5.

Real accounts also keep `users.failed_sign_ins` / `users.locked_until` (what staff unlock). Names with
no account get the same treatment through their `SignInThrottle` row, so the responses for a real and
an invented name are the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from portal.auth.models import SignInThrottle


@dataclass(frozen=True)
class LockoutPolicy:
    #: Consecutive failures that lock an account (the 5th failure locks).
    max_failures: int = 5
    lock_for: timedelta = timedelta(minutes=30)
    #: Failures (per account or per address) after which a captcha is required.
    captcha_after: int = 3
    #: Address failures are counted within this window.
    address_window: timedelta = timedelta(minutes=30)


def name_key(identifier: str) -> str:
    return "name:" + identifier.strip().casefold()[:90]


def address_key(ip: str) -> str:
    return "ip:" + ip[:90]


def _row(session: Session, key: str, now: datetime) -> SignInThrottle:
    row = session.get(SignInThrottle, key)
    if row is None:
        row = SignInThrottle(key=key, failures=0, window_started_at=now)
        session.add(row)
    return row


def failures(session: Session, key: str, now: datetime, window: timedelta | None = None) -> int:
    row = session.get(SignInThrottle, key)
    if row is None:
        return 0
    if window is not None and now - row.window_started_at > window:
        return 0
    return row.failures


def count_failure(session: Session, key: str, now: datetime, window: timedelta | None = None) -> SignInThrottle:
    row = _row(session, key, now)
    if window is not None and now - row.window_started_at > window:
        row.failures, row.window_started_at = 0, now
    row.failures += 1
    session.flush()
    return row


def name_locked_until(session: Session, identifier: str, now: datetime) -> datetime | None:
    row = session.get(SignInThrottle, name_key(identifier))
    if row is not None and row.locked_until is not None and now < row.locked_until:
        return row.locked_until
    return None


def clear(session: Session, *keys: str) -> None:
    session.execute(delete(SignInThrottle).where(SignInThrottle.key.in_(keys)))

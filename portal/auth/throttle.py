"""Counting failed sign-ins per address and per typed name: captcha after 3, lockout after 5.

Real accounts also keep `users.failed_sign_ins` / `users.locked_until` (what staff unlock). Names with
no account get the same treatment through their `SignInThrottle` row, so the responses for a real and
an invented name are the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, false, type_coerce, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from portal.auth.models import SignInThrottle, User


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


def failures(session: Session, key: str, now: datetime, window: timedelta | None = None) -> int:
    row = session.get(SignInThrottle, key)
    if row is None:
        return 0
    if window is not None and now - row.window_started_at > window:
        return 0
    return row.failures


def count_failure(session: Session, key: str, now: datetime, window: timedelta | None = None) -> int:
    """Add one failure to `key` (restarting a count older than `window`) and return the new count.

    One statement that inserts or increments in the database: failures sent at the same time each
    count (reading the count and writing it back would let parallel guesses count as one)."""
    table = SignInThrottle.__table__
    restart = false() if window is None else table.c.window_started_at < now - window
    # The column's own type, so `now` is stored as UTC whatever the database session's time zone.
    started = type_coerce(now, table.c.window_started_at.type)
    insert = _insert_for(session)(table).values(key=key, failures=1, window_started_at=now)
    upsert = insert.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "failures": case((restart, 1), else_=table.c.failures + 1),
            "window_started_at": case((restart, started), else_=table.c.window_started_at),
        },
    )
    return session.execute(upsert.returning(table.c.failures)).scalar_one()


def lock_name(session: Session, key: str, until: datetime | None) -> None:
    """Start the count of `key` again, locked until `until` (None: not locked)."""
    session.execute(
        update(SignInThrottle.__table__).where(SignInThrottle.key == key).values(failures=0, locked_until=until)
    )


def count_user_failure(session: Session, user: User) -> int:
    """One more wrong password on `user`, counted in the database in one statement (parallel wrong
    passwords each count); returns the new count."""
    return session.execute(
        update(User)
        .where(User.id == user.id)
        .values(failed_sign_ins=User.failed_sign_ins + 1)
        .returning(User.failed_sign_ins)
    ).scalar_one()


def _insert_for(session: Session):
    """The dialect's INSERT, which has ON CONFLICT DO UPDATE (PostgreSQL and SQLite alike)."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def name_locked_until(session: Session, identifier: str, now: datetime) -> datetime | None:
    row = session.get(SignInThrottle, name_key(identifier))
    if row is not None and row.locked_until is not None and now < row.locked_until:
        return row.locked_until
    return None


def clear(session: Session, *keys: str) -> None:
    session.execute(delete(SignInThrottle).where(SignInThrottle.key.in_(keys)))

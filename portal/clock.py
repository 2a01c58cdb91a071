"""Time: stored in UTC, business days in Asia/Shanghai. Services take `now` so tests inject time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class SystemClock:
    """The real clock. The app holds one; tests replace it with a `FrozenClock`."""

    def now(self) -> datetime:
        return utcnow()


class FrozenClock:
    """A clock that only moves when told to (tests, demo-data generation)."""

    def __init__(self, at: datetime):
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._at = at

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        self._at += delta

    def set(self, at: datetime) -> None:
        self._at = at


def business_date(at: datetime) -> date:
    """The Asia/Shanghai calendar day an instant falls on."""
    return at.astimezone(BUSINESS_TZ).date()


def business_day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a business day as UTC instants, for range queries."""
    start = datetime.combine(day, time.min, tzinfo=BUSINESS_TZ)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def to_local(at: datetime) -> datetime:
    return at.astimezone(BUSINESS_TZ)

from datetime import UTC, date, datetime, timedelta

import pytest

from portal.clock import FrozenClock, business_date, business_day_bounds


def test_business_day_is_shanghai_calendar_day():
    # 16:30 UTC is 00:30 the next day in Shanghai.
    assert business_date(datetime(2026, 3, 1, 16, 30, tzinfo=UTC)) == date(2026, 3, 2)
    assert business_date(datetime(2026, 3, 1, 15, 59, tzinfo=UTC)) == date(2026, 3, 1)


def test_business_day_bounds_are_utc_half_open():
    start, end = business_day_bounds(date(2026, 3, 2))
    assert start == datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
    assert end - start == timedelta(days=1)


def test_frozen_clock_moves_only_when_told():
    clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    clock.advance(timedelta(minutes=30))
    assert clock.now() == datetime(2026, 1, 1, 0, 30, tzinfo=UTC)
    with pytest.raises(ValueError):
        FrozenClock(datetime(2026, 1, 1))

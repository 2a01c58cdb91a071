"""The pure card-control rules (no database): what a pump refuses, and what a form may save."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.cards.controls import (
    DAILY_AMOUNT,
    DAILY_COUNT,
    DAILY_LITRES,
    HOURS,
    NO_CONTROLS,
    PER_PURCHASE_AMOUNT,
    PLATE,
    PRODUCT,
    REGION,
    STATION,
    Controls,
    DayTotals,
    Purchase,
    check_purchase_allowed,
    format_hours,
    normalize_plate,
    parse_hours,
    validate_controls,
)

#: 10:00 in Shanghai.
MORNING = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def purchase(**changes) -> Purchase:
    values = dict(
        amount_fen=300_00, litres_ml=40_000, product_code="92", station_id=7, region_id=11, at=MORNING, plate="京A12345"
    )
    values.update(changes)
    return Purchase(**values)


def test_no_controls_allow_anything():
    assert check_purchase_allowed(NO_CONTROLS, purchase(amount_fen=10**12), DayTotals(10**12, 999, 10**9)) == []


@pytest.mark.parametrize(
    ("controls", "day", "reason"),
    [
        (Controls(per_purchase_limit_fen=299_99), DayTotals(), PER_PURCHASE_AMOUNT),
        (Controls(daily_amount_limit_fen=500_00), DayTotals(amount_fen=200_01), DAILY_AMOUNT),
        (Controls(daily_count_limit=3), DayTotals(count=3), DAILY_COUNT),
        (Controls(daily_litres_limit_ml=100_000), DayTotals(litres_ml=60_001), DAILY_LITRES),
        (Controls(allowed_products=("0", "95")), DayTotals(), PRODUCT),
        (Controls(allowed_region_ids=(31,)), DayTotals(), REGION),
        (Controls(allowed_station_ids=(1, 2, 3)), DayTotals(), STATION),
        (Controls(plate_lock="京B99999"), DayTotals(), PLATE),
        (Controls(hours_start_min=11 * 60, hours_end_min=22 * 60), DayTotals(), HOURS),
    ],
)
def test_each_control_refuses_with_its_reason(controls, day, reason):
    assert check_purchase_allowed(controls, purchase(), day) == [reason]


@pytest.mark.parametrize(
    ("controls", "day"),
    [
        (Controls(per_purchase_limit_fen=300_00), DayTotals()),
        (Controls(daily_amount_limit_fen=500_00), DayTotals(amount_fen=200_00)),
        (Controls(daily_count_limit=3), DayTotals(count=2)),
        (Controls(daily_litres_limit_ml=100_000), DayTotals(litres_ml=60_000)),
        (Controls(allowed_products=("92", "95")), DayTotals()),
        (Controls(allowed_region_ids=(11, 31)), DayTotals()),
        (Controls(allowed_station_ids=(7,)), DayTotals()),
        (Controls(plate_lock="京a·12345"), DayTotals()),
        (Controls(hours_start_min=10 * 60, hours_end_min=22 * 60), DayTotals()),
    ],
)
def test_limits_are_inclusive_at_the_boundary(controls, day):
    assert check_purchase_allowed(controls, purchase(), day) == []


def test_every_broken_rule_is_reported_in_a_fixed_order():
    controls = Controls(per_purchase_limit_fen=1, daily_count_limit=1, allowed_products=("0",), plate_lock="沪C1")
    assert check_purchase_allowed(controls, purchase(), DayTotals(count=1)) == [
        PER_PURCHASE_AMOUNT,
        DAILY_COUNT,
        PRODUCT,
        PLATE,
    ]


def test_plate_lock_refuses_a_purchase_without_a_plate():
    assert check_purchase_allowed(Controls(plate_lock="京A12345"), purchase(plate=""), DayTotals()) == [PLATE]


@pytest.mark.parametrize(
    ("local_hour_minute", "allowed"),
    [
        ((21, 59), False),
        ((22, 0), True),
        ((23, 59), True),
        ((0, 0), True),
        ((5, 59), True),
        ((6, 0), False),
        ((12, 0), False),
    ],
)
def test_hours_window_wrapping_past_midnight_uses_shanghai_time(local_hour_minute, allowed):
    hour, minute = local_hour_minute
    # Shanghai is UTC+8 all year.
    at = datetime(2026, 3, 2, (hour - 8) % 24, minute, tzinfo=UTC)
    controls = Controls(hours_start_min=22 * 60, hours_end_min=6 * 60)
    assert (check_purchase_allowed(controls, purchase(at=at), DayTotals()) == []) is allowed


def test_validate_controls_finds_shape_problems():
    bad = Controls(
        per_purchase_limit_fen=0,
        daily_count_limit=-1,
        allowed_station_ids=tuple(range(11)),
        allowed_products=("92", "92"),
        hours_start_min=60,
    )
    codes = {(p.code, p.field) for p in validate_controls(bad)}
    assert codes == {
        ("not_positive", "per_purchase_limit_fen"),
        ("not_positive", "daily_count_limit"),
        ("too_many_stations", "allowed_station_ids"),
        ("duplicates", "allowed_products"),
        ("hours_incomplete", "hours"),
    }
    assert validate_controls(Controls(allowed_station_ids=tuple(range(10)))) == []


def test_validate_controls_refuses_a_float_limit():
    assert [p.code for p in validate_controls(Controls(per_purchase_limit_fen=1.5))] == ["not_positive"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("06:00-22:00", (360, 1320)),
        (" 6:30 - 24:00 ", (390, 1440)),
        ("22:00-06:00", (1320, 360)),
        ("22:00-00:00", (1320, 1440)),
        ("", None),
        ("   ", None),
    ],
)
def test_parse_hours(text, expected):
    assert parse_hours(text) == expected


@pytest.mark.parametrize("text", ["6-22", "06:00", "25:00-26:00", "06:60-07:00", "08:00-08:00", "24:30-01:00", "abc"])
def test_parse_hours_refuses_nonsense(text):
    with pytest.raises(ValueError):
        parse_hours(text)


@given(st.integers(0, 1439), st.integers(1, 1440))
def test_hours_round_trip(start, end):
    if start == end:
        return
    assert parse_hours(format_hours(start, end)) == (start, end)


def test_normalize_plate():
    assert normalize_plate(" 京a·123-45 ") == "京A12345"


def test_controls_round_trip_through_columns():
    controls = Controls(allowed_products=("92",), allowed_station_ids=(1, 2), hours_start_min=0, hours_end_min=60)

    class Row:
        pass

    row = Row()
    for name, value in controls.as_columns().items():
        setattr(row, name, value)
    assert Controls.from_row(row) == controls

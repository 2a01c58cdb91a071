"""Points arithmetic with exact figures."""

import pytest

from portal.points.rules import Rule, choose_rule, earn, points_for, points_to_expire, redemption_value


@pytest.mark.parametrize(
    ("amount", "kind", "points"),
    [
        (30_000, "gasoline", 300),  # 300 yuan of gasoline: 1 point per yuan
        (9_999, "gasoline", 99),  # rounded down to whole yuan
        (99, "gasoline", 0),
        (30_000, "diesel", 150),  # 1 point per 2 yuan
        (39_999, "diesel", 199),
        (30_000, "other", 0),  # no rule, no points
    ],
)
def test_default_rules(amount, kind, points):
    assert earn([], amount_fen=amount, product_kind=kind, product_code="x", region_id=1) == points


def test_most_specific_rule_wins():
    rules = [
        Rule("gasoline", 100, 1),
        Rule("gasoline", 100, 2, region_id=11),
        Rule("gasoline", 100, 3, product_code="98"),
        Rule("gasoline", 100, 5, product_code="98", region_id=11),
    ]
    assert earn(rules, amount_fen=1_000, product_kind="gasoline", product_code="92", region_id=31) == 10
    assert earn(rules, amount_fen=1_000, product_kind="gasoline", product_code="92", region_id=11) == 20
    assert earn(rules, amount_fen=1_000, product_kind="gasoline", product_code="98", region_id=31) == 30
    assert earn(rules, amount_fen=1_000, product_kind="gasoline", product_code="98", region_id=11) == 50


def test_a_zero_rule_switches_points_off():
    assert earn([Rule("diesel", 200, 0)], amount_fen=50_000, product_kind="diesel", product_code="0", region_id=1) == 0
    assert choose_rule([], "other", "x", 1) is None


def test_points_for_is_integer_and_never_negative():
    assert points_for(-5, 100, 1) == 0
    assert isinstance(points_for(12_345, 100, 1), int)


@pytest.mark.parametrize(("points", "fen"), [(1000, 1000), (5000, 5000), (12_000, 12_000)])
def test_redemption_value(points, fen):
    assert redemption_value(points) == fen


@pytest.mark.parametrize("points", [0, -1000, 999, 1500, True, 1000.0, "1000"])
def test_redemption_refuses_partial_blocks_and_non_integers(points):
    with pytest.raises(ValueError):
        redemption_value(points)


def test_expiry_is_first_in_first_out():
    assert points_to_expire(earned_before_cutoff=500, consumed_total=200) == 300
    assert points_to_expire(earned_before_cutoff=500, consumed_total=800) == 0

"""Licence plates and tank capacities: the one home of the vehicle rules (portal.drivers.validation)."""

import pytest

from portal.drivers.validation import MAX_TANK_ML, InvalidPlate, check_plate, plate_class, tank_problem


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("京A12345", "ordinary"),
        ("粤B3X9K2", "ordinary"),
        ("沪C1234学", "ordinary"),
        ("鲁Q1234挂", "ordinary"),
        ("京a·12345", "ordinary"),  # written with a dot and lower case
        ("京AD12345", "new_energy_small"),
        ("苏EF12345", "new_energy_small"),
        ("浙ADA0123", "new_energy_small"),
        ("京A12345D", "new_energy_large"),
        ("川A12345F", "new_energy_large"),
    ],
)
def test_valid_plates_by_class(text, kind):
    assert plate_class(text) == kind


@pytest.mark.parametrize(
    "text",
    [
        "",
        "nonsense",
        "ABC",
        "XA12345",  # no province
        "港A12345",  # not a mainland province abbreviation
        "京112345",  # the office is a letter
        "京A1234",  # too short
        "京A123456",  # 8 characters but no D/F
        "京AD1234A",  # small new-energy: the last four are digits
        "京A12345E",  # large new-energy ends in D or F only
        "京AI2345",  # I is never used
        "京AO1234",  # O is never used
        "京A1234挂5",
    ],
)
def test_invalid_plates(text):
    assert plate_class(text) is None
    with pytest.raises(InvalidPlate):
        check_plate(text)


def test_check_plate_returns_the_stored_form():
    assert check_plate("京b·d12345") == "京BD12345"
    assert check_plate(" 沪a-12345 ") == "沪A12345"


@pytest.mark.parametrize(
    ("tank_ml", "problem"),
    [(60_000, None), (1, None), (MAX_TANK_ML, None), (0, "not_positive"), (-5_000, "not_positive"),
     (MAX_TANK_ML + 10, "too_large"), (True, "not_positive"), (60.5, "not_positive")],
)  # fmt: skip
def test_tank_capacity(tank_ml, problem):
    assert tank_problem(tank_ml) == problem

"""Card numbers: construction, Luhn check, normalisation of what people type."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.cards.numbers import (
    MAX_SEQUENCE,
    card_number,
    format_card_number,
    is_valid_card_number,
    luhn_check_digit,
    luhn_valid,
    mask_card_number,
    normalise,
    region_code_of,
)


def test_known_luhn_values():
    # Classic published examples.
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")
    assert luhn_valid("4111111111111111")
    assert luhn_check_digit("7992739871") == "3"


def test_card_number_layout():
    number = card_number("11", 17)
    assert len(number) == 16
    assert number.startswith("903011")
    assert number[6:15] == "000000017"
    assert is_valid_card_number(number)
    assert region_code_of(number) == "11"


@pytest.mark.parametrize("region", ["1", "110", "ab", "１１"])
def test_card_number_refuses_bad_region(region):
    with pytest.raises(ValueError):
        card_number(region, 1)


@pytest.mark.parametrize("sequence", [0, -1, MAX_SEQUENCE + 1])
def test_card_number_refuses_bad_sequence(sequence):
    with pytest.raises(ValueError):
        card_number("11", sequence)


def test_user_input_is_normalised():
    number = card_number("44", 123)
    spaced = format_card_number(number)
    assert spaced.count(" ") == 3
    assert normalise(spaced) == number
    assert normalise(" " + number[:8] + "-" + number[8:] + " ") == number
    full_width = number.translate({ord(d): ord(d) - ord("0") + 0xFF10 for d in "0123456789"})
    assert is_valid_card_number(full_width)
    assert is_valid_card_number(spaced)


@pytest.mark.parametrize(
    "text",
    ["", "9030", "903011000000017", "90301100000001730", "1234567812345670", "903011000000017x", "٩٠٣٠١١٠٠٠٠٠٠٠١٧٣"],
)
def test_invalid_numbers(text):
    assert not is_valid_card_number(text)


@given(st.sampled_from(["11", "31", "44", "65"]), st.integers(min_value=1, max_value=MAX_SEQUENCE), st.data())
def test_any_single_digit_error_is_caught(region, sequence, data):
    number = card_number(region, sequence)
    assert is_valid_card_number(number)
    position = data.draw(st.integers(min_value=4, max_value=15))
    wrong = data.draw(st.sampled_from([d for d in "0123456789" if d != number[position]]))
    typo = number[:position] + wrong + number[position + 1 :]
    assert not is_valid_card_number(typo)


def test_mask():
    assert mask_card_number("9030110000000173") == "9030 **** **** 0173"

"""Amounts and litres: what people type becomes exact integers, or a clear, coded refusal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.money import (
    MAX_FEN,
    AmountError,
    fen_for_litres,
    format_fen,
    format_fen_plain,
    format_litres,
    format_litres_plain,
    parse_amount,
    parse_litres,
)


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("1,234.56", 123456),
        ("1234.5", 123450),
        ("1234.", 123400),
        ("1234", 123400),
        ("0.01", 1),
        (".5", 50),
        ("¥1234", 123400),
        ("￥1,234", 123400),
        ("¥ 1,234.00", 123400),
        ("CN¥5", 500),
        ("1234元", 123400),
        ("１２３４．５６", 123456),  # full-width digits and point
        ("１，２３４", 123400),  # full-width comma
        ("  12.30\t", 1230),
        ("\u300012\u3000", 1200),  # ideographic spaces around
        ("12。5", 1250),  # the IME full stop as decimal point
        ("1,000,000", 100_000_000),
        ("007", 700),
        ("100000000", MAX_FEN),
    ],
)
def test_parse_amount_accepts_what_people_type(text, fen):
    assert parse_amount(text) == fen


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("¥", "empty"),
        ("1.234", "too_many_decimals"),
        ("1.230", "too_many_decimals"),
        ("-1", "negative"),
        ("-0.01", "negative"),
        ("－5", "negative"),  # full-width minus
        ("−5", "negative"),  # U+2212 minus sign
        ("0", "zero"),
        ("0.00", "zero"),
        ("¥0", "zero"),
        ("abc", "not_a_number"),
        ("12abc", "not_a_number"),
        ("1e5", "not_a_number"),
        ("1E5", "not_a_number"),
        ("NaN", "not_a_number"),
        ("inf", "not_a_number"),
        ("Infinity", "not_a_number"),
        ("0x10", "not_a_number"),
        ("1 234", "not_a_number"),
        ("1..2", "not_a_number"),
        (".", "not_a_number"),
        ("٣", "not_a_number"),  # Arabic-Indic digit: int() reads it, we do not
        ("1,23.4", "bad_grouping"),
        ("1234,567", "bad_grouping"),
        ("1,2345", "bad_grouping"),
        (",123", "bad_grouping"),
        ("100000000.01", "too_large"),
        ("9" * 40, "too_large"),
        ("1" * 65, "too_large"),  # refused on length before any parsing
    ],
)
def test_parse_amount_refuses_with_a_stable_code(text, code):
    with pytest.raises(AmountError) as caught:
        parse_amount(text)
    assert caught.value.code == code
    assert caught.value.message  # an English sentence for logs and the untranslated fallback


def test_zero_allowed_when_asked():
    assert parse_amount("0", allow_zero=True) == 0
    assert parse_amount("0.00", allow_zero=True) == 0


def test_custom_ceiling():
    assert parse_amount("500", max_fen=50_000) == 50_000
    with pytest.raises(AmountError) as caught:
        parse_amount("500.01", max_fen=50_000)
    assert caught.value.code == "too_large"
    assert caught.value.params == {"maximum": 50_000}


def test_non_string_input_is_refused():
    with pytest.raises(AmountError):
        parse_amount(12.5)  # type: ignore[arg-type]  # a float must never sneak in


@pytest.mark.parametrize(
    ("fen", "shown"),
    [
        (0, "¥0.00"),
        (1, "¥0.01"),
        (123456, "¥1,234.56"),
        (100_000_000, "¥1,000,000.00"),
        (-5, "-¥0.05"),
        (-123456, "-¥1,234.56"),
    ],
)
@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_format_fen(fen, shown, locale):
    assert format_fen(fen, locale) == shown


def test_format_fen_plain():
    assert format_fen_plain(123456) == "1234.56"
    assert format_fen_plain(5) == "0.05"
    assert format_fen_plain(-123456) == "-1234.56"
    assert format_fen_plain(0) == "0.00"


@pytest.mark.parametrize("bad", [1.5, True, "12", None])
def test_format_refuses_non_integers(bad):
    with pytest.raises(TypeError):
        format_fen(bad)


@given(st.integers(min_value=1, max_value=MAX_FEN))
def test_plain_format_parses_back_exactly(fen):
    assert parse_amount(format_fen_plain(fen)) == fen


@given(st.integers(min_value=1, max_value=MAX_FEN))
def test_display_format_parses_back_exactly(fen):
    assert parse_amount(format_fen(fen)) == fen


@given(st.text(max_size=30))
def test_parse_returns_an_int_or_raises_amount_error(text):
    try:
        value = parse_amount(text, allow_zero=True)
    except AmountError as error:
        assert error.code in {
            "empty",
            "not_a_number",
            "negative",
            "too_many_decimals",
            "zero",
            "too_large",
            "bad_grouping",
        }
    else:
        assert type(value) is int
        assert 0 <= value <= MAX_FEN


@pytest.mark.parametrize(
    ("text", "ml"), [("45.5", 45500), ("45.50 L", 45500), ("1,200升", 1_200_000), ("0.01", 10), ("３０", 30000)]
)
def test_parse_litres(text, ml):
    assert parse_litres(text) == ml


@pytest.mark.parametrize(
    ("text", "code"),
    [("45.123", "too_many_decimals"), ("-1", "negative"), ("0", "zero"), ("", "empty"), ("x", "not_a_number")],
)
def test_parse_litres_refuses(text, code):
    with pytest.raises(AmountError) as caught:
        parse_litres(text)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("ml", "shown"),
    [
        (45125, "45.13 L"),
        (45124, "45.12 L"),
        (0, "0.00 L"),
        (4, "0.00 L"),
        (-45000, "-45.00 L"),
        (1234567, "1,234.57 L"),
    ],
)
def test_format_litres(ml, shown):
    assert format_litres(ml, "zh_CN") == shown


@given(st.integers(min_value=1, max_value=10_000_000))
def test_litres_round_trip_in_hundredths(centilitres):
    ml = centilitres * 10
    assert parse_litres(format_litres_plain(ml)) == ml


@pytest.mark.parametrize(
    ("ml", "price", "fen"),
    [(45_000, 750, 33750), (1, 750, 1), (666, 750, 500), (45_123, 763, 34429), (0, 750, 0)],
)
def test_fen_for_litres_rounds_half_up(ml, price, fen):
    # 45.123 L x 7.63 = 344.28849 yuan -> 344.29; 0.666 L x 7.50 = 4.995 -> 5.00
    assert fen_for_litres(ml, price) == fen


@pytest.mark.parametrize(
    "text",
    [
        "10²",  # superscript two: NFKC would read 102
        "①",  # circled one
        "⑩",
        "𝟏𝟎",  # mathematical bold digits
        "١٢",  # Arabic-Indic digits
        "१२",  # Devanagari digits
        "½",
        "1⁰",
        "¹²³",
        "５²",
    ],
)
def test_look_alike_digits_are_not_numbers(text):
    """Only ASCII and full-width digits count: look-alikes are refused, never read as other amounts."""
    for parse in (parse_amount, parse_litres):
        with pytest.raises(AmountError) as refused:
            parse(text)
        assert refused.value.code == "not_a_number"


def test_full_width_forms_still_fold():
    assert parse_amount("￥１，２３４．５６") == 123456
    assert parse_amount("\u3000１２\u3000") == 1200  # ideographic spaces around
    assert parse_amount("ＲＭＢ１２") == 1200
    assert parse_litres("４５．５Ｌ") == 45500

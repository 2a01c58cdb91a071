"""The pure rules of allocation and collection lines, and the CSV reader."""

import pytest

from portal.funds.plan import (
    CardInfo,
    PlanRejected,
    RawLine,
    card_refusal,
    plan,
    read_csv,
    split_equally,
    top_up_to,
)

CARDS = {
    "9030110000000017": CardInfo(1, "9030110000000017", "sub", "active", reserve=5000, reserve_available=5000),
    "9030110000000025": CardInfo(2, "9030110000000025", "sub", "active", reserve=100, reserve_available=40),
    "9030110000000033": CardInfo(3, "9030110000000033", "sub", "lost", reserve=700, reserve_available=700),
    "9030110000000041": CardInfo(4, "9030110000000041", "sub", "closed"),
    "9030110000000058": CardInfo(5, "9030110000000058", "main", "active"),
}


def codes(excinfo):
    return [(e.line_no, e.code) for e in excinfo.value.errors]


def test_allocation_plan_parses_amounts_and_normalises_numbers():
    lines = [RawLine(2, "9030 1100 0000 0017", "1,234.56"), RawLine(3, "9030-1100-0000-0025", "¥5")]
    planned = plan(lines, CARDS, kind="allocation", unit_available=10**9)
    assert [(p.card.id, p.amount) for p in planned] == [(1, 123456), (2, 500)]


def test_every_problem_is_reported_with_its_line():
    lines = [
        RawLine(2, "9030110000000017", "1.234"),  # three decimals
        RawLine(3, "9030110000000025", "-5"),
        RawLine(4, "9030110000000033", "5"),  # lost
        RawLine(5, "9030110000000041", "5"),  # closed
        RawLine(6, "9030110000000058", "5"),  # main card
        RawLine(7, "9999999999999999", "5"),  # unknown or another customer's
        RawLine(8, "9030110000000025", "5"),  # duplicate of line 3
    ]
    with pytest.raises(PlanRejected) as excinfo:
        plan(lines, CARDS, kind="allocation", unit_available=10**9)
    assert codes(excinfo) == [
        (2, "amount_too_many_decimals"),
        (3, "amount_negative"),
        (4, "card_lost"),
        (5, "card_closed"),
        (6, "not_sub_card"),
        (7, "unknown_card"),
        (8, "duplicate_card"),
    ]
    assert excinfo.value.errors[-1].params["first_line"] == 3


def test_allocation_total_above_the_unit_balance_is_refused():
    lines = [RawLine(2, "9030110000000017", "60"), RawLine(3, "9030110000000025", "40.01")]
    with pytest.raises(PlanRejected) as excinfo:
        plan(lines, CARDS, kind="allocation", unit_available=10000)
    assert codes(excinfo) == [(None, "above_unit_balance")]
    assert plan(lines[:1], CARDS, kind="allocation", unit_available=10000)[0].amount == 6000


def test_collection_from_lost_cards_is_allowed_but_not_above_the_available_reserve():
    planned = plan([RawLine(1, "9030110000000033", "7")], CARDS, kind="collection", unit_available=0)
    assert planned[0].amount == 700
    with pytest.raises(PlanRejected) as excinfo:
        plan([RawLine(1, "9030110000000025", "0.41")], CARDS, kind="collection", unit_available=0)
    assert codes(excinfo) == [(1, "above_reserve")]


def test_blank_amounts_are_skipped_on_the_page_but_nothing_at_all_is_an_error():
    lines = [RawLine(1, "9030110000000017", ""), RawLine(2, "9030110000000025", "0")]
    with pytest.raises(PlanRejected) as excinfo:
        plan(lines, CARDS, kind="allocation", unit_available=10**9, skip_blank=True)
    assert codes(excinfo) == [(None, "nothing")]
    with pytest.raises(PlanRejected) as excinfo:
        plan(lines, CARDS, kind="allocation", unit_available=10**9)
    assert codes(excinfo) == [(1, "amount_empty"), (2, "amount_zero")]
    with pytest.raises(PlanRejected) as excinfo:
        plan([RawLine(1, "9030110000000017", "1e3")], CARDS, kind="allocation", unit_available=10**9)
    assert codes(excinfo) == [(1, "amount_not_a_number")]


def test_csv_needs_its_header_and_two_columns():
    assert read_csv(b"card_number,amount\r\n9030110000000017,12.5\r\n\r\n") == [RawLine(2, "9030110000000017", "12.5")]
    assert read_csv('\ufeff卡号,金额\n9030110000000017,"1,000"\n'.encode()) == [RawLine(2, "9030110000000017", "1,000")]
    assert read_csv("卡号,金额\n9030110000000017,1\n".encode("gb18030"))[0].amount_text == "1"
    with pytest.raises(PlanRejected) as excinfo:
        read_csv(b"number,sum\n9030110000000017,1\n")
    assert codes(excinfo) == [(1, "bad_header")]
    with pytest.raises(PlanRejected) as excinfo:
        read_csv(b"")
    assert codes(excinfo) == [(1, "missing_header")]
    with pytest.raises(PlanRejected) as excinfo:
        read_csv(b"card_number,amount\n9030110000000017,1,2\n9030110000000025\n")
    assert codes(excinfo) == [(2, "bad_columns"), (3, "bad_columns")]


def test_split_equally_gives_the_leftover_fen_to_the_first_cards():
    assert split_equally(1000, [1, 2, 3]) == {1: 334, 2: 333, 3: 333}
    assert sum(split_equally(10**9 + 7, list(range(1, 98))).values()) == 10**9 + 7
    assert split_equally(2, [1, 2, 3]) == {1: 1, 2: 1}
    assert split_equally(0, [1]) == {}


def test_top_up_to_fills_only_cards_below_the_target():
    assert top_up_to(5000, {1: 1000, 2: 5000, 3: 7000}) == {1: 4000}


@pytest.mark.parametrize(
    ("status", "allocation", "collection"),
    [("active", None, None), ("lost", "card_lost", None), ("closed", "card_closed", "card_closed")],
)
def test_lost_or_closed_cards_get_no_allocation_and_closed_cards_give_no_collection(status, allocation, collection):
    assert card_refusal(status, "allocation") == allocation
    assert card_refusal(status, "collection") == collection

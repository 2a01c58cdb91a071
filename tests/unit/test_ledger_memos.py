"""Structured memos: fields in, the same fields out; English sentences are not structured."""

from __future__ import annotations

import pytest

from portal.ledger import memos
from portal.ledger.rules import MAX_MEMO_LENGTH


def test_fields_round_trip_and_none_is_left_out():
    text = memos.structured(source="offline", product="-10", station=2, reason=None)
    assert memos.parse(text) == {"product": "-10", "source": "offline", "station": 2}


def test_chinese_text_is_stored_as_is():
    assert memos.structured(bank="工行-001") == '{"bank":"工行-001"}'


@pytest.mark.parametrize("memo", ["", None, "load to chip", "bank TEST-DEP-001", "{not json", "[1, 2]"])
def test_old_or_free_memos_are_not_structured(memo):
    assert memos.parse(memo) is None


def test_only_text_and_whole_numbers():
    with pytest.raises(TypeError):
        memos.structured(amount=1.5)
    with pytest.raises(TypeError):
        memos.structured(flag=True)


def test_a_memo_fits_the_column():
    with pytest.raises(ValueError):
        memos.structured(bank="x" * MAX_MEMO_LENGTH)

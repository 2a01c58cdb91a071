"""Query-string filters, cursors, chart geometry and export writers: pure rules, no database."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest

from portal.exports.writers import BOM, Column, csv_chunks, xlsx_chunks
from portal.queries.cursor import BadCursor, Key, decode_cursor, encode_cursor
from portal.queries.filters import FilterError, FilterSpec, parse_filter
from portal.statistics.chart import bar_chart

TODAY = date(2026, 3, 15)
LIST = FilterSpec(extra={"type": ("purchase", "refund"), "station": None})
STATS = FilterSpec(extra={"group": ("day", "month")}, defaults={"group": "day"}, max_months=24)


def parse(spec=LIST, **args):
    return parse_filter(args, spec, today=TODAY)


def test_presets_are_business_days():
    assert (parse().start, parse().end) == (date(2026, 3, 1), TODAY)
    assert (parse(preset="today").start, parse(preset="today").end) == (TODAY, TODAY)
    last = parse(preset="last_month")
    assert (last.start, last.end) == (date(2026, 2, 1), date(2026, 2, 28))
    january = parse_filter({"preset": "last_month"}, LIST, today=date(2026, 1, 5))
    assert (january.start, january.end) == (date(2025, 12, 1), date(2025, 12, 31))


def test_utc_range_is_shanghai_midnight_to_midnight():
    flt = parse(preset="custom", start="2026-03-01", end="2026-03-01")
    assert flt.utc_range == (datetime(2026, 2, 28, 16, tzinfo=UTC), datetime(2026, 3, 1, 16, tzinfo=UTC))


def test_custom_dates_only_count_for_a_custom_period():
    assert parse(preset="this_month", start="2020-01-01", end="2020-01-02").start == date(2026, 3, 1)
    flt = parse(preset="custom", start="2025-12-01", end="2026-01-31")
    assert (flt.start, flt.end) == (date(2025, 12, 1), date(2026, 1, 31))


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ({"preset": "custom", "start": "2026-02-30", "end": "2026-03-01"}, "bad_date"),
        ({"preset": "custom", "start": "yesterday", "end": "2026-03-01"}, "bad_date"),
        ({"preset": "custom", "start": "2026-03-01"}, "missing_dates"),
        ({"preset": "custom", "start": "2026-03-10", "end": "2026-03-01"}, "start_after_end"),
        ({"preset": "custom", "start": "2024-01-01", "end": "2026-03-01"}, "range_too_long"),
        ({"preset": "forever"}, "bad_preset"),
        ({"colour": "red"}, "unknown_filter"),
        ({"type": "theft"}, "bad_value"),
        ({"card": "9030-abc"}, "bad_card"),
        ({"driver": "１２"}, "bad_driver"),
        ({"driver": "-1"}, "bad_driver"),
        ({"order": "random"}, "bad_order"),
        ({"plate": "x" * 100}, "too_long"),
    ],
)
def test_bad_input_is_a_filter_error_with_a_message(args, code):
    with pytest.raises(FilterError) as error:
        parse(**args)
    assert error.value.code == code
    assert str(error.value)


def test_a_range_of_exactly_the_maximum_is_allowed():
    assert parse(preset="custom", start="2025-03-15", end="2026-03-15").start == date(2025, 3, 15)  # 366 days
    with pytest.raises(FilterError):
        parse(preset="custom", start="2025-03-14", end="2026-03-15")


def test_statistics_allow_24_months_not_more():
    assert parse(STATS, preset="custom", start="2024-04-01", end="2026-03-15").extra["group"] == "day"
    with pytest.raises(FilterError) as error:
        parse(STATS, preset="custom", start="2024-03-31", end="2026-03-15")
    assert error.value.code == "range_too_long"


def test_query_args_round_trip():
    flt = parse(preset="custom", start="2026-01-01", end="2026-01-31", card="9030 0000 0000 0001", type="refund")
    assert parse(**flt.query_args()) == flt
    assert flt.card == "9030000000000001"


def test_cursor_round_trip_and_tampering():
    key = Key(datetime(2026, 3, 1, 1, 2, 3, 456789, tzinfo=UTC), 42)
    token = encode_cursor(key, secret="s", report="purchases")
    assert decode_cursor(token, secret="s", report="purchases") == key
    assert (
        decode_cursor(encode_cursor(Key(key.at, "t1-load"), secret="s", report="x"), secret="s", report="x").id
        == "t1-load"
    )
    for bad in (token[:-2] + "xx", "garbage", ""):
        with pytest.raises(BadCursor):
            decode_cursor(bad, secret="s", report="purchases")
    with pytest.raises(BadCursor):
        decode_cursor(token, secret="s", report="points")  # one report's cursor is no good in another
    with pytest.raises(BadCursor):
        decode_cursor(token, secret="other", report="purchases")


def test_chart_bars_scale_to_a_round_top():
    chart = bar_chart([("a", 50), ("b", 100), ("c", -20), ("d", 0)])
    tallest = max(bar.height for bar in chart.bars)
    assert chart.bars[1].height == tallest // 1
    assert chart.bars[0].height * 2 == chart.bars[1].height
    assert chart.bars[2].negative and chart.bars[2].y == chart.baseline
    assert chart.ticks[-1].text == "100"
    assert all(bar.x + bar.width <= chart.width for bar in chart.bars)
    assert bar_chart([]).bars == []


def test_chart_labels_thin_out_when_there_are_many_bars():
    chart = bar_chart([(str(i), i) for i in range(365)])
    assert 0 < sum(bar.show_label for bar in chart.bars) <= 16


COLUMNS = (Column("时间", "datetime"), Column("Plate"), Column("Amount", "money"), Column("Litres", "litres"))
ROWS = [
    (datetime(2026, 3, 1, 16, 30, tzinfo=UTC), "京A10001", 12345, 40125),
    (datetime(2026, 3, 1, 17, 0, tzinfo=UTC), "=cmd()", -5, 0),
]


def test_csv_has_a_bom_exact_amounts_local_times_and_no_formulas():
    data = b"".join(csv_chunks(COLUMNS, iter(ROWS))).decode("utf-8")
    assert data.startswith(BOM)
    lines = data[1:].split("\r\n")
    assert lines[0] == "时间,Plate,Amount,Litres"
    assert lines[1] == "2026-03-02 00:30:00,京A10001,123.45,40.13"
    assert lines[2] == "2026-03-02 01:00:00,'=cmd(),-0.05,0.00"


def test_csv_streams_in_chunks():
    rows = ((datetime(2026, 3, 1, tzinfo=UTC), "p", 1, 1) for _ in range(2000))
    chunks = list(csv_chunks(COLUMNS, rows))
    assert len(chunks) >= 4


def test_xlsx_is_a_workbook_with_decimal_amounts():
    from decimal import Decimal

    from openpyxl import load_workbook

    data = b"".join(xlsx_chunks(COLUMNS, iter(ROWS), title="purchases"))
    sheet = load_workbook(io.BytesIO(data), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("时间", "Plate", "Amount", "Litres")
    assert rows[1][0] == datetime(2026, 3, 2, 0, 30)
    assert Decimal(str(rows[1][2])) == Decimal("123.45")
    assert rows[2][1] == "=cmd()"  # typed as text, never a formula (test_exports_xlsx)

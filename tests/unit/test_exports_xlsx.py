"""XLSX exports read back with openpyxl: numbers with the pages' formats, a frozen header, column
widths, a totals row, litres to two decimals, and the row cap."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from portal.exports.writers import Column, TooManyRows, xlsx_chunks

COLUMNS = (
    Column("时间", "datetime"),
    Column("加油站"),
    Column("升数", "litres"),
    Column("单价（元/升）", "money", total=False),
    Column("金额（元）", "money"),
    Column("积分", "int"),
)
AT = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)
ROWS = [
    (AT, "中石油北京建国门加油站", 45125, 753, 3_397_912, 1_234),
    (AT, "=cmd()", 40124, 719, 288_489, 288),
    (AT, "中石油上海浦东加油站", -10_001, 753, -7_531, None),
]


def workbook(rows=ROWS, columns=COLUMNS, **options):
    data = b"".join(xlsx_chunks(columns, iter(rows), title="purchases", **options))
    return load_workbook(io.BytesIO(data)).active


def test_money_litres_and_counts_are_numbers_with_the_pages_formats():
    sheet = workbook(total_label="合计")
    litres, price, amount, points = sheet["C2"], sheet["D2"], sheet["E2"], sheet["F2"]
    assert [cell.data_type for cell in (litres, price, amount, points)] == ["n"] * 4
    assert Decimal(str(amount.value)) == Decimal("33979.12")
    assert amount.number_format == price.number_format == "#,##0.00"
    # Two decimals, rounded half up, as on screen (45.125 L shows as 45.13 L): not 45.125.
    assert Decimal(str(litres.value)) == Decimal("45.13")
    assert Decimal(str(sheet["C3"].value)) == Decimal("40.12")
    assert litres.number_format == "#,##0.00"
    assert points.number_format == "#,##0"
    assert sheet["A2"].value == datetime(2026, 3, 2, 0, 30)
    assert sheet["A2"].number_format == "yyyy-mm-dd hh:mm:ss"
    assert sheet["B3"].value == "=cmd()"
    assert sheet["B3"].data_type == "s"


def test_text_cells_are_text_as_shown_never_formulas():
    """A product named "-10#柴油" is written as it is (no CSV-style leading apostrophe), and a
    text starting with "=" is stored as a string, not a formula Excel would evaluate."""
    import zipfile

    columns = (Column("商品"), Column("备注"), Column("金额（元）", "money"))
    rows = [("-10#柴油", "=1+1", 100), ("+86 10", "@home", -5)]
    data = b"".join(xlsx_chunks(columns, iter(rows), title="purchases"))
    sheet = load_workbook(io.BytesIO(data)).active
    assert [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2, max_col=2)] == [
        ["-10#柴油", "=1+1"],
        ["+86 10", "@home"],
    ]
    assert {cell.data_type for row in sheet.iter_rows(min_row=2, max_col=2) for cell in row} == {"s"}
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        xml = package.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and "<f " not in xml


def test_the_header_is_frozen_bold_and_columns_have_widths():
    sheet = workbook()
    assert sheet.freeze_panes == "A2"
    assert [cell.value for cell in sheet[1]] == [str(column.label) for column in COLUMNS]
    assert all(cell.font.bold for cell in sheet[1])
    widths = {letter: sheet.column_dimensions[letter].width for letter in "ABCDEF"}
    assert widths["A"] >= 19  # "2026-03-02 00:30:00"
    assert widths["B"] >= 14
    assert widths["D"] >= len("单价（元/升）") * 2  # a CJK header fits
    assert all(width for width in widths.values())


def test_a_totals_row_sums_money_litres_and_counts_exactly():
    sheet = workbook(total_label="合计")
    assert sheet.max_row == len(ROWS) + 2
    total = [cell.value for cell in sheet[sheet.max_row]]
    assert total[0] == "合计"
    assert total[1] is None
    assert Decimal(str(total[2])) == Decimal("75.25")  # 75.248 L, rounded once like the page's total
    assert total[3] is None  # a unit price is not summed
    assert Decimal(str(total[4])) == Decimal("36788.70")
    assert total[5] == 1_522
    assert sheet.cell(sheet.max_row, 5).number_format == "#,##0.00"
    assert sheet.cell(sheet.max_row, 5).font.bold


def test_no_totals_row_unless_asked():
    assert workbook().max_row == len(ROWS) + 1


def test_too_many_rows_is_refused_before_any_byte():
    from openpyxl.worksheet._writer import ALL_TEMP_FILES

    spooled = list(ALL_TEMP_FILES)
    chunks = xlsx_chunks(COLUMNS, iter(ROWS), max_rows=2)
    with pytest.raises(TooManyRows) as refused:
        next(chunks)
    assert refused.value.limit == 2
    assert ALL_TEMP_FILES == spooled  # the half-written sheet's spool file is gone
    assert workbook(max_rows=3).max_row == 4  # exactly the cap is fine


def test_the_default_cap_is_200000_rows(monkeypatch):
    from portal.exports import writers

    assert writers.XLSX_MAX_ROWS == 200_000
    monkeypatch.setattr(writers, "XLSX_MAX_ROWS", 1)
    with pytest.raises(TooManyRows):
        next(xlsx_chunks(COLUMNS, iter(ROWS)))

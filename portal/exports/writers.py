"""Turning rows into CSV or XLSX bytes, incrementally. Pure Python: no Flask, no database.

A report is a tuple of `Column`s and an iterator of row tuples holding plain values: integer fen for
money, integer millilitres for volumes, aware datetimes, strings and ints. Money and litres are
written as exact decimal text in CSV and as `Decimal` in XLSX; never through a float.

In XLSX, money, litres and counts are numbers (not text) with the figures' display formats (two
decimals for money and litres, thousands separators), the header row is frozen, columns have widths,
and a totals row ends the sheet. An XLSX has at most `XLSX_MAX_ROWS` rows (see `TooManyRows`).
"""

from __future__ import annotations

import csv
import io
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from portal.clock import to_local
from portal.money import format_fen_plain, format_litres_plain

KINDS = ("text", "int", "money", "litres", "datetime", "date")
BOM = "\ufeff"
#: Rows gathered before a chunk is sent: big enough for few syscalls, small enough to stay flat.
CSV_ROWS_PER_CHUNK = 500
XLSX_CHUNK_BYTES = 64 * 1024
#: Data rows an XLSX may hold (the web layer passes the EXPORT_XLSX_MAX_ROWS setting). Excel's own
#: limit is 1,048,576; past a few hundred thousand rows the file is slow to open and the CSV,
#: which streams without a limit, is the better download.
XLSX_MAX_ROWS = 200_000

#: Excel number formats: the same digits the pages show.
XLSX_FORMATS = {
    "money": "#,##0.00",
    "litres": "#,##0.00",
    "int": "#,##0",
    "datetime": "yyyy-mm-dd hh:mm:ss",
    "date": "yyyy-mm-dd",
}
#: Column widths in characters (a CJK character counts two), at least the header's.
XLSX_WIDTHS = {"text": 16, "int": 10, "money": 14, "litres": 12, "datetime": 20, "date": 12}
_HUNDREDTH = Decimal("0.01")


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = "text"
    #: Whether the totals row sums this column; by default money, litres and counts are summed.
    #: Rates and running figures (unit price, average price, balance after) are not.
    total: bool | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")

    @property
    def summed(self) -> bool:
        return self.kind in ("int", "money", "litres") if self.total is None else self.total


class TooManyRows(Exception):
    """The rows do not fit in one XLSX (more than `limit`): raised before any byte is produced."""

    def __init__(self, limit: int):
        super().__init__(f"more than {limit} rows for an XLSX")
        self.limit = limit


def _cell_text(kind: str, value) -> str:
    if value is None:
        return ""
    if kind == "money":
        return format_fen_plain(value)
    if kind == "litres":
        return format_litres_plain(value)
    if kind == "datetime":
        return to_local(value).strftime("%Y-%m-%d %H:%M:%S")
    if kind == "date":
        return value.isoformat()
    return str(value)


def _formula_safe(text: str) -> str:
    """A CSV cell starting with = + - @ would run as a formula in Excel (CSV injection): quote it.
    Only text columns are touched; negative amounts stay numbers. XLSX does not need it: its text
    cells are typed as text (`_text_cell`), so "-10#柴油" stays as it is and "=1+1" is never run."""
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def csv_chunks(columns: tuple[Column, ...], rows: Iterable[tuple]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow([_formula_safe(str(column.label)) for column in columns])
    kinds = [column.kind for column in columns]
    pending = 0
    for row in rows:
        writer.writerow(
            [
                _formula_safe(_cell_text(kind, value)) if kind == "text" else _cell_text(kind, value)
                for kind, value in zip(kinds, row, strict=True)
            ]
        )
        pending += 1
        if pending >= CSV_ROWS_PER_CHUNK:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue().encode("utf-8")


def _litres(ml: int) -> Decimal:
    """Litres to two decimals, half up, as `money.format_litres` shows them (45125 ml -> 45.13)."""
    return Decimal(ml).scaleb(-3).quantize(_HUNDREDTH, rounding=ROUND_HALF_UP)


def _xlsx_value(kind: str, value):
    if value is None:
        return None
    if kind == "money":
        return Decimal(value).scaleb(-2)
    if kind == "litres":
        return _litres(value)
    if kind == "datetime":
        # Excel has no time zones: write the Beijing wall-clock time the pages show.
        return to_local(value).replace(tzinfo=None)
    if kind == "text":
        return str(value)
    return value


def _text_cell(sheet, text: str):
    """A text cell typed as a string: openpyxl would store a value starting with "=" as a formula;
    typed "s" it is written as the text it is and Excel never evaluates it."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, text)
    cell.data_type = "s"
    return cell


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


class _Totals:
    """Exact running sums of the summed columns: integers (fen, millilitres, counts), never Decimal
    sums of rounded cells; litres are rounded once, like the pages' totals."""

    def __init__(self, columns: tuple[Column, ...]):
        self.columns = columns
        self.sums = [0 if column.summed else None for column in columns]

    def add(self, row: tuple) -> None:
        for i, value in enumerate(row):
            if self.sums[i] is not None and value is not None:
                self.sums[i] += value

    def row(self, label: str) -> list:
        cells = [_xlsx_value(column.kind, total) for column, total in zip(self.columns, self.sums, strict=True)]
        if cells[0] is None:
            cells[0] = label
        return cells


def xlsx_chunks(
    columns: tuple[Column, ...],
    rows: Iterable[tuple],
    *,
    title: str = "Sheet",
    total_label: str | None = None,
    max_rows: int | None = None,
) -> Iterator[bytes]:
    """Rows go to openpyxl's write-only sheet (which spools them to a temporary file, not memory);
    the finished workbook is then sent from disk in chunks. So every row has been read when the
    first chunk is yielded, and `TooManyRows` (more than `max_rows`, by default `XLSX_MAX_ROWS`)
    comes from the first `next()`, before anything is sent. `total_label` adds a totals row."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = _sheet(workbook, title, columns)
    limit = XLSX_MAX_ROWS if max_rows is None else max_rows
    totals = _append_rows(sheet, columns, iter(rows), limit)
    if total_label is not None:
        sheet.append(
            [
                _styled(sheet, value, column.kind, bold=True) if value is not None else None
                for column, value in zip(columns, totals.row(total_label), strict=True)
            ]
        )
    with tempfile.TemporaryFile() as spool:
        workbook.save(spool)
        spool.seek(0)
        while chunk := spool.read(XLSX_CHUNK_BYTES):
            yield chunk


def _styled(sheet, value, kind: str = "text", *, bold: bool = False):
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    cell = WriteOnlyCell(sheet, value)
    if kind in XLSX_FORMATS:
        cell.number_format = XLSX_FORMATS[kind]
    if bold:
        cell.font = Font(bold=True)
    return cell


def _sheet(workbook, title: str, columns: tuple[Column, ...]):
    """A write-only sheet with column widths, a bold header row and the panes frozen under it
    (widths and panes must be set before the first row is written)."""
    from openpyxl.utils import get_column_letter

    sheet = workbook.create_sheet(title=title[:31] or "Sheet")
    for index, column in enumerate(columns, 1):
        width = max(XLSX_WIDTHS[column.kind], _display_width(str(column.label)) + 2)
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.append([_styled(sheet, str(column.label), bold=True) for column in columns])
    return sheet


def _append_rows(sheet, columns: tuple[Column, ...], rows: Iterator[tuple], limit: int) -> _Totals:
    kinds = [column.kind for column in columns]
    # One styled cell per formatted column, reused: openpyxl writes each row out as it is appended.
    cells = [_styled(sheet, None, kind) if kind in XLSX_FORMATS else None for kind in kinds]
    totals = _Totals(columns)
    try:
        for count, row in enumerate(rows, 1):
            if count > limit:
                raise TooManyRows(limit)
            totals.add(row)
            line = []
            for kind, cell, value in zip(kinds, cells, row, strict=True):
                value = _xlsx_value(kind, value)
                if kind == "text" and value and value[0] == "=":
                    line.append(_text_cell(sheet, value))
                elif cell is None or value is None:
                    line.append(value)
                else:
                    cell.value = value
                    line.append(cell)
            sheet.append(line)
    except BaseException:
        # Stopped early: let the rows release their cursor now, and delete the sheet's spool file
        # (openpyxl deletes it only when the workbook is saved).
        if hasattr(rows, "close"):
            rows.close()
        sheet.close()
        sheet._writer.cleanup()
        raise
    return totals

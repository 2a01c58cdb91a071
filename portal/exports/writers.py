"""Turning rows into CSV or XLSX bytes, incrementally. Pure Python: no Flask, no database.

A report is a tuple of `Column`s and an iterator of row tuples holding plain values: integer fen for
money, integer millilitres for volumes, aware datetimes, strings and ints. Money and litres are
written as exact decimal text in CSV and as `Decimal` in XLSX; never through a float.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from portal.clock import to_local
from portal.money import format_fen_plain, format_litres_plain

KINDS = ("text", "int", "money", "litres", "datetime", "date")
BOM = "\ufeff"
#: Rows gathered before a chunk is sent: big enough for few syscalls, small enough to stay flat.
CSV_ROWS_PER_CHUNK = 500
XLSX_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = "text"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")


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
    """A cell starting with = + - @ would run as a formula in Excel (CSV injection): quote it. Only
    text columns are touched; negative amounts stay numbers."""
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


def _xlsx_value(kind: str, value):
    if value is None:
        return None
    if kind == "money":
        return Decimal(value).scaleb(-2)
    if kind == "litres":
        return Decimal(value).scaleb(-3)
    if kind == "datetime":
        # Excel has no time zones: write the Beijing wall-clock time the pages show.
        return to_local(value).replace(tzinfo=None)
    if kind == "text":
        return _formula_safe(str(value))
    return value


def xlsx_chunks(columns: tuple[Column, ...], rows: Iterable[tuple], *, title: str = "Sheet") -> Iterator[bytes]:
    """Rows go to openpyxl's write-only sheet (which spools them to a temporary file, not memory);
    the finished workbook is then sent from disk in chunks."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31] or "Sheet")
    sheet.append([str(column.label) for column in columns])
    kinds = [column.kind for column in columns]
    for row in rows:
        sheet.append([_xlsx_value(kind, value) for kind, value in zip(kinds, row, strict=True)])
    with tempfile.TemporaryFile() as spool:
        workbook.save(spool)
        spool.seek(0)
        while chunk := spool.read(XLSX_CHUNK_BYTES):
            yield chunk

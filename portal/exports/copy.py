"""CSV straight from PostgreSQL: `COPY (SELECT ...) TO STDOUT (FORMAT csv)`, streamed.

The SELECT does the formatting (local time, exact decimals, labels, names, formula protection), so
Python only relays bytes: one CopyData message per row. The bytes are exactly what `csv_chunks`
writes for the same rows (UTF-8 BOM, header, CRLF, minimal quoting), given a SELECT that follows
the rules below; a test compares the two byte for byte.

Rules for the SELECT: every column is text; an empty cell is NULL (COPY would write an empty
string as `""`, Python's csv writer writes nothing); text cells go through `formula_safe`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import Text, case, cast, func, literal, null
from sqlalchemy.orm import Session

from portal.exports.writers import BOM, Column, _formula_safe
from portal.sql_clock import BUSINESS_UTC_OFFSET_HOURS

#: Bytes gathered before a chunk is sent (COPY sends one small message per row).
CHUNK_BYTES = 64 * 1024


def available(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def formula_safe(text):
    """SQL twin of `writers._formula_safe`, and NULL for an empty cell."""
    quoted = case((func.left(text, 1).in_(["=", "+", "-", "@", "\t", "\r"]), literal("'") + text), else_=text)
    return func.nullif(quoted, "")


def labelled(column, table: dict):
    """SQL twin of `labels.label`: the translated label of a code, or the code itself."""
    if not table:
        return column
    return case(*((column == code, literal(str(text))) for code, text in table.items()), else_=column)


def _scaled(column, scale: int, digits: int):
    whole = func.abs(column) // scale
    part = func.lpad(cast(func.abs(column) % scale, Text()), digits, "0")
    sign = case((column < 0, "-"), else_="")
    return sign + cast(whole, Text()) + "." + part


def money(column):
    """SQL twin of `money.format_fen_plain`: integer fen as exact yuan text, NULL stays empty."""
    return case((column.is_(None), null()), else_=_scaled(column, 100, 2))


def litres(column):
    """SQL twin of `money.format_litres_plain`: millilitres as litres, half up to 0.01, no "-0.00"."""
    hundredths = (func.abs(column) + 5) // 10
    sign = case((hundredths == 0, ""), (column < 0, "-"), else_="")
    text = sign + cast(hundredths // 100, Text()) + "." + func.lpad(cast(hundredths % 100, Text()), 2, "0")
    return case((column.is_(None), null()), else_=text)


def local_time(column):
    """Beijing wall-clock time of a naive-UTC column, as `writers` prints datetimes."""
    shifted = column + func.make_interval(0, 0, 0, 0, BUSINESS_UTC_OFFSET_HOURS)
    return func.to_char(shifted, "YYYY-MM-DD HH24:MI:SS")


def integer(column):
    return cast(column, Text())


def _naive_utc(value):
    """Parameters are bound by psycopg on the client: give timestamps as the columns store them."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def copy_statement(session: Session, query) -> tuple[str, dict]:
    """The SELECT a COPY export runs, as psycopg takes it: its text and its parameters."""
    compiled = query.compile(dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True})
    return str(compiled), {name: _naive_utc(value) for name, value in compiled.params.items()}


def csv_chunks(session: Session, columns: tuple[Column, ...], query) -> Iterator[bytes]:
    """The BOM and header as `writers.csv_chunks` writes them, then the rows from COPY."""
    head = io.StringIO()
    head.write(BOM)
    csv.writer(head, lineterminator="\r\n").writerow([_formula_safe(str(column.label)) for column in columns])
    yield head.getvalue().encode("utf-8")

    select, params = copy_statement(session, query)
    raw = session.connection().connection.driver_connection
    pending: list[bytes] = []
    size = 0
    with raw.cursor() as cursor, cursor.copy(f"COPY ({select}) TO STDOUT (FORMAT csv)", params) as copy:
        for row in copy:
            # One message per row, ending in "\n" (COPY's line ending); quoted newlines inside
            # a field stay as they are, like Python's csv writer leaves them.
            line = bytes(row)
            pending.append(line[:-1] + b"\r\n")
            size += len(line) + 1
            if size >= CHUNK_BYTES:
                yield b"".join(pending)
                pending, size = [], 0
    if pending:
        yield b"".join(pending)

"""Many rows at once, set-based: `INSERT INTO t (...) SELECT ... FROM generate_series(...)` (PostgreSQL).

For tests that need tables the size a planner takes seriously (tests/integration/test_explain.py):
100,000 rows in a second or two, where the builders would take minutes. Columns not given take
their model default (or NULL), so a row is valid without naming every column.
"""

from __future__ import annotations

from sqlalchemy import Connection, Table, bindparam, text


def insert_series(conn: Connection, table: Table, count: int, values: dict[str, str], **params) -> None:
    """Insert `count` rows into `table`, one per `i` in 0..count-1: `values` maps a column to a SQL
    expression of `i` (and of `:params`); NOT NULL columns left out take their model default."""
    columns, expressions, binds = [], [], []
    for column in table.columns:
        if column.name in values:
            columns.append(column.name)
            expressions.append(values[column.name])
        elif not column.nullable and column.default is not None and not column.primary_key:
            default = column.default.arg(None) if column.default.is_callable else column.default.arg
            columns.append(column.name)
            expressions.append(f":default_{column.name}")
            binds.append(bindparam(f"default_{column.name}", default, type_=column.type))
    unknown = set(values) - set(columns)
    if unknown:
        raise ValueError(f"{table.name} has no column {', '.join(sorted(unknown))}")
    statement = text(
        f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608  (names from the models)
        f"SELECT {', '.join(expressions)} FROM generate_series(0, :count - 1) AS g(i)"
    ).bindparams(*binds)
    conn.execute(statement, {"count": count, **params})

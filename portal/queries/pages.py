"""Keyset pages: the shape every list shares and the "rows after this key" condition."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select, tuple_

from portal.queries.cursor import Key


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    #: Key of the last row when more rows follow, else None.
    next_key: Key | None
    totals: dict[str, int] = field(default_factory=dict)
    #: Two-phase loads of the filter by state (waiting, loaded, cancelled, expired): (count, amount).
    states: dict[str, tuple[int, int]] = field(default_factory=dict)


def after(at_column, id_column, key: Key | None, order: str):
    """Rows strictly after `key` in (at, id) order, newest first for "desc". A row-value comparison
    (PostgreSQL and SQLite >= 3.15 both have them) plus a plain bound on `at`, so the planner starts
    the index range at the key instead of filtering every row before it."""
    if key is None:
        return None
    if order == "desc":
        return and_(at_column <= key.at, tuple_(at_column, id_column) < tuple_(key.at, key.id))
    return and_(at_column >= key.at, tuple_(at_column, id_column) > tuple_(key.at, key.id))


def ordering(at_column, id_column, order: str) -> tuple:
    if order == "desc":
        return at_column.desc(), id_column.desc()
    return at_column.asc(), id_column.asc()


def page_of(rows: list, limit: int, key_of) -> tuple[list, Key | None]:
    """Split the `limit + 1` rows fetched into the page and the next key (None on the last page)."""
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, key_of(rows[-1])
    return rows, None


@dataclass(frozen=True)
class NumberedPage:
    """Page `number` (from 1) of a short list ordered by something other than time, such as a
    customer's cards by number: a few thousand rows at most, so slicing the list is enough."""

    rows: list[Any]
    number: int
    pages: int
    total: int
    size: int

    @property
    def first(self) -> int:
        """Position (from 1) of the page's first row in the whole list; 0 for an empty list."""
        return (self.number - 1) * self.size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def numbered(items: list, page: object, size: int) -> NumberedPage:
    """Page `page` of `items`; a missing, malformed or out-of-range page number gives the nearest page."""
    try:
        number = int(str(page))
    except ValueError:
        number = 1
    pages = max(1, -(-len(items) // size))
    number = min(max(number, 1), pages)
    return NumberedPage(items[(number - 1) * size : number * size], number, pages, len(items), size)


def numbered_rows(session, stmt, page: object, size: int) -> NumberedPage:
    """Like `numbered`, but counted and sliced by the database: for an ordered select of
    thousands of rows (a page of 50 cards must not load 2,000)."""
    total = int(session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0)
    pages = max(1, -(-total // size))
    try:
        number = min(max(int(str(page)), 1), pages)
    except ValueError:
        number = 1
    rows = list(session.scalars(stmt.limit(size).offset((number - 1) * size)))
    return NumberedPage(rows, number, pages, total, size)

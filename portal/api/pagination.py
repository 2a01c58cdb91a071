"""Cursor pagination for API lists: `?limit=` (default 50, at most 200) and `?cursor=` (opaque).

Every list answers `{"data": [...], "next_cursor": "..." | null}`; the client passes
`next_cursor` back as `cursor` until it is null. The cursor is the signed key of the last row
(portal.queries.cursor): keyset pagination, so page 1,000 costs what page 1 costs, and a cursor
cannot be forged or carried to another list (400 `bad_cursor`).

A list's query model extends `PageQuery`; its view calls `keyset_page`:

    class CardQuery(PageQuery):
        status: Literal["active", "lost", "closed"] | None = None

    class CardList(BaseModel):  # the envelope: one class per list (a generic's name is no valid $ref)
        data: list[CardOut]
        next_cursor: str | None = NEXT_CURSOR

    page = keyset_page(db.session, stmt, query, report="api.cards",
                       key=lambda card: Key(EPOCH, card.number), after=lambda key: Card.number > key.id)
    return CardList(data=[...page.rows...], next_cursor=page.next_cursor)

`stmt` must be ordered by the key; `after(key)` is the condition "comes after this key" in that order.
For lists in time order (newest first) the key is `Key(row.at, row.id)` and `after` is
`tuple_(Model.at, Model.id) < (key.at, key.id)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select
from sqlalchemy.orm import Session

from portal.api.problems import ApiProblem
from portal.queries.cursor import BadCursor, Key, decode_cursor, encode_cursor

DEFAULT_LIMIT, MAX_LIMIT = 50, 200
#: The time part of a key for lists not in time order.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class QueryModel(BaseModel):
    """The base of every API query model: an unknown parameter is 422, not silently ignored (a
    misspelt filter would otherwise answer everything). `api_endpoint` also refuses unknown
    parameters of a model that forgot this, and any parameter of an endpoint that takes none."""

    model_config = ConfigDict(extra="forbid")


class PageQuery(QueryModel):
    """The paging parameters every list takes."""

    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="rows per page")
    cursor: str | None = Field(None, max_length=512, description="next_cursor of the previous page")


#: The envelope's `next_cursor` field; a list's model is `data: list[ItemModel]` plus this.
NEXT_CURSOR = Field(description="pass as `cursor` for the next page; null on the last page")


@dataclass(frozen=True)
class Rows:
    rows: list[Any]
    next_cursor: str | None


def keyset_page(
    session: Session,
    stmt: Select,
    query: PageQuery,
    *,
    report: str,
    key: Callable[[Any], Key],
    after: Callable[[Key], Any],
    scalars: bool = True,
) -> Rows:
    """One page of `stmt` after `query.cursor`, and the cursor of the next page (None on the last)."""
    start = cursor_key(query, report=report)
    if start is not None:
        stmt = stmt.where(after(start))
    stmt = stmt.limit(query.limit + 1)
    rows = list(session.scalars(stmt) if scalars else session.execute(stmt))
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    return Rows(rows, cursor_of(key(rows[-1]), report=report) if more and rows else None)


def cursor_key(query: PageQuery, *, report: str) -> Key | None:
    """The key `query.cursor` carries, for a service that pages by key itself (loads, alerts...);
    None on the first page, 400 `bad_cursor` for a cursor of another list or a forged one."""
    if not query.cursor:
        return None
    try:
        return decode_cursor(query.cursor, secret=current_app.config["SECRET_KEY"], report=report)
    except BadCursor:
        raise ApiProblem(400, "bad_cursor", "this cursor was not made for this list") from None


def cursor_of(key: Key | None, *, report: str) -> str | None:
    """The `next_cursor` for a service's next key (None on the last page)."""
    return encode_cursor(key, secret=current_app.config["SECRET_KEY"], report=report) if key is not None else None

"""Opaque, tamper-proof keyset cursors: the (time, id) of the last row shown, signed.

Keyset pagination reads "rows after this key" through an index instead of skipping OFFSET rows, so
page 10,000 costs what page 1 costs. The key is signed with the app's secret (and the report's
name as salt): a client can carry it around but not forge one, and a cursor from one report is
refused by another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from itsdangerous import BadSignature, URLSafeSerializer


class BadCursor(ValueError):
    """The cursor was not made by this app for this report."""


@dataclass(frozen=True)
class Key:
    at: datetime
    #: Purchase ids are integers; ledger transfer ids are strings.
    id: int | str
    #: The filter's totals as computed for the first page, carried along (signed) so that page
    #: 10,000 does not aggregate the whole range again. None: compute them.
    totals: tuple[int, ...] | None = None


def _serializer(secret: str, report: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=f"queries.cursor.{report}")


def encode_cursor(key: Key, *, secret: str, report: str) -> str:
    micros = int(key.at.timestamp()) * 1_000_000 + key.at.microsecond
    return _serializer(secret, report).dumps([micros, key.id, list(key.totals) if key.totals is not None else None])


def decode_cursor(token: str, *, secret: str, report: str) -> Key:
    try:
        micros, id_, totals = _serializer(secret, report).loads(token)
    except (BadSignature, ValueError, TypeError):
        raise BadCursor("not a cursor of this report") from None
    if not isinstance(micros, int) or isinstance(micros, bool) or not isinstance(id_, int | str):
        raise BadCursor("malformed cursor")
    if totals is not None and not (isinstance(totals, list) and all(type(v) is int for v in totals)):
        raise BadCursor("malformed cursor")
    try:
        at = datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)
    except (OverflowError, OSError, ValueError):
        raise BadCursor("malformed cursor") from None
    return Key(at, id_, tuple(totals) if totals is not None else None)

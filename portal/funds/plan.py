"""Turning what an admin typed or uploaded into a checked list of (card, amount): pure Python.

Every problem is collected (not just the first) with the line it is on, so a 500-line CSV is fixed
in one go. Nothing here touches the database: callers pass the customer's cards and balances in.
`card_refusal` is the one rule on a card's status (lost or closed cards get no allocation), used
by the services and the allocation page too.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from portal.cards.numbers import normalise
from portal.money import AmountError, parse_amount

#: Most lines one allocation or collection may have.
MAX_LINES = 5000
#: Largest CSV accepted, in bytes.
MAX_CSV_BYTES = 1_000_000
#: Accepted header rows (compared lower-cased, spaces trimmed).
CSV_HEADERS = {("card_number", "amount"), ("card number", "amount"), ("卡号", "金额")}


@dataclass(frozen=True)
class CardInfo:
    """A card of the acting customer, with the balances the rules need (fen)."""

    id: int
    number: str
    role: str
    status: str
    reserve: int = 0
    reserve_available: int = 0


@dataclass(frozen=True)
class RawLine:
    """One requested line as entered: `line_no` is the CSV line (header is line 1) or the row number."""

    line_no: int
    card_number: str
    amount_text: str


@dataclass(frozen=True)
class LineError:
    #: None for errors about the whole request (total above the unit balance, empty file...).
    line_no: int | None
    code: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PlannedLine:
    line_no: int
    card: CardInfo
    amount: int


class PlanRejected(Exception):
    """The request has problems; nothing may be applied."""

    def __init__(self, errors: list[LineError]):
        super().__init__(f"{len(errors)} problem(s)")
        self.errors = errors


def read_csv(data: bytes) -> list[RawLine]:
    """Lines of an uploaded `card_number,amount` file. UTF-8 (with or without BOM) or GB18030, the
    encoding Excel uses on Chinese Windows. Raises PlanRejected for an unusable file."""
    if len(data) > MAX_CSV_BYTES:
        raise PlanRejected([LineError(None, "file_too_large", {"max_bytes": MAX_CSV_BYTES})])
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise PlanRejected([LineError(None, "bad_encoding")])
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error:
        raise PlanRejected([LineError(None, "bad_csv")]) from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise PlanRejected([LineError(1, "missing_header")])
    header = tuple(cell.strip().lower() for cell in _trim(rows[0]))
    if header not in CSV_HEADERS:
        raise PlanRejected([LineError(1, "bad_header", {"found": ",".join(header)[:80]})])
    lines, errors = [], []
    for line_no, row in enumerate(rows[1:], start=2):
        row = _trim(row)
        if not row:
            continue  # blank line
        if len(row) != 2:
            errors.append(LineError(line_no, "bad_columns", {"count": len(row)}))
            continue
        lines.append(RawLine(line_no, row[0], row[1]))
    if len(lines) > MAX_LINES:
        raise PlanRejected([LineError(None, "too_many_lines", {"max": MAX_LINES})])
    if errors:
        raise PlanRejected(errors)
    return lines


def _trim(row: list[str]) -> list[str]:
    """Drop empty trailing cells (spreadsheets add them)."""
    while row and not row[-1].strip():
        row = row[:-1]
    return row


def plan(
    raw: list[RawLine],
    cards: dict[str, CardInfo],
    *,
    kind: str,
    unit_available: int,
    skip_blank: bool = False,
    max_fen: int | None = None,
) -> list[PlannedLine]:
    """Check every line against the customer's `cards` (by number); return the planned lines.

    allocation: lost or closed cards refused (`card_refusal`), total must fit the unit account's
    available balance. collection: closed cards refused, each amount must fit that card's available
    reserve. `skip_blank` (the page's amount fields): blank or zero means "not this card".
    """
    assert kind in ("allocation", "collection")
    errors: list[LineError] = []
    planned: list[PlannedLine] = []
    seen: dict[str, int] = {}
    if len(raw) > MAX_LINES:
        raise PlanRejected([LineError(None, "too_many_lines", {"max": MAX_LINES})])
    for line in raw:
        text = line.amount_text.strip()
        if skip_blank and text in ("", "0", "0.0", "0.00"):
            continue
        number = normalise(line.card_number)
        card = cards.get(number)
        problem = _card_problem(card, kind)
        if problem:
            errors.append(LineError(line.line_no, problem, {"card": number[:19]}))
            continue
        if number in seen:
            errors.append(LineError(line.line_no, "duplicate_card", {"card": number, "first_line": seen[number]}))
            continue
        seen[number] = line.line_no
        try:
            amount = parse_amount(text, **({"max_fen": max_fen} if max_fen else {}))
        except AmountError as exc:
            errors.append(LineError(line.line_no, "amount_" + exc.code, {"card": number, **exc.params}))
            continue
        if kind == "collection" and amount > card.reserve_available:
            errors.append(
                LineError(line.line_no, "above_reserve", {"card": number, "available": card.reserve_available})
            )
            continue
        planned.append(PlannedLine(line.line_no, card, amount))
    if not errors and not planned:
        errors.append(LineError(None, "nothing"))
    total = sum(p.amount for p in planned)
    if not errors and kind == "allocation" and total > unit_available:
        errors.append(LineError(None, "above_unit_balance", {"total": total, "available": unit_available}))
    if errors:
        raise PlanRejected(errors)
    return planned


def _card_problem(card: CardInfo | None, kind: str) -> str | None:
    if card is None:
        return "unknown_card"  # also for other customers' cards: never confirm they exist
    if card.role != "sub":
        return "not_sub_card"
    return card_refusal(card.status, kind)


def card_refusal(status: str, kind: str) -> str | None:
    """The one rule on a card's status: lost or closed cards get no allocation, and closed cards
    give no collection (a lost card's reserve may come home). The error code, or None if it may."""
    if status == "closed":
        return "card_closed"
    if status == "lost" and kind == "allocation":
        return "card_lost"
    return None


def split_equally(total: int, card_ids: list[int]) -> dict[int, int]:
    """`total` fen over the cards: equal shares, the leftover fen one each to the first cards."""
    if not card_ids or total <= 0:
        return {}
    share, leftover = divmod(total, len(card_ids))
    amounts = {card_id: share + (1 if i < leftover else 0) for i, card_id in enumerate(card_ids)}
    return {card_id: amount for card_id, amount in amounts.items() if amount > 0}


def top_up_to(target: int, reserves: dict[int, int]) -> dict[int, int]:
    """What each card needs so its reserve reaches `target` fen (cards already there get nothing)."""
    return {card_id: target - reserve for card_id, reserve in reserves.items() if reserve < target}

"""Helpers of the tie-out test (test_tie_out.py): the books recomputed from the ledger journal, and
the figures read back from what a user sees (rendered pages, CSV and XLSX downloads).

`Books` never calls the portal's queries: it reads the ledger tables (accounts and transfers) once
and sums the postings itself. The parsers only know how figures are written: "¥1,234.56" and
"-¥0.05" for money, "12,345" for points and counts, "45.13 L" for litres.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace

from sqlalchemy import text

# --- reading figures ----------------------------------------------------------------------------

_MONEY = re.compile(r"(-?)¥([\d,]+)\.(\d{2})")
_NUMBER = re.compile(r"-?[\d,]+")
_LITRES = re.compile(r"(-?)([\d,]+)\.(\d{2}) L")


def fen(cell: str) -> int:
    """'¥1,234.56' -> 123456, '-¥0.05' -> -5."""
    match = _MONEY.search(cell)
    assert match, f"no amount in {cell!r}"
    sign, yuan, cents = match.groups()
    value = int(yuan.replace(",", "")) * 100 + int(cents)
    return -value if sign else value


def number(cell: str) -> int:
    """'12,345' -> 12345, '-20' -> -20 (points and counts)."""
    match = _NUMBER.search(cell.replace("+", ""))
    assert match, f"no number in {cell!r}"
    return int(match.group().replace(",", ""))


def hundredths_of_litre(cell: str) -> int:
    """'1,045.13 L' -> 104513."""
    match = _LITRES.search(cell)
    assert match, f"no litres in {cell!r}"
    sign, whole, part = match.groups()
    value = int(whole.replace(",", "")) * 100 + int(part)
    return -value if sign else value


def by_testid(html: str, testid: str) -> str:
    """The text of the element marked data-testid="testid" (a leaf: no markup inside)."""
    match = re.search(rf'data-testid="{testid}"[^>]*>([^<]*)<', html)
    assert match, f"no {testid} on the page"
    return match.group(1).strip()


def section(html: str, testid: str) -> str:
    """The markup from data-testid="testid" to the end of its element (sections, tables, rows)."""
    start = html.index(f'data-testid="{testid}"')
    tag = html.rfind("<", 0, start)
    name = re.match(r"<(\w+)", html[tag:]).group(1)
    depth, index = 0, tag
    for match in re.finditer(rf"<(/?){name}\b", html[tag:]):
        depth += -1 if match.group(1) else 1
        if depth == 0:
            index = tag + match.end()
            break
    return html[tag:index]


def cells(markup: str, tag: str = "td") -> list[str]:
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(rf"<{tag}\b[^>]*>(.*?)</{tag}>", markup, re.S)]


def total_row(html: str) -> list[str]:
    """The cells of a table's totals row (<tr data-testid="total">), after its heading."""
    return cells(section(html, "total"))


def tiles(html: str, testid: str = "totals") -> list[tuple[str, str]]:
    """(figure, label) of every tile in a section, in order."""
    found = re.findall(
        r'<span class="tile-figure"[^>]*>([^<]*)</span><span class="tile-label">([^<]*)</span>',
        section(html, testid),
    )
    return [(figure.strip(), " ".join(label.split())) for figure, label in found]


def counted_tiles(html: str) -> dict[str, tuple[int, int]]:
    """'{label}' -> (count, figure) of the "label × count" tiles (journal totals)."""
    result = {}
    for figure, label in tiles(html):
        if " × " in label:
            name, count = label.rsplit(" × ", 1)
            result[name] = (number(count), fen(figure) if "¥" in figure else number(figure))
    return result


def csv_rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))[1:]


def xlsx_rows(body: bytes) -> list[list[object]]:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
    rows = [list(row) for row in sheet.iter_rows(min_row=2, values_only=True)]
    if rows and rows[-1][0] in TOTAL_LABELS:  # the totals row must add up to the rows above it
        totals, rows = rows[-1], rows[:-1]
        for column, total in enumerate(totals[1:], start=1):
            if isinstance(total, int | float):
                assert xlsx_sum(rows, column) == xlsx_sum([[None] * column + [total]], column), (
                    f"XLSX totals row, column {column}: {total} is not the sum of the rows"
                )
    return rows


#: The first cell of an XLSX export's totals row, in each language.
TOTAL_LABELS = ("合计", "Total")


def csv_number(cell: str, scale: int = 100) -> int | None:
    """A CSV cell of an exact decimal ("12.34", "-0.50") in 1/scale units; None if blank."""
    return int(Decimal(cell) * scale) if cell else None


def xlsx_number(cell, scale: int = 100) -> int | None:
    """An XLSX number cell in 1/scale units (rounded: cells come back as floats); None if empty."""
    return int((Decimal(repr(cell)) * scale).to_integral_value()) if cell is not None else None


def average_price(amount_fen: int, litres_hundredths: int) -> int | None:
    """Fen per litre, half up, as the statistics define it (amount / litres); None without litres."""
    ml = litres_hundredths * 10
    return (amount_fen * 1000 * 2 + ml) // (ml * 2) if ml > 0 else None


def csv_sum(rows: list[list[str]], column: int, scale: int = 100) -> int:
    """Sum of a CSV column of exact decimals ("12.34", "-0.50") in 1/scale units."""
    return sum(int(Decimal(row[column] or "0") * scale) for row in rows)


def xlsx_sum(rows: list[list[object]], column: int, scale: int = 100) -> int:
    """Sum of an XLSX number column in 1/scale units (cells come back as numbers: round each)."""
    return sum(int((Decimal(repr(row[column] or 0)) * scale).to_integral_value()) for row in rows)


# --- the books, from the journal ----------------------------------------------------------------

POSTED = ("posted", "post_pending")
MONEY_CODES = ("deposit", "allocation", "collection", "load", "purchase", "refund", "replacement", "reversal")


@dataclass(frozen=True)
class Posting:
    id: str
    ledger: str
    debit: int
    credit: int
    amount: int
    code: str
    kind: str
    pending_id: str | None
    expires_at: datetime | None
    at: datetime


class Books:
    """The ledger journal and accounts as plain rows, and every figure summed from them."""

    def __init__(self, session):
        def utc(value):
            if isinstance(value, str):
                value = datetime.fromisoformat(value)
            return value.replace(tzinfo=None) if value is not None else None

        self.transfers = [
            Posting(
                r.id,
                r.ledger,
                r.debit_account_id,
                r.credit_account_id,
                r.amount,
                r.code,
                r.kind,
                r.pending_id,
                utc(r.expires_at),
                utc(r.created_at),
            )  # fmt: skip
            for r in session.execute(text("SELECT * FROM ledger_transfers ORDER BY created_at, id"))
        ]
        self.accounts = {r.id: r for r in session.execute(text("SELECT * FROM ledger_accounts"))}
        self.cards = {r.id: r for r in session.execute(text("SELECT id, role, driver_id FROM cards"))}
        self.resolution = {t.pending_id: t for t in self.transfers if t.pending_id}
        self.purchases = [
            SimpleNamespace(card_id=r.card_id, kind=r.kind, status=r.status, litres_ml=r.litres_ml, at=utc(r.at))
            for r in session.execute(text("SELECT card_id, kind, status, litres_ml, at FROM purchases"))
        ]

    def accounts_of(self, customer_id: int, kinds, card_ids=None, *, sub_cards_only=False) -> set[int]:
        """Account ids of a customer's `kinds`; only those of `card_ids` when given (a driver)."""
        found = set()
        for a in self.accounts.values():
            if a.customer_id != customer_id or a.kind not in kinds:
                continue
            if card_ids is not None and a.card_id not in card_ids:
                continue
            if sub_cards_only and (a.card_id is None or self.cards[a.card_id].role != "sub"):
                continue
            found.add(a.id)
        return found

    def balance(self, ids: set[int], before: datetime | None = None) -> int:
        """Posted credits minus debits of the accounts (before an instant, naive UTC)."""
        total = 0
        for t in self.transfers:
            if t.kind in POSTED and (before is None or t.at < before):
                total += t.amount * ((t.credit in ids) - (t.debit in ids))
        return total

    def held(self, ids: set[int]) -> int:
        """Pending debits not yet resolved (loads waiting for their chip write)."""
        return sum(
            t.amount for t in self.transfers if t.kind == "pending" and t.debit in ids and t.id not in self.resolution
        )

    def flows(self, ids: set[int], codes, start=None, end=None, *, kinds=POSTED) -> list[Posting]:
        return [
            t
            for t in self.transfers
            if t.code in codes
            and t.kind in kinds
            and (t.debit in ids or t.credit in ids)
            and (start is None or t.at >= start)
            and (end is None or t.at < end)
        ]

    def signed(self, ids: set[int], transfers) -> int:
        return sum(t.amount * ((t.credit in ids) - (t.debit in ids)) for t in transfers)

    def sales(self, purses: set[int], start=None, end=None) -> tuple[int, int, int]:
        """(rows, purchases, net amount) of purchases and refunds on these purses."""
        moved = self.flows(purses, ("purchase", "refund"), start, end)
        return len(moved), sum(t.code == "purchase" for t in moved), -self.signed(purses, moved)

    def movements(self, ids: set[int], codes, start=None, end=None) -> Counter:
        """(count, amount) per code of the movements a user sees: one per posted row or load
        request; the rows that resolve a load are not movements of their own."""
        totals: Counter = Counter()
        for t in self.flows(ids, codes, start, end, kinds=("posted", "pending")):
            totals[(t.code, "count")] += 1
            totals[(t.code, "amount")] += t.amount
        return totals

    def state(self, t: Posting) -> str:
        """A movement's state: posted, or a load request's (waiting, loaded, cancelled, expired)."""
        if t.kind != "pending":
            return "posted"
        resolved = self.resolution.get(t.id)
        if resolved is None:
            return "waiting"
        if resolved.kind == "post_pending":
            return "loaded"
        return "expired" if resolved.at >= t.expires_at else "cancelled"

    def litres(self, card_ids: set[int], start=None, end=None) -> int:
        """Net litres (hundredths) of the approved purchases less refunds of these cards, rounded
        once (half up); the ledger knows no litres, so they are read from the purchase rows."""
        ml = sum(
            p.litres_ml * (1 if p.kind == "purchase" else -1)
            for p in self.purchases
            if p.status == "approved" and p.card_id in card_ids and (start is None or p.at >= start)
            and (end is None or p.at < end)
        )  # fmt: skip
        return int((Decimal(ml) / 10).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def load_states(self, ids: set[int], start=None, end=None) -> Counter:
        """(count, amount) per state of the load requests on these accounts (requested in the range)."""
        totals: Counter = Counter()
        for t in self.flows(ids, ("load",), start, end, kinds=("pending",)):
            state = self.state(t)
            totals[(state, "count")] += 1
            totals[(state, "amount")] += t.amount
        return totals

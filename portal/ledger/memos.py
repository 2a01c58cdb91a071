"""Structured memos: what a transfer is about, as data, never as a sentence in one language.

A memo is stored as compact JSON of a few named fields (`{"batch": "86f6...", "reason": "expired"}`);
the web layer (`portal.queries.labels.describe_transfer`) turns the transfer's code, kind and these
fields into text in the reader's language. Older rows hold English sentences; `parse` returns None
for them and the web layer reads them through its legacy patterns.
"""

from __future__ import annotations

import json

from portal.ledger.rules import MAX_MEMO_LENGTH

#: Field values a memo may hold: short text or whole numbers (ids, fen, points).
Value = str | int


def structured(**fields: Value | None) -> str:
    """The memo for these fields (None values left out), at most MAX_MEMO_LENGTH characters."""
    data = {name: value for name, value in sorted(fields.items()) if value is not None}
    for name, value in data.items():
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise TypeError(f"memo field {name} must be text or an integer, not {type(value).__name__}")
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    if len(text) > MAX_MEMO_LENGTH:
        raise ValueError(f"memo fields take more than {MAX_MEMO_LENGTH} characters")
    return text


def parse(memo: str | None) -> dict[str, Value] | None:
    """The fields of a structured memo; None for an empty, free-text or legacy memo."""
    if not memo or not memo.startswith("{"):
        return None
    try:
        data = json.loads(memo)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return {str(k): v for k, v in data.items() if isinstance(v, str | int) and not isinstance(v, bool)}

"""How the API writes values: times in ISO 8601 with the business offset (Asia/Shanghai, +08:00),
dates as YYYY-MM-DD, money as integer fen in fields named `*_fen`, points as integers.

Response models declare `Time` for a time: `created_at: Time`; views pass `local_time(row.at)`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, Field

from portal.clock import BUSINESS_TZ

#: A time as the API writes it: ISO 8601 with its offset, e.g. "2026-12-07T18:30:00+08:00".
Time = Annotated[AwareDatetime, Field(examples=["2026-12-07T18:30:00+08:00"])]
#: Money: an integer number of fen (1 yuan = 100 fen).
Fen = Annotated[int, Field(description="integer fen (1 yuan = 100 fen)")]


def local_time(at: datetime | None) -> datetime | None:
    """A stored UTC time in Asia/Shanghai (None stays None)."""
    return at.astimezone(BUSINESS_TZ) if at is not None else None

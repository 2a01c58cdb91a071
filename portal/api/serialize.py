"""How the API writes values: times in ISO 8601 with the business offset (Asia/Shanghai, +08:00),
dates as YYYY-MM-DD, money as integer fen in fields named `*_fen`, points as integers.

Response models declare `Time` for a time: `created_at: Time`; views pass `local_time(row.at)`.
Request bodies declare money as `Fen` and counts/quantities as `Count` (strict integers: JSON
numbers like 1e3 or 100.0 and strings are 422, pydantic's lax mode would accept them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, Field, StrictInt

from portal.clock import BUSINESS_TZ

#: A time as the API writes it: ISO 8601 with its offset, e.g. "2026-12-07T18:30:00+08:00".
Time = Annotated[AwareDatetime, Field(examples=["2026-12-07T18:30:00+08:00"])]
#: Money: an integer number of fen (1 yuan = 100 fen). Strict, the one money type of requests and
#: answers: 1e3, 100.0 and "100" are refused (422), never rounded or coerced.
Fen = Annotated[StrictInt, Field(description="integer fen (1 yuan = 100 fen)")]
#: A count or a quantity in whole units (purchases, millilitres, points) in a body: strict as Fen.
Count = Annotated[StrictInt, Field(description="a whole number")]


def local_time(at: datetime | None) -> datetime | None:
    """A stored UTC time in Asia/Shanghai (None stays None)."""
    return at.astimezone(BUSINESS_TZ) if at is not None else None

"""Business-day and business-month buckets in SQL, the same text on SQLite and PostgreSQL (what
`portal.clock` computes in Python). The statistics group by them, the purchase rollup keys on them
and exports format times with them.

Times are stored as naive UTC. Asia/Shanghai has had no daylight saving since 1991, so its local
time is always UTC+8: adding eight hours before truncating gives the business day exactly, with
plain arithmetic both databases index-scan happily (no per-row time-zone database lookups). If
the business time zone ever became one with DST, these two functions are the place to change.
"""

from __future__ import annotations

from sqlalchemy import Date, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

#: Hours to add to UTC to get Asia/Shanghai wall-clock time (no DST).
BUSINESS_UTC_OFFSET_HOURS = 8


class business_day(FunctionElement):
    """'YYYY-MM-DD' of the Asia/Shanghai day a UTC timestamp column falls on."""

    type = String()
    inherit_cache = True
    name = "business_day"


class business_month(FunctionElement):
    """'YYYY-MM' of the Asia/Shanghai month a UTC timestamp column falls on."""

    type = String()
    inherit_cache = True
    name = "business_month"


_SQLITE_FORMATS = {"business_day": "%Y-%m-%d", "business_month": "%Y-%m"}
_PG_FORMATS = {"business_day": "YYYY-MM-DD", "business_month": "YYYY-MM"}


@compiles(business_day, "sqlite")
@compiles(business_month, "sqlite")
def _sqlite(element, compiler, **kw):
    column = compiler.process(element.clauses, **kw)
    return f"strftime('{_SQLITE_FORMATS[element.name]}', {column}, '+{BUSINESS_UTC_OFFSET_HOURS} hours')"


@compiles(business_day, "postgresql")
@compiles(business_month, "postgresql")
def _postgresql(element, compiler, **kw):
    column = compiler.process(element.clauses, **kw)
    return f"to_char({column} + interval '{BUSINESS_UTC_OFFSET_HOURS} hours', '{_PG_FORMATS[element.name]}')"


class business_date(FunctionElement):
    """The Asia/Shanghai day (a DATE) a UTC timestamp column falls on."""

    type = Date()
    inherit_cache = True
    name = "business_date"


@compiles(business_date, "sqlite")
def _sqlite_date(element, compiler, **kw):
    column = compiler.process(element.clauses, **kw)
    return f"date({column}, '+{BUSINESS_UTC_OFFSET_HOURS} hours')"


@compiles(business_date, "postgresql")
def _postgresql_date(element, compiler, **kw):
    column = compiler.process(element.clauses, **kw)
    return f"CAST({column} + interval '{BUSINESS_UTC_OFFSET_HOURS} hours' AS DATE)"

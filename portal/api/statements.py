"""Statements (对账单) over the API: a month of the unit account, or of one card's reserve and chip
purse, as JSON or as the page's CSV / XLSX download.

- The figures are the statement page's (portal.queries.statements, computed from the ledger journal:
  opening + movements = closing, and this month's closing balance is the balance now).
- Downloads are the page's export (portal.queries.ledger_views.statement_download through
  portal.exports): the same columns and cells, streamed as the client reads them; an XLSX with too
  many rows is 422 `too_many_rows` (ask for the CSV, which has no limit).
- A streamed body must reach the client as a stream: spectree reads any response object a view
  returns in full (to validate it), so `streamed` hands the download past it (see below).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Literal

from flask import Response, g
from pydantic import BaseModel, Field

from portal.api import bp
from portal.api.auth import api_endpoint
from portal.api.pagination import QueryModel
from portal.api.problems import ApiProblem, Problem
from portal.api.serialize import Fen, Time, local_time
from portal.api.transactions import CARD_PATTERN, api_scope
from portal.extensions import db
from portal.queries import statements
from portal.queries.ledger_views import statement_download
from portal.queries.web import today
from portal.web.memos import describe_transfer

TAGS = ["statements"]


class StatementQuery(QueryModel):
    month: str | None = Field(
        None, pattern=r"^[0-9]{4}-[0-9]{2}$", description="YYYY-MM (Asia/Shanghai calendar month); default this month"
    )
    card: str | None = Field(None, pattern=CARD_PATTERN, description="a card's number: its reserve and chip purse")


class StatementLine(BaseModel):
    id: str = Field(description="the ledger transfer's id")
    at: Time
    type: str = Field(description="deposit, allocation, collection, load, purchase, refund, replacement, reversal")
    counterpart_kind: str = Field(description="the other account's kind (unit, reserve, purse, station_sales, ...)")
    counterpart_card_number: str | None
    signed_fen: int = Field(description="fen into (+) or out of (-) this account")
    balance_after_fen: int
    memo: str


class AccountStatementOut(BaseModel):
    account_kind: Literal["unit", "reserve", "purse"]
    card_number: str | None
    opening_fen: int
    money_in_fen: Fen
    money_out_fen: Fen
    closing_fen: int = Field(description="opening + in - out; this month's is the balance now")
    lines: list[StatementLine]


class StatementOut(BaseModel):
    month: str = Field(description="YYYY-MM")
    accounts: list[AccountStatementOut]


def _statement_request(query: StatementQuery):
    """The month (400 `bad_month`: not YYYY-MM, or in the future) and the card (404 `card_not_found`)."""
    month = statements.parse_month(query.month or today().strftime("%Y-%m"), today=today())
    card = query.card or ""
    return month, card, statements.statements(db.session, api_scope(), month, card)


@bp.get("/statements")
@api_endpoint("read", query=StatementQuery, resp={200: StatementOut, 400: Problem, 404: Problem}, tags=TAGS)
def get_statement(query: StatementQuery):
    """A month's statement: the unit account's, or a card's reserve and chip purse (the 对账单 page)."""
    month, _card, result = _statement_request(query)
    return StatementOut(
        month=month.strftime("%Y-%m"),
        accounts=[
            AccountStatementOut(
                account_kind=s.account.kind,
                card_number=s.card_number or None,
                opening_fen=s.opening,
                money_in_fen=s.money_in,
                money_out_fen=s.money_out,
                closing_fen=s.closing,
                lines=[
                    StatementLine(
                        id=line.transfer.id,
                        at=local_time(line.transfer.created_at),
                        type=line.transfer.code,
                        counterpart_kind=line.other_kind,
                        counterpart_card_number=line.other_card or None,
                        signed_fen=line.signed,
                        balance_after_fen=line.balance_after,
                        memo=describe_transfer(line.transfer),
                    )
                    for line in s.lines
                ],
            )  # fmt: skip
            for s in result
        ],
    )


# --- downloads ------------------------------------------------------------------------------------


def streamed(endpoint: Callable) -> Callable:
    """Outer half of a streamed download (above `api_endpoint`): answer with the download the inner
    half set aside, not the empty placeholder spectree saw."""

    @wraps(endpoint)
    def answer(*args, **kwargs):
        placeholder = endpoint(*args, **kwargs)
        return g.pop("api_download", None) or placeholder

    return answer


def set_aside(view: Callable) -> Callable:
    """Inner half (under `api_endpoint`): keep the view's streamed response and give spectree an empty
    one of the same status, so that no row is read before the client asks for it."""

    @wraps(view)
    def inner(*args, **kwargs):
        response = view(*args, **kwargs)
        g.api_download = response
        return Response(status=response.status_code)

    return inner


def _download(fmt: str, query: StatementQuery) -> Response:
    month, card, result = _statement_request(query)
    response = statement_download(fmt, month, card, result)
    if response.status_code == 422:  # exports.web's "too many rows for an XLSX" page
        raise ApiProblem(422, "too_many_rows", "too many rows for an XLSX file: download the CSV")
    return response


DOWNLOAD_ANSWERS = {200: None, 400: Problem, 404: Problem}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/statements/export.csv")
@streamed
@api_endpoint("read", query=StatementQuery, resp=DOWNLOAD_ANSWERS, tags=TAGS, produces={200: "text/csv"})
@set_aside
def export_statement_csv(query: StatementQuery):
    """The statement as the page's CSV download (text/csv, UTF-8 with a BOM), streamed."""
    return _download("csv", query)


@bp.get("/statements/export.xlsx")
@streamed
@api_endpoint("read", query=StatementQuery, resp=DOWNLOAD_ANSWERS, tags=TAGS, produces={200: XLSX})
@set_aside
def export_statement_xlsx(query: StatementQuery):
    """The statement as the page's XLSX download."""
    return _download("xlsx", query)

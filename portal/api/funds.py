"""Money over the API: balances, allocations and collections, deposits (read).

- `GET /balances`: the unit account and each sub-card's reserve, chip purse and loads waiting, a
  page of cards at a time (the chip load page's figures, portal.chips.host.card_money), filtered
  as the cards page (`q`, `status`).
- `POST /allocations` and `POST /collections`: a batch of lines `{card_number, amount_fen}` checked
  by the same rules as the funds pages (portal.funds.plan: unknown, lost or closed cards, duplicate
  lines, amounts, the unit balance, each card's available reserve; at most 5,000 lines), then
  posted as ONE ledger batch: all lines or none. The preview and the confirmation of the pages are
  one request here (the key holder is a machine); `Idempotency-Key` is required and the batch's id
  derives from it (portal.api.idempotency.service_key), so a copy posts nothing twice.
- `GET /allocations`, `GET /collections`: past batches, newest first; `.../<batch_id>` one batch
  with its lines.
- `GET /deposits` (the deposits page's search) and `GET /deposits/<deposit_id>`: bank transfers
  support staff recorded for the customer.
"""

from __future__ import annotations

from typing import Literal

from flask import g
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from portal import ledger
from portal.api import bp
from portal.api.auth import api_actor_id, api_audit, api_endpoint, owned_or_404
from portal.api.idempotency import service_key
from portal.api.pagination import EPOCH, NEXT_CURSOR, PageQuery, keyset_page
from portal.api.problems import ApiProblem
from portal.api.serialize import Fen, Time, local_time
from portal.cards.models import Card
from portal.cards.services import card_search
from portal.chips.host import card_money
from portal.extensions import client_ip, clock, db
from portal.funds import services
from portal.funds.models import Deposit, FundsBatch, FundsBatchLine
from portal.funds.plan import MAX_LINES, RawLine
from portal.money import MAX_FEN, format_fen_plain
from portal.queries import pages
from portal.queries.cursor import Key

#: The kinds of batch by URL segment.
KINDS = {"allocations": "allocation", "collections": "collection"}
#: Cursor report names: a cursor of one list is refused by any other.
BALANCES_REPORT, DEPOSITS_REPORT = "api.balances", "api.deposits"
BATCHES_REPORT = {"allocation": "api.allocations", "collection": "api.collections"}
#: The largest database id a path may name (larger numbers are no id: 404, never a database error).
MAX_ID = 2**31 - 1


# --- balances -------------------------------------------------------------------------------------


class FundsBalancesQuery(PageQuery):
    """The cards page's filters."""

    q: str = Field("", max_length=64, description="part of the number, nickname, driver name or plate")
    status: Literal["active", "lost", "closed"] | None = None


class FundsAccountBalance(BaseModel):
    posted_fen: Fen = Field(description="the balance: credits less debits posted")
    held_fen: Fen = Field(description="what pending debits hold of it")
    available_fen: Fen = Field(description="what can still be spent or moved: posted less held")


class FundsCardBalance(BaseModel):
    card_number: str
    status: Literal["active", "lost", "closed"]
    nickname: str
    reserve_fen: Fen = Field(description="the card's reserve (备用金), posted")
    reserve_available_fen: Fen = Field(description="the reserve less what waiting chip loads hold")
    purse_fen: Fen = Field(description="the chip purse as the host knows it (as last synced)")
    waiting_load_fen: Fen = Field(description="chip loads requested and not yet written to the chip")


class FundsBalances(BaseModel):
    unit: FundsAccountBalance = Field(description="the unit account (单位帐户)")
    data: list[FundsCardBalance] = Field(description="a page of the sub-cards, in number order")
    next_cursor: str | None = NEXT_CURSOR


def account_balance(balance: ledger.Balance) -> FundsAccountBalance:
    return FundsAccountBalance(posted_fen=balance.posted, held_fen=balance.held, available_fen=balance.available)


@bp.get("/balances")
@api_endpoint("read", query=FundsBalancesQuery, resp={200: FundsBalances}, tags=["funds"])
def balances(query: FundsBalancesQuery):
    """The unit account's balance, and each sub-card's reserve, chip purse and waiting loads (a page
    of cards at a time: follow `next_cursor` through thousands of cards)."""
    stmt = card_search(g.api_customer_id, query=query.q, status=query.status or "")
    page = keyset_page(
        db.session, stmt, query, report=BALANCES_REPORT,
        key=lambda card: Key(EPOCH, card.number), after=lambda key: Card.number > str(key.id),
    )  # fmt: skip
    money = card_money(db.session, [c.id for c in page.rows], now=clock().now())
    cards = [
        FundsCardBalance(
            card_number=card.number,
            status=card.status,
            nickname=card.nickname,
            reserve_fen=money[card.id].reserve,
            reserve_available_fen=money[card.id].reserve_available,
            purse_fen=money[card.id].purse,
            waiting_load_fen=money[card.id].pending_load,
        )  # fmt: skip
        for card in page.rows
    ]
    unit = ledger.customer_balances(db.session, g.api_customer_id).unit
    return FundsBalances(unit=account_balance(unit), data=cards, next_cursor=page.next_cursor)


# --- allocations and collections --------------------------------------------------------------------


class BatchLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    card_number: str = Field(min_length=1, max_length=32, description="a sub-card of the customer")
    amount_fen: Fen = Field(ge=1, le=MAX_FEN)


class BatchIn(BaseModel):
    """The lines of one allocation or collection: all are applied, or none."""

    model_config = ConfigDict(extra="forbid")

    lines: list[BatchLineIn] = Field(min_length=1, max_length=MAX_LINES)


class BatchLineOut(BaseModel):
    line_no: int = Field(description="the line's position in the request, from 1")
    card_number: str
    amount_fen: Fen
    reserve_after_fen: Fen | None = Field(description="the card's reserve right after the batch was posted")


class BatchSummary(BaseModel):
    id: str = Field(description="the batch's id")
    kind: Literal["allocation", "collection"]
    total_fen: Fen
    line_count: int
    unit_balance_after_fen: Fen | None = Field(description="the unit account right after the batch was posted")
    posted_at: Time


class BatchOut(BatchSummary):
    lines: list[BatchLineOut]


class BatchList(BaseModel):
    data: list[BatchSummary]
    next_cursor: str | None = NEXT_CURSOR


def _summary(batch: FundsBatch) -> dict:
    return {
        "id": batch.id,
        "kind": batch.kind,
        "total_fen": batch.total,
        "line_count": batch.line_count,
        "unit_balance_after_fen": batch.unit_balance_after,
        "posted_at": local_time(batch.posted_at),
    }


def _batch_out(batch: FundsBatch) -> BatchOut:
    lines: list[FundsBatchLine] = batch.lines
    numbers = dict(
        db.session.execute(select(Card.id, Card.number).where(Card.id.in_({line.card_id for line in lines}))).all()
    )
    return BatchOut(
        **_summary(batch),
        lines=[
            BatchLineOut(
                line_no=line.line_no,
                card_number=numbers[line.card_id],
                amount_fen=line.amount,
                reserve_after_fen=line.reserve_after,
            )
            for line in lines
        ],
    )


def key_owner() -> int:
    """The user who answers for the key (its creator): the actor the rules record for a write.
    A key without one (made outside the portal) may read, not move money."""
    actor_id = api_actor_id()
    if actor_id is None:
        raise ApiProblem(
            409, "key_without_owner", "this key has no owner in the portal; create one on the API keys page"
        )
    return actor_id


def _move(kind: str, body: BatchIn):
    """Check the lines as the funds pages do, then post them as one ledger batch (or nothing)."""
    actor_id, now, batch_id = key_owner(), clock().now(), service_key()
    if services.get_batch(db.session, batch_id, g.api_customer_id) is not None:  # its record was pruned
        raise ApiProblem(422, "idempotency_key_reused", "this Idempotency-Key was used before; use a new key")
    lines = [
        RawLine(i, line.card_number, format_fen_plain(line.amount_fen)) for i, line in enumerate(body.lines, start=1)
    ]
    batch = services.prepare_batch(
        db.session, customer_id=g.api_customer_id, kind=kind, lines=lines, actor_id=actor_id, now=now,
        key=batch_id,
    )  # fmt: skip
    services.confirm_batch(db.session, batch, actor_id=actor_id, now=now, ip=client_ip())
    api_audit(f"api.funds.{kind}", {"batch": batch.id, "total": batch.total, "cards": batch.line_count})
    return _batch_out(batch), 201


_WRITE_ANSWERS = {201: BatchOut}


@bp.post("/allocations")
@api_endpoint("funds", json=BatchIn, resp=_WRITE_ANSWERS, tags=["funds"], idempotent=True)
def allocate(json: BatchIn):
    """Allocate from the unit account to sub-cards' reserves (单位帐户分配): every line, or none.
    Refused lines are listed in `errors` (`body.lines[<n>]`, n from 1) with their reason."""
    return _move("allocation", json)


@bp.post("/collections")
@api_endpoint("funds", json=BatchIn, resp=_WRITE_ANSWERS, tags=["funds"], idempotent=True)
def collect(json: BatchIn):
    """Collect from sub-cards' reserves back to the unit account (单位帐户汇总): every line, or none."""
    return _move("collection", json)


def _batches(kind: str, query: PageQuery) -> BatchList:
    page = keyset_page(
        db.session, services.posted_batches(g.api_customer_id, kind=kind), query, report=BATCHES_REPORT[kind],
        key=lambda batch: Key(batch.posted_at, batch.id),
        after=lambda key: pages.after(FundsBatch.posted_at, FundsBatch.id, key, "desc"),
    )  # fmt: skip
    return BatchList(data=[BatchSummary(**_summary(b)) for b in page.rows], next_cursor=page.next_cursor)


def _batch(kind: str, batch_id: str) -> BatchOut:
    batch = services.get_batch(db.session, batch_id[:32], g.api_customer_id)
    if batch is None or batch.kind != kind or batch.status != "posted":
        raise ApiProblem(404, "batch_not_found", f"no {kind} with this id")
    return _batch_out(batch)


@bp.get("/allocations")
@api_endpoint("read", query=PageQuery, resp={200: BatchList}, tags=["funds"])
def list_allocations(query: PageQuery):
    """Past allocations, newest first."""
    return _batches("allocation", query)


@bp.get("/collections")
@api_endpoint("read", query=PageQuery, resp={200: BatchList}, tags=["funds"])
def list_collections(query: PageQuery):
    """Past collections, newest first."""
    return _batches("collection", query)


@bp.get("/allocations/<batch_id>")
@api_endpoint("read", resp={200: BatchOut}, tags=["funds"])
def get_allocation(batch_id: str):
    """One allocation with its lines."""
    return _batch("allocation", batch_id)


@bp.get("/collections/<batch_id>")
@api_endpoint("read", resp={200: BatchOut}, tags=["funds"])
def get_collection(batch_id: str):
    """One collection with its lines."""
    return _batch("collection", batch_id)


# --- deposits ---------------------------------------------------------------------------------------


class DepositQuery(PageQuery):
    """The deposits page's search."""

    q: str = Field("", max_length=64, description="part of the bank reference")


class DepositOut(BaseModel):
    id: int
    amount_fen: Fen
    bank_reference: str = Field(description="the bank's reference of the transfer (流水号)")
    memo: str
    recorded_at: Time


class DepositList(BaseModel):
    data: list[DepositOut]
    next_cursor: str | None = NEXT_CURSOR


def _deposit_out(deposit: Deposit) -> DepositOut:
    return DepositOut(
        id=deposit.id, amount_fen=deposit.amount, bank_reference=deposit.bank_reference, memo=deposit.memo,
        recorded_at=local_time(deposit.recorded_at),
    )  # fmt: skip


@bp.get("/deposits")
@api_endpoint("read", query=DepositQuery, resp={200: DepositList}, tags=["funds"])
def list_deposits(query: DepositQuery):
    """Bank transfers credited to the unit account, newest first."""
    page = keyset_page(
        db.session, services.deposit_search(customer_id=g.api_customer_id, query=query.q), query,
        report=DEPOSITS_REPORT, key=lambda deposit: Key(deposit.recorded_at, deposit.id),
        after=lambda key: pages.after(Deposit.recorded_at, Deposit.id, key, "desc"),
    )  # fmt: skip
    return DepositList(data=[_deposit_out(d) for d in page.rows], next_cursor=page.next_cursor)


@bp.get("/deposits/<deposit_id>")
@api_endpoint("read", resp={200: DepositOut}, tags=["funds"])
def get_deposit(deposit_id: str):
    """One deposit (another customer's: 404)."""
    return _deposit_out(owned_row(Deposit, deposit_id, "deposit_not_found", "deposit"))


def owned_row(model, id_text: str, code: str, what: str):
    """The key's customer's row of `model` whose id the path names (auth.owned_or_404), after
    checking the text can be an id at all: else 404 `code` too, never a database error."""
    number = database_id(id_text)
    if number is None:
        raise ApiProblem(404, code, f"no such {what}")
    return owned_or_404(model, number, code, what)


def database_id(text: str) -> int | None:
    """The integer id a path names, or None for anything that cannot be one (404 then, never a 500)."""
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None

"""账户交易查询 and 积分交易查询: the ledger journal as the customer sees it.

Rows are ledger transfers touching an account of the scope; the journal is append-only, so a page
is a range scan on (account, created_at) per side. Money: deposits, allocations, collections, loads,
replacements and reversals; purchases have their own query. Points: earned, redeemed, expired, with
the running balance of the scope's points after each row.

A two-phase load (圈存) is ONE movement: the pending row, at the time it was requested, with a state
read from the row that resolved it (`load_state`). The resolving rows (post_pending, void_pending)
are never listed or counted on their own, so a load is never counted twice (issue 12).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from portal.ledger import posted_total
from portal.ledger.models import MONEY, POINTS, Transfer
from portal.queries.accounts import AccountInfo, scope_accounts, system_kinds
from portal.queries.cursor import Key
from portal.queries.filters import Filter, FilterSpec
from portal.queries.pages import Page, after, ordering, page_of
from portal.queries.scope import Scope

ACCOUNT_CODES = ("deposit", "allocation", "collection", "load", "replacement", "reversal")
POINTS_CODES = ("points_earn", "points_redeem", "points_expire", "replacement", "reversal")
#: Journal rows that change posted balances; pending holds and voids do not.
POSTED_KINDS = ("posted", "post_pending")
#: Journal rows that are a movement of their own; post_pending and void_pending only resolve one.
MOVEMENT_KINDS = ("posted", "pending")
#: A movement's state: "posted" moved at once; a load is "waiting" for its chip write, "loaded",
#: "cancelled" (voided before its hold lapsed) or "expired" (voided when or after it lapsed).
STATES = ("posted", "waiting", "loaded", "cancelled", "expired")


def account_spec(max_days: int = 366) -> FilterSpec:
    return FilterSpec(extra={"type": ACCOUNT_CODES}, max_days=max_days)


def points_spec(max_days: int = 366) -> FilterSpec:
    return FilterSpec(extra={"type": POINTS_CODES[:3]}, max_days=max_days)


@dataclass(frozen=True)
class Movement:
    transfer: Transfer
    #: Where the money came from and went to, as (kind, card number or "").
    source: tuple[str, str]
    target: tuple[str, str]
    #: +amount into the scope, -amount out of it, 0 between two of its own accounts.
    signed: int
    #: Points only: the scope's points balance right after this row.
    balance_after: int | None = None
    #: One of STATES.
    state: str = "posted"
    #: Between two of the scope's own accounts (a replacement card inheriting points, a load): the
    #: scope's total does not change (`signed` is 0), but `transfer.amount` moved between them.
    internal: bool = False


@dataclass(frozen=True)
class Journal:
    """A ledger's slice for one scope and filter."""

    ledger: str
    codes: tuple[str, ...]
    accounts: dict[int, AccountInfo]
    where: list

    def signed(self):
        ids = sorted(self.accounts) or [-1]
        into = Transfer.credit_account_id.in_(ids)
        out = Transfer.debit_account_id.in_(ids)
        return case((and_(into, ~out), Transfer.amount), (and_(out, ~into), -Transfer.amount), else_=0)


def journal(session: Session, scope: Scope, flt: Filter, ledger: str, codes: tuple[str, ...]) -> Journal:
    accounts = scope_accounts(session, scope, ledger, flt)
    ids = sorted(accounts) or [-1]
    start, end = flt.utc_range
    wanted = (flt.get("type"),) if flt.get("type") else codes
    where = [
        Transfer.ledger == ledger,
        Transfer.kind.in_(MOVEMENT_KINDS),
        or_(Transfer.debit_account_id.in_(ids), Transfer.credit_account_id.in_(ids)),
        Transfer.code.in_(wanted),
        Transfer.created_at >= start,
        Transfer.created_at < end,
    ]
    return Journal(ledger, codes, accounts, where)


def _side(info: AccountInfo | None, kinds: dict[int, str], account_id: int) -> tuple[str, str]:
    if info is not None:
        return info.kind, info.card_number
    return kinds.get(account_id, ""), ""


def load_state(kind: str, resolution_kind: str | None, resolved_at, expires_at) -> str:
    """The state of a movement from its journal row and the row that resolved it, if any."""
    if kind != "pending":
        return "posted"
    if resolution_kind is None:
        return "waiting"
    if resolution_kind == "post_pending":
        return "loaded"
    return "expired" if resolved_at >= expires_at else "cancelled"


_resolution = aliased(Transfer)


def _state_column():
    """SQL twin of `load_state`, for a statement that outer-joins `_resolution` on the pending row."""
    return case(
        (Transfer.kind != "pending", "posted"),
        (_resolution.kind.is_(None), "waiting"),
        (_resolution.kind == "post_pending", "loaded"),
        (_resolution.created_at >= Transfer.expires_at, "expired"),
        else_="cancelled",
    )


def _with_resolution(query):
    return query.outerjoin(_resolution, _resolution.pending_id == Transfer.id)


def _resolutions(session: Session, transfers: list[Transfer]) -> dict[str, tuple[str, object]]:
    pending = [t.id for t in transfers if t.kind == "pending"]
    if not pending:
        return {}
    rows = session.execute(
        select(Transfer.pending_id, Transfer.kind, Transfer.created_at).where(Transfer.pending_id.in_(pending))
    )
    return {pending_id: (kind, at) for pending_id, kind, at in rows}


def movements(session: Session, j: Journal, transfers: list[Transfer]) -> list[Movement]:
    foreign = {t.debit_account_id for t in transfers} | {t.credit_account_id for t in transfers}
    kinds = system_kinds(session, foreign - set(j.accounts))
    resolutions = _resolutions(session, transfers)
    result = []
    for t in transfers:
        resolution_kind, resolved_at = resolutions.get(t.id, (None, None))
        state = load_state(t.kind, resolution_kind, resolved_at, t.expires_at)
        into, out = t.credit_account_id in j.accounts, t.debit_account_id in j.accounts
        signed = t.amount if into and not out else -t.amount if out and not into else 0
        if state not in ("posted", "loaded"):
            signed = 0
        result.append(
            Movement(
                t,
                _side(j.accounts.get(t.debit_account_id), kinds, t.debit_account_id),
                _side(j.accounts.get(t.credit_account_id), kinds, t.credit_account_id),
                signed,
                state=state,
                internal=into and out,
            )
        )
    return result


def totals_by_code(session: Session, j: Journal) -> dict[str, tuple[int, int]]:
    """code -> (count, sum of amounts) of the filter's movements, each counted once, in one GROUP BY."""
    rows = session.execute(
        select(Transfer.code, func.count(), func.coalesce(func.sum(Transfer.amount), 0))
        .where(*j.where)
        .group_by(Transfer.code)
    ).all()
    return {code: (int(count), int(amount)) for code, count, amount in rows}


def load_totals_by_state(session: Session, j: Journal) -> dict[str, tuple[int, int]]:
    """state -> (count, sum of amounts) of the filter's two-phase loads (waiting, loaded, ...)."""
    state = _state_column().label("state")
    query = _with_resolution(
        select(state, func.count(), func.coalesce(func.sum(Transfer.amount), 0)).where(
            *j.where, Transfer.kind == "pending"
        )
    ).group_by(state)
    return {name: (int(count), int(amount)) for name, count, amount in session.execute(query)}


def page(session: Session, j: Journal, flt: Filter, *, key: Key | None, limit: int) -> Page:
    query = select(Transfer).where(*j.where).order_by(*ordering(Transfer.created_at, Transfer.id, flt.order))
    condition = after(Transfer.created_at, Transfer.id, key, flt.order)
    if condition is not None:
        query = query.where(condition)
    rows, next_key = page_of(list(session.scalars(query.limit(limit + 1))), limit, lambda t: Key(t.created_at, t.id))
    return Page(movements(session, j, rows), next_key, totals_by_code(session, j), load_totals_by_state(session, j))


def points_balance_now(session: Session, j: Journal) -> int:
    """The scope's points right now, from the accounts' stored totals (the ledger keeps them)."""
    return posted_total(session, j.accounts)


def points_page(session: Session, j: Journal, flt: Filter, *, key: Key | None, limit: int) -> Page:
    """A page of points rows with the running balance: the balance now, minus every posted row
    after the page's newest row (one aggregate), then walked row by row."""
    result = page(session, j, flt, key=key, limit=limit)
    if not result.rows:
        return result
    newest = max(result.rows, key=lambda m: (m.transfer.created_at, m.transfer.id)).transfer
    later = session.scalar(
        select(func.coalesce(func.sum(j.signed()), 0)).where(
            Transfer.ledger == POINTS,
            Transfer.kind.in_(POSTED_KINDS),
            or_(
                Transfer.created_at > newest.created_at,
                and_(Transfer.created_at == newest.created_at, Transfer.id > newest.id),
            ),
            or_(
                Transfer.debit_account_id.in_(sorted(j.accounts) or [-1]),
                Transfer.credit_account_id.in_(sorted(j.accounts) or [-1]),
            ),
        )
    )
    balance = points_balance_now(session, j) - int(later or 0)
    newest_first = sorted(result.rows, key=lambda m: (m.transfer.created_at, m.transfer.id), reverse=True)
    after_row = {}
    for movement in newest_first:
        after_row[movement.transfer.id] = balance
        balance -= movement.signed
    rows = [
        Movement(m.transfer, m.source, m.target, m.signed, after_row[m.transfer.id], m.state, m.internal)
        for m in result.rows
    ]
    return Page(rows, result.next_key, result.totals, result.states)


def stream(session: Session, j: Journal, flt: Filter) -> Iterator[Movement]:
    """Every row of the filter, in batches (exports). Running balances are left out here."""
    query = select(Transfer).where(*j.where).order_by(*ordering(Transfer.created_at, Transfer.id, flt.order))
    return _stream(session, j, query.execution_options(yield_per=1000, stream_results=True))


def _stream(session: Session, j: Journal, query) -> Iterator[Movement]:
    batch: list[Transfer] = []
    # `with`: a download stopped early (the XLSX row cap, a client gone) closes the server cursor.
    with session.scalars(query) as transfers:
        for transfer in transfers:
            batch.append(transfer)
            if len(batch) == 1000:
                yield from movements(session, j, batch)
                batch = []
        yield from movements(session, j, batch)


__all__ = ["MONEY", "POINTS", "Journal", "Movement", "journal", "page", "points_page", "stream"]

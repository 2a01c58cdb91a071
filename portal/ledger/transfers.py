"""Moving money: single transfers, all-or-nothing batches, two-phase (pending) transfers, reversals.

Every operation follows the same steps, which keep the books right under concurrency and retries:
1. check the request's shape (no database);
2. lock the touched accounts in ascending id order and read them fresh (`lock_accounts`);
3. if the id is already in the journal with the same content, return that transfer (a retry);
4. apply the rules to in-memory copies, in order; any refusal raises before anything is written;
5. insert the journal rows (one multi-row INSERT) and write the new totals (one executemany).
The caller commits. Only step 5 can lose a race (two writers of one id over *different*
accounts); the loser then gets IdempotencyConflict and must roll back.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import exc, exists, or_, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session, aliased, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from portal.ledger import memos
from portal.ledger.accounts import (
    UPDATE_TOTALS_PG_SQL,
    driver_rows,
    id_in,
    lock_accounts,
    refresh_loaded,
    totals_params,
    write_totals,
)
from portal.ledger.errors import (
    AlreadyReversed,
    IdempotencyConflict,
    InvalidTransfer,
    LedgerError,
    NotReversible,
    PendingAlreadyResolved,
    PendingExpired,
    PendingNotFound,
    TransferNotFound,
)
from portal.ledger.models import Transfer
from portal.ledger.rules import (
    AccountState,
    apply_pending,
    apply_post_pending,
    apply_posted,
    apply_void_pending,
    check_amount,
    check_id,
    check_memo,
    check_pair,
    check_request_shape,
)

#: What makes two transfers with one id "the same": what moves, where, and why. Memo, actor and
#: timestamps may differ between a request and its retry.
_transfers = Transfer.__table__

CONTENT_FIELDS = ("debit_account_id", "credit_account_id", "amount", "code", "kind", "pending_id", "reversal_of")


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """One money movement as a caller asks for it. `id` is the idempotency key (<= 64 characters)."""

    id: str
    debit_account_id: int
    credit_account_id: int
    amount: int
    code: str
    actor_id: int | None = None
    memo: str = ""


def _check_request(request: TransferRequest) -> None:
    check_request_shape(
        request.id, request.debit_account_id, request.credit_account_id, request.amount, request.code, request.memo
    )


def _row(request: TransferRequest, ledger: str, kind: str, now: datetime, **extra) -> dict:
    row = {
        "id": request.id,
        "ledger": ledger,
        "debit_account_id": request.debit_account_id,
        "credit_account_id": request.credit_account_id,
        "amount": request.amount,
        "code": request.code,
        "kind": kind,
        "pending_id": None,
        "reversal_of": None,
        "batch_id": None,
        "expires_at": None,
        "actor_id": request.actor_id,
        "memo": request.memo,
        "created_at": now,
    }
    row.update(extra)
    return row


def _same_or_conflict(existing: Transfer, row: dict) -> Transfer:
    differences = [name for name in CONTENT_FIELDS if getattr(existing, name) != row[name]]
    if differences:
        raise IdempotencyConflict(
            f"transfer {row['id']} already exists with a different {', '.join(differences)}; use a new id"
        )
    return existing


#: PostgreSQL: any number of rows in one short statement (14 array parameters, not 14n scalars).
_INSERT_COLUMNS = (
    "id", "ledger", "debit_account_id", "credit_account_id", "amount", "code", "kind", "pending_id",
    "reversal_of", "batch_id", "expires_at", "actor_id", "memo", "created_at",
)  # fmt: skip
_INSERT_TYPES = (
    "varchar", "varchar", "bigint", "bigint", "bigint", "varchar", "varchar", "varchar",
    "varchar", "varchar", "timestamp", "bigint", "varchar", "timestamp",
)  # fmt: skip
#: The journal rows and the new totals in ONE statement: a round trip is most of a transfer's cost.
#: Rows go in only if none of the ids is taken yet (a replay inserts nothing and is recognised
#: afterwards); the totals are written only if every row went in (:n of them). A concurrent writer
#: of one of the ids can still win between the check and the insert (its row was not committed
#: yet): then ON CONFLICT skips that row and the statement FAILS on purpose (the cast of
#: PARTIAL_BATCH to an integer), which aborts the transaction, so the other rows, written without
#: their totals, can never be committed. Plain SQL run on the driver's cursor (accounts.driver_rows).
PARTIAL_BATCH = "ledger: another transaction recorded one of this batch's ids; roll back and retry"
_RECORD_PG_SQL = (
    f"WITH ins AS (INSERT INTO ledger_transfers ({', '.join(_INSERT_COLUMNS)}) "  # noqa: S608 (constants)
    "SELECT * FROM unnest("
    + ", ".join(f"CAST(%({name})s AS {type_}[])" for name, type_ in zip(_INSERT_COLUMNS, _INSERT_TYPES, strict=True))
    + ") WHERE NOT EXISTS (SELECT 1 FROM ledger_transfers WHERE id = ANY(%(id)s)) "  # noqa: S608 (constants)
    "ON CONFLICT DO NOTHING RETURNING id), "
    "n AS (SELECT count(*) AS inserted FROM ins), "
    f"upd AS ({UPDATE_TOTALS_PG_SQL} AND (SELECT inserted FROM n) = %(n)s RETURNING a.id) "
    # The cast is of the CASE, not of the constant: the planner folds constant casts ahead of time.
    "SELECT ins.id, CAST(CASE WHEN n.inserted IN (0, %(n)s) THEN '0' ELSE %(partial)s END AS integer) "
    "FROM ins, n"
)
#: The same for the commonest case, one row and two accounts, with scalar parameters (dumping
#: arrays costs more Python than the statement saves).
_RECORD_ONE_PG_SQL = (
    f"WITH ins AS (INSERT INTO ledger_transfers ({', '.join(_INSERT_COLUMNS)}) VALUES ("  # noqa: S608 (constants)
    + ", ".join(f"%({name})s" for name in _INSERT_COLUMNS)
    + ") ON CONFLICT DO NOTHING RETURNING id), "
    "upd AS (UPDATE ledger_accounts AS a SET debits_posted = v.dp, credits_posted = v.cp, "
    "debits_pending = v.dq, credits_pending = v.cq FROM (VALUES "
    "(CAST(%(a1)s AS bigint), CAST(%(dp1)s AS bigint), CAST(%(cp1)s AS bigint), CAST(%(dq1)s AS bigint), "
    "CAST(%(cq1)s AS bigint)), (%(a2)s, %(dp2)s, %(cp2)s, %(dq2)s, %(cq2)s)) AS v(id, dp, cp, dq, cq) "
    "WHERE a.id = v.id AND EXISTS (SELECT 1 FROM ins) RETURNING a.id) "
    "SELECT id FROM ins"
)


#: Batches up to this size (rows, accounts) are written with scalar parameters too (a purchase and
#: its points: two rows, four accounts): `_record_small_pg_sql`.
_SMALL_BATCH = (4, 8)


@functools.cache
def _record_small_pg_sql(rows: int, accounts: int) -> str:
    """_RECORD_PG_SQL for `rows` journal rows and `accounts` accounts with scalar parameters (row i's
    column c is %(c_i)s, account j's totals %(a_j)s, %(dp_j)s ...): the same checks, the same
    refusal of a partial batch, without dumping arrays."""
    values = ", ".join(
        "(" + ", ".join(f"CAST(%({c}_{i})s AS {t})" for c, t in zip(_INSERT_COLUMNS, _INSERT_TYPES, strict=True)) + ")"
        for i in range(rows)
    )
    ids = ", ".join(f"%(id_{i})s" for i in range(rows))
    totals = ", ".join(
        "(" + ", ".join(f"CAST(%({name}_{j})s AS bigint)" for name in ("a", "dp", "cp", "dq", "cq")) + ")"
        for j in range(accounts)
    )
    columns = ", ".join(_INSERT_COLUMNS)
    return (
        f"WITH ins AS (INSERT INTO ledger_transfers ({columns}) "  # noqa: S608 (constants)
        f"SELECT * FROM (VALUES {values}) AS r({columns}) "
        f"WHERE NOT EXISTS (SELECT 1 FROM ledger_transfers WHERE id IN ({ids})) "
        "ON CONFLICT DO NOTHING RETURNING id), "
        "n AS (SELECT count(*) AS inserted FROM ins), "
        "upd AS (UPDATE ledger_accounts AS a SET debits_posted = v.dp, credits_posted = v.cp, "
        f"debits_pending = v.dq, credits_pending = v.cq FROM (VALUES {totals}) AS v(id, dp, cp, dq, cq) "
        f"WHERE a.id = v.id AND (SELECT inserted FROM n) = {rows} RETURNING a.id) "
        f"SELECT ins.id, CAST(CASE WHEN n.inserted IN (0, {rows}) THEN '0' ELSE %(partial)s END AS integer) "
        "FROM ins, n"
    )


def _small_batch_params(rows: list[dict], states: list[AccountState]) -> dict:
    params: dict = {"partial": PARTIAL_BATCH}
    for i, row in enumerate(rows):
        for name in _INSERT_COLUMNS:
            value = row[name]
            params[f"{name}_{i}"] = _naive_utc(value) if name in ("expires_at", "created_at") else value
    for j, state in enumerate(states):
        params.update(
            {
                f"a_{j}": state.id,
                f"dp_{j}": state.debits_posted,
                f"cp_{j}": state.credits_posted,
                f"dq_{j}": state.debits_pending,
                f"cq_{j}": state.credits_pending,
            }
        )
    return params


def _naive_utc(value: datetime | None) -> datetime | None:
    """Stored as UTCDateTime stores it: naive UTC; a naive input is refused as it refuses it."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column; use portal.clock.utcnow()")
    return value.astimezone(UTC).replace(tzinfo=None)


def _utc(value: datetime | None) -> datetime | None:
    """What loading the row gives back: the same instant, in UTC."""
    return None if value is None or value.tzinfo is None else value.astimezone(UTC)


def _write(session: Session, rows: list[dict], states: list[AccountState]) -> list[Transfer]:
    """Insert the journal rows and, if every one was inserted, store the accounts' new totals.

    Returns the rows inserted, as persistent Transfer objects. A row whose id (or pending_id,
    reversal_of) is already taken is skipped instead of aborting the transaction, so the caller can
    tell a retry from a conflict; fewer rows than asked means no totals were written. Not the ORM's
    unit of work: it costs far more Python than the database round trip. Only PostgreSQL and SQLite
    are supported.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        if len(rows) == 1 and len(states) == 2:
            params = dict(rows[0])
            for name in ("expires_at", "created_at"):  # stored as naive UTC, like UTCDateTime does
                params[name] = _naive_utc(params[name])
            for n, state in enumerate(states, start=1):
                params.update(
                    {
                        f"a{n}": state.id,
                        f"dp{n}": state.debits_posted,
                        f"cp{n}": state.credits_posted,
                        f"dq{n}": state.debits_pending,
                        f"cq{n}": state.credits_pending,
                    }
                )
            inserted_ids = {row[0] for row in driver_rows(connection, _RECORD_ONE_PG_SQL, params)}
        else:
            if len(rows) <= _SMALL_BATCH[0] and len(states) <= _SMALL_BATCH[1]:
                sql, params = _record_small_pg_sql(len(rows), len(states)), _small_batch_params(rows, states)
            else:
                sql = _RECORD_PG_SQL
                params = {name: [row[name] for row in rows] for name in _INSERT_COLUMNS}
                for name in ("expires_at", "created_at"):
                    params[name] = [_naive_utc(value) for value in params[name]]
                params.update(totals_params(states), n=len(rows), partial=PARTIAL_BATCH)
            try:
                inserted_ids = {row[0] for row in driver_rows(connection, sql, params)}
            except exc.DataError as error:
                if PARTIAL_BATCH not in str(error.orig):
                    raise
                raise IdempotencyConflict(PARTIAL_BATCH) from None
        if len(inserted_ids) == len(rows):
            refresh_loaded(session, states)
    else:
        stmt = sqlite.insert(_transfers).on_conflict_do_nothing()
        inserted_ids = set(session.scalars(stmt.returning(_transfers.c.id), rows))
        if len(inserted_ids) == len(rows):
            write_totals(session, states)
    return [_attach(session, row) for row in rows if row["id"] in inserted_ids]


def _attach(session: Session, row: dict) -> Transfer:
    """The journal row just inserted, as a persistent object, without reading it back.

    The session may still hold an object for this id from a transaction that was rolled back (a
    retry in the same session): that object gets the row's values, as a fresh load would give it.
    """
    row = dict(row, created_at=_utc(row["created_at"]), expires_at=_utc(row["expires_at"]))
    held = session.identity_map.get(session.identity_key(Transfer, row["id"]))
    if held is not None:
        for name, value in row.items():
            set_committed_value(held, name, value)
        return held
    transfer = Transfer(**row)
    make_transient_to_detached(transfer)
    session.add(transfer)
    return transfer


def _record(session: Session, row: dict, touched: list[AccountState]) -> Transfer:
    """Insert one journal row and the new totals; if the insert lost a race, report what won."""
    inserted = _write(session, [row], touched)
    if inserted:
        return inserted[0]
    existing = session.get(Transfer, row["id"])
    if existing is not None:
        return _same_or_conflict(existing, row)
    if row["pending_id"] is not None:
        raise PendingAlreadyResolved(f"pending transfer {row['pending_id']} was resolved by another request")
    if row["reversal_of"] is not None:
        raise AlreadyReversed(f"transfer {row['reversal_of']} was reversed by another request")
    raise IdempotencyConflict(f"transfer {row['id']} could not be recorded; roll back and retry")  # pragma: no cover


def _single(session: Session, request: TransferRequest, row: dict, customer_id: int | None, apply) -> Transfer:
    states = lock_accounts(session, (request.debit_account_id, request.credit_account_id))
    debit, credit = states[request.debit_account_id], states[request.credit_account_id]
    check_pair(debit, credit, request.code, customer_id)
    row["ledger"] = debit.ledger
    try:
        apply(debit, credit)
    except LedgerError:
        # A retry of a transfer that already spent the money must still get its original back.
        existing = session.get(Transfer, request.id)
        if existing is not None:
            return _same_or_conflict(existing, row)
        raise
    return _record(session, row, [debit, credit])


def transfer(session: Session, request: TransferRequest, *, now: datetime, customer_id: int | None = None) -> Transfer:
    """Move money at once. Idempotent on `request.id`. `customer_id`: the acting customer, whose
    accounts (and system accounts) are the only ones the request may touch."""
    _check_request(request)
    row = _row(request, "", "posted", now)
    return _single(session, request, row, customer_id, lambda d, c: apply_posted(d, c, request.amount, request.code))


def create_pending(
    session: Session,
    request: TransferRequest,
    *,
    now: datetime,
    expires_at: datetime,
    customer_id: int | None = None,
) -> Transfer:
    """Hold money (phase one of a load): it leaves the debit's available balance but lands nowhere
    until `post_pending`; `void_pending` or `expire_pending` gives it back."""
    _check_request(request)
    if not isinstance(expires_at, datetime) or expires_at.tzinfo is None or expires_at <= now:
        raise InvalidTransfer("a pending transfer needs an aware expiry time in the future")
    row = _row(request, "", "pending", now, expires_at=expires_at)
    return _single(session, request, row, customer_id, lambda d, c: apply_pending(d, c, request.amount))


def transfer_batch(
    session: Session,
    requests: Iterable[TransferRequest],
    *,
    now: datetime,
    customer_id: int | None = None,
    batch_id: str | None = None,
) -> list[Transfer]:
    """Move money in several transfers that succeed or fail as one, applied in order (an earlier
    transfer may fund a later one). Replaying the whole batch returns the original transfers."""
    requests = list(requests)
    if not requests:
        return []
    for request in requests:
        _check_request(request)
    ids = [request.id for request in requests]
    if len(set(ids)) != len(ids):
        raise InvalidTransfer("a batch cannot contain the same transfer id twice")
    if batch_id is not None:
        check_id(batch_id)
    states = lock_accounts(session, {a for r in requests for a in (r.debit_account_id, r.credit_account_id)})
    for request in requests:
        check_pair(states[request.debit_account_id], states[request.credit_account_id], request.code, customer_id)
    rows = [
        _row(request, states[request.debit_account_id].ledger, "posted", now, batch_id=batch_id) for request in requests
    ]
    if session.get_bind().dialect.name != "postgresql":
        # SQLite: look first (its writers are serialized, so nothing can slip in after the look).
        # PostgreSQL's write statement itself refuses to insert a batch any of whose ids exist.
        existing = _existing(session, ids)
        if existing:
            return _replayed_batch(existing, rows)
    try:
        for request in requests:
            apply_posted(
                states[request.debit_account_id], states[request.credit_account_id], request.amount, request.code
            )
    except LedgerError:
        # A retry of a batch that already spent the money must still get its originals back.
        existing = _existing(session, ids)
        if existing:
            return _replayed_batch(existing, rows)
        raise
    inserted = _write(session, rows, list(states.values()))
    if len(inserted) == len(rows):
        return inserted
    if not inserted:
        return _replayed_batch(_existing(session, ids), rows)
    # Unreachable today (PostgreSQL's write aborts on a partial insert, SQLite looked first); kept
    # so that a partial write can never be returned as a success.
    raise IdempotencyConflict(PARTIAL_BATCH)  # pragma: no cover


def _existing(session: Session, ids: list[str]) -> dict[str, Transfer]:
    return {t.id: t for t in session.scalars(select(Transfer).where(id_in(session, Transfer.id, ids)))}


def _replayed_batch(existing: dict[str, Transfer], rows: list[dict]) -> list[Transfer]:
    """A batch whose ids are taken: the same batch again (its originals), or a conflict."""
    if len(existing) == len(rows):
        return [_same_or_conflict(existing[row["id"]], row) for row in rows]
    if not existing:  # pragma: no cover - the ids were taken by a transaction that then rolled back
        raise IdempotencyConflict("this batch could not be recorded; roll back and retry")
    raise IdempotencyConflict(
        f"{len(existing)} of this batch's {len(rows)} transfer ids already exist (e.g. {next(iter(existing))}); "
        "a retried batch must repeat every transfer"
    )


# --- resolving pending transfers ------------------------------------------------------------------


def _load_pending(session: Session, pending_id: object) -> Transfer:
    pending = session.get(Transfer, pending_id) if isinstance(pending_id, str) else None
    if pending is None or pending.kind != "pending":
        raise PendingNotFound(f"no pending transfer {pending_id!r}")
    return pending


def _resolve(
    session: Session,
    transfer_id: str,
    pending: Transfer,
    kind: str,
    *,
    now: datetime,
    amount: int,
    actor_id: int | None,
    memo: str,
    customer_id: int | None,
) -> Transfer:
    states = lock_accounts(session, (pending.debit_account_id, pending.credit_account_id))
    debit, credit = states[pending.debit_account_id], states[pending.credit_account_id]
    if customer_id is not None:
        check_pair(debit, credit, None, customer_id)
    request = TransferRequest(
        transfer_id, pending.debit_account_id, pending.credit_account_id, amount, pending.code, actor_id, memo
    )
    row = _row(request, pending.ledger, kind, now, pending_id=pending.id)
    found = session.scalars(
        select(Transfer).where(or_(Transfer.id == transfer_id, Transfer.pending_id == pending.id))
    ).all()
    for earlier in found:
        if earlier.id == transfer_id:
            return _same_or_conflict(earlier, row)
    if found:
        done = "posted" if found[0].kind == "post_pending" else "voided"
        raise PendingAlreadyResolved(f"pending transfer {pending.id} was already {done} by transfer {found[0].id}")
    if kind == "post_pending":
        if now >= pending.expires_at:
            raise PendingExpired(f"pending transfer {pending.id} expired at {pending.expires_at.isoformat()}")
        apply_post_pending(debit, credit, pending.amount, amount)
    else:
        apply_void_pending(debit, credit, pending.amount)
    return _record(session, row, [debit, credit])


def post_pending(
    session: Session,
    id: str,  # noqa: A002 - the contract's name for the new transfer's id
    pending_id: str,
    *,
    now: datetime,
    amount: int | None = None,
    actor_id: int | None = None,
    memo: str = "",
    customer_id: int | None = None,
) -> Transfer:
    """Complete a hold: move `amount` (default: all of it; never more) and release the rest."""
    check_id(id)
    check_memo(memo)
    pending = _load_pending(session, pending_id)
    amount = pending.amount if amount is None else check_amount(amount)
    return _resolve(
        session,
        id,
        pending,
        "post_pending",
        now=now,
        amount=amount,
        actor_id=actor_id,
        memo=memo,
        customer_id=customer_id,
    )


def void_pending(
    session: Session,
    id: str,  # noqa: A002
    pending_id: str,
    *,
    now: datetime,
    actor_id: int | None = None,
    memo: str = "",
    customer_id: int | None = None,
) -> Transfer:
    """Cancel a hold: the money stays where it was. Allowed after expiry."""
    check_id(id)
    check_memo(memo)
    pending = _load_pending(session, pending_id)
    return _resolve(
        session,
        id,
        pending,
        "void_pending",
        now=now,
        amount=pending.amount,
        actor_id=actor_id,
        memo=memo,
        customer_id=customer_id,
    )


def expire_pending(session: Session, *, now: datetime) -> int:
    """Void every unresolved pending transfer whose expiry has passed; returns how many. The void's
    id is "expire:<pending id>", so two concurrent runs cannot void one hold twice."""
    resolution = aliased(Transfer)
    overdue = (
        select(Transfer)
        .where(
            Transfer.expires_at <= now,
            Transfer.kind == "pending",
            ~exists().where(resolution.pending_id == Transfer.id),
        )
        .order_by(Transfer.expires_at, Transfer.id)
    )
    voided = 0
    for pending in session.scalars(overdue).all():
        try:
            _resolve(
                session,
                "expire:" + pending.id,
                pending,
                "void_pending",
                now=now,
                amount=pending.amount,
                actor_id=None,
                memo=memos.structured(reason="expired"),
                customer_id=None,
            )
        except PendingAlreadyResolved:
            continue  # posted or voided by a request that got the lock first
        voided += 1
    return voided


# --- reversals ------------------------------------------------------------------------------------


def reverse(
    session: Session,
    id: str,  # noqa: A002
    transfer_id: str,
    *,
    now: datetime,
    actor_id: int | None = None,
    memo: str = "",
    customer_id: int | None = None,
) -> Transfer:
    """Undo a posted transfer with one in the opposite direction for the same amount; at most once.
    The usual rules apply: the reversal cannot overdraw the account the money returns from."""
    check_id(id)
    check_memo(memo)
    original = session.get(Transfer, transfer_id) if isinstance(transfer_id, str) else None
    if original is None:
        raise TransferNotFound(f"no transfer {transfer_id!r}")
    if original.kind not in ("posted", "post_pending") or original.code == "reversal":
        raise NotReversible(f"transfer {original.id} is a {original.kind} {original.code}; it cannot be reversed")
    states = lock_accounts(session, (original.debit_account_id, original.credit_account_id))
    debit, credit = states[original.credit_account_id], states[original.debit_account_id]
    if customer_id is not None:
        check_pair(debit, credit, None, customer_id)
    request = TransferRequest(
        id, original.credit_account_id, original.debit_account_id, original.amount, "reversal", actor_id, memo
    )
    row = _row(request, original.ledger, "posted", now, reversal_of=original.id)
    found = session.scalars(select(Transfer).where(or_(Transfer.id == id, Transfer.reversal_of == original.id))).all()
    for earlier in found:
        if earlier.id == id:
            return _same_or_conflict(earlier, row)
    if found:
        raise AlreadyReversed(f"transfer {original.id} was already reversed by transfer {found[0].id}")
    apply_posted(debit, credit, original.amount, "reversal")
    return _record(session, row, [debit, credit])

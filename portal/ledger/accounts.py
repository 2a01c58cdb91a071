"""Opening and finding accounts, their flags, and the row locks every money movement takes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from sqlalchemy import BigInteger, String, any_, bindparam, exc, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from portal.ledger.errors import InvalidTransfer, UnknownAccount
from portal.ledger.models import CARD_KINDS, CUSTOMER_KINDS, STATION_KINDS, SYSTEM_KINDS, Account
from portal.ledger.rules import AccountState, check_closable

_accounts = Account.__table__
_STATE_COLUMNS = [
    _accounts.c[name]
    for name in (
        "id",
        "ledger",
        "kind",
        "customer_id",
        "no_overdraft",
        "frozen",
        "closed",
        "debits_posted",
        "credits_posted",
        "debits_pending",
        "credits_pending",
    )
]
_TOTALS = ("debits_posted", "credits_posted", "debits_pending", "credits_pending")


def balance(account: Account | AccountState) -> int:
    """Posted balance of a credit-normal account: credits minus debits."""
    return account.credits_posted - account.debits_posted


def available(account: Account | AccountState) -> int:
    """What can still be debited: the posted balance minus money held by pending debits."""
    return account.credits_posted - account.debits_posted - account.debits_pending


# --- opening and finding --------------------------------------------------------------------------


def _get_or_create(session: Session, where: dict, fields: dict) -> Account:
    """Find the one account matching `where`, or create it. Safe against a concurrent creator: the
    partial unique indexes decide, and the loser re-reads the winner's row."""
    stmt = select(Account).filter_by(**where)
    account = session.scalars(stmt).one_or_none()
    if account is not None:
        return account
    try:
        with session.begin_nested():
            account = Account(**where, **fields)
            session.add(account)
    except IntegrityError:
        account = session.scalars(stmt).one()
    return account


def open_customer_accounts(session: Session, customer_id: int) -> None:
    """A customer's unit account (money) and customer-level points account. Idempotent."""
    for kind in ("unit", "points"):
        _get_or_create(
            session,
            {"kind": kind, "customer_id": customer_id, "card_id": None},
            {"ledger": CUSTOMER_KINDS[kind], "no_overdraft": True},
        )
    session.flush()


def open_card_accounts(session: Session, customer_id: int, card_id: int) -> None:
    """A card's reserve and chip purse accounts (money) and its points account. Idempotent."""
    for kind in CARD_KINDS:
        _get_or_create(
            session,
            {"kind": kind, "card_id": card_id},
            {"customer_id": customer_id, "ledger": CUSTOMER_KINDS[kind], "no_overdraft": True},
        )
    session.flush()


def _one(session: Session, description: str, **where) -> Account:
    account = session.scalars(select(Account).filter_by(**where)).one_or_none()
    if account is None:
        raise UnknownAccount(f"no {description}")
    return account


def unit_account(session: Session, customer_id: int) -> Account:
    return _one(session, f"unit account for customer {customer_id}", kind="unit", customer_id=customer_id)


def card_account(session: Session, card_id: int, kind: str) -> Account:
    if kind not in CARD_KINDS:
        raise InvalidTransfer(f"a card has {', '.join(CARD_KINDS)} accounts, not {kind!r}")
    return _one(session, f"{kind} account for card {card_id}", kind=kind, card_id=card_id)


def customer_points_account(session: Session, customer_id: int) -> Account:
    return _one(
        session, f"points account for customer {customer_id}", kind="points", customer_id=customer_id, card_id=None
    )


def system_account(session: Session, kind: str, ledger: str | None = None) -> Account:
    """The one system account of `kind` (the national one, no station), created on first use.
    `ledger` defaults to the kind's own (money for deposits_clearing and station_sales, points for
    the points_* kinds). Purchases post to their station's accounts instead (`station_account`)."""
    _check_system_kind(kind, ledger)
    return _get_or_create(
        session, {"kind": kind, "customer_id": None, "station_id": None}, {"ledger": SYSTEM_KINDS[kind]}
    )


def station_account(session: Session, kind: str, station_id: int) -> Account:
    """The station's own system account of `kind` (one of STATION_KINDS), created on first use;
    two first uses at once create one account (the unique index decides, the loser reads it)."""
    if kind not in STATION_KINDS:
        raise InvalidTransfer(f"a station has {', '.join(STATION_KINDS)} accounts, not {kind!r}")
    if type(station_id) is not int:
        raise InvalidTransfer(f"station id must be an integer, got {station_id!r}")
    return _get_or_create(
        session, {"kind": kind, "customer_id": None, "station_id": station_id}, {"ledger": SYSTEM_KINDS[kind]}
    )


def _check_system_kind(kind: str, ledger: str | None) -> None:
    if kind not in SYSTEM_KINDS:
        raise InvalidTransfer(f"unknown system account kind {kind!r}; use one of {', '.join(SYSTEM_KINDS)}")
    if ledger is not None and ledger != SYSTEM_KINDS[kind]:
        raise InvalidTransfer(f"the {kind} account is in ledger {SYSTEM_KINDS[kind]}, not {ledger}")


def system_account_ids(session: Session, kinds: Iterable[str], *, station_id: int | None = None) -> dict[str, int]:
    """Ids of the system accounts of `kinds` (the station's own when `station_id` is given), found
    in one query (those missing are created)."""
    kinds = list(kinds)
    station = _accounts.c.station_id.is_(None) if station_id is None else _accounts.c.station_id == station_id
    found = dict(
        session.execute(
            select(_accounts.c.kind, _accounts.c.id).where(
                _accounts.c.customer_id.is_(None), station, _accounts.c.kind.in_(kinds)
            )
        ).all()
    )
    for kind in kinds:
        if kind not in found:
            account = (
                system_account(session, kind) if station_id is None else station_account(session, kind, station_id)
            )
            found[kind] = account.id
    return found


def get_account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise UnknownAccount(f"no account {account_id}")
    return account


# --- locks and totals -----------------------------------------------------------------------------


def id_in(session: Session, column, values: list):
    """`column IN values`; on PostgreSQL as `= ANY(array)`: one parameter instead of one per value,
    so a 1,000-card batch does not send (and parse) a 1,000-placeholder statement."""
    if session.get_bind().dialect.name == "postgresql":
        element = String() if values and isinstance(values[0], str) else BigInteger()
        return column == any_(bindparam(None, list(values), type_=ARRAY(element)))
    return column.in_(values)


#: FOR NO KEY UPDATE is what `with_for_update(key_share=True)` renders: the lock an UPDATE takes.
_LOCK_PG_SQL = (
    "SELECT " + ", ".join(column.name for column in _STATE_COLUMNS) + " FROM ledger_accounts "  # noqa: S608 (constants)
    "WHERE id = ANY(%(ids)s) ORDER BY id FOR NO KEY UPDATE"
)


def driver_rows(connection: Connection, sql: str, params: dict) -> list[tuple]:
    """Run `sql` (the driver's parameter style) on the connection's own DBAPI cursor; its rows.

    For the statements every money movement runs: SQLAlchemy's result machinery costs more Python
    than the statement's round trip. The statement runs in the connection's transaction like any
    other. Driver errors come out as SQLAlchemy's (IntegrityError, OperationalError, ...), as from
    `Connection.execute`; SQL logging and cursor events do not see these statements.
    """
    dbapi_connection = connection.connection.dbapi_connection
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []
    except connection.dialect.loaded_dbapi.Error as error:
        # A lost connection is invalidated, as Connection.execute does, so that the caller's
        # rollback succeeds, `connection_invalidated` tells a retry it may try again, and the pool
        # drops the connections that predate the failure.
        lost = connection.dialect.is_disconnect(error, dbapi_connection, cursor)
        wrapped = exc.DBAPIError.instance(
            sql,
            params,
            error,
            connection.dialect.loaded_dbapi.Error,
            connection_invalidated=lost,
            dialect=connection.dialect,
        )
        if lost:
            connection.invalidate(wrapped)
        raise wrapped from error
    finally:
        with contextlib.suppress(connection.dialect.loaded_dbapi.Error):  # its connection may be gone
            cursor.close()


def lock_accounts(session: Session, account_ids: Iterable[int]) -> dict[int, AccountState]:
    """Lock the rows in ascending id order (one statement) and read them fresh under the lock.

    Every writer locks in the same order, so two transfers over the same accounts queue instead of
    deadlocking, and nobody's update is lost. FOR NO KEY UPDATE is the lock an UPDATE takes anyway;
    it still lets other transactions insert journal rows whose foreign keys point here. SQLite has
    no row locks: its transactions begin IMMEDIATE (portal.db), which serializes all writers.
    """
    session.flush()  # the caller's new accounts must be visible to Core statements
    ids = sorted(set(account_ids))
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # Every money movement runs this: plain SQL, no statement to build or cache-key per call.
        rows = driver_rows(connection, _LOCK_PG_SQL, {"ids": ids})
    else:
        stmt = (
            select(*_STATE_COLUMNS)
            .where(_accounts.c.id.in_(ids))
            .order_by(_accounts.c.id)
            .with_for_update(key_share=True)
        )
        rows = connection.execute(stmt).all()
    states = {row[0]: AccountState(*row) for row in rows}
    missing = [account_id for account_id in ids if account_id not in states]
    if missing:
        raise UnknownAccount("no account " + ", ".join(map(str, missing)))
    return states


_UPDATE_TOTALS = (
    update(_accounts)
    .where(_accounts.c.id == bindparam("b_id"))
    .values({name: bindparam("b_" + name) for name in _TOTALS})
)
#: PostgreSQL: every account in one statement, whatever the batch size (arrays, not 5n parameters).
#: Also the tail of the journal's insert-and-update statement (portal.ledger.transfers). Plain SQL
#: in the driver's parameter style, run by driver_rows.
UPDATE_TOTALS_PG_SQL = (
    "UPDATE ledger_accounts AS a SET debits_posted = v.dp, credits_posted = v.cp, "
    "debits_pending = v.dq, credits_pending = v.cq "
    "FROM unnest(CAST(%(ids)s AS bigint[]), CAST(%(dp)s AS bigint[]), CAST(%(cp)s AS bigint[]), "
    "CAST(%(dq)s AS bigint[]), CAST(%(cq)s AS bigint[])) AS v(id, dp, cp, dq, cq) WHERE a.id = v.id"
)


def totals_params(states: list[AccountState]) -> dict[str, list[int]]:
    return {
        "ids": [s.id for s in states],
        "dp": [s.debits_posted for s in states],
        "cp": [s.credits_posted for s in states],
        "dq": [s.debits_pending for s in states],
        "cq": [s.credits_pending for s in states],
    }


def write_totals(session: Session, states: Iterable[AccountState]) -> None:
    """Store new totals (one statement) and refresh any loaded Account objects without a query."""
    states = list(states)
    if not states:
        return
    if session.get_bind().dialect.name == "postgresql":
        driver_rows(session.connection(), UPDATE_TOTALS_PG_SQL, totals_params(states))
    else:
        session.execute(
            _UPDATE_TOTALS, [{"b_id": s.id, **{"b_" + name: getattr(s, name) for name in _TOTALS}} for s in states]
        )
    refresh_loaded(session, states)


def refresh_loaded(session: Session, states: Iterable[AccountState]) -> None:
    """Give Account objects already in the session the totals just stored, without a query."""
    identity_map = session.identity_map
    for state in states:
        account = identity_map.get(session.identity_key(Account, state.id))
        if account is not None:
            for name in _TOTALS:
                set_committed_value(account, name, getattr(state, name))


def _set_flag(session: Session, account_id: int, flag: str, value: bool) -> Account:
    state = lock_accounts(session, [account_id])[account_id]
    if flag == "closed" and value:
        check_closable(state)
    session.execute(update(_accounts).where(_accounts.c.id == account_id).values({flag: value}))
    account = session.get(Account, account_id)
    set_committed_value(account, flag, value)
    return account


def freeze_account(session: Session, account_id: int) -> Account:
    """Stop debits (a lost card). Credits still land. Idempotent."""
    return _set_flag(session, account_id, "frozen", True)


def unfreeze_account(session: Session, account_id: int) -> Account:
    return _set_flag(session, account_id, "frozen", False)


def close_account(session: Session, account_id: int) -> Account:
    """Close an empty account for good: no debits, no credits. Raises AccountClosed if not empty."""
    return _set_flag(session, account_id, "closed", True)

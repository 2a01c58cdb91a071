"""The database layer every area shares: the declarative base, column types and the engine factory.

Pure SQLAlchemy (no Flask) so that the ledger and other services can use it from any interface.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Engine,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    create_engine,
    event,
    exc,
)
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """A timestamp stored as naive UTC and always returned timezone-aware (UTC), on every database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use portal.clock.utcnow()")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


#: Every `Mapped[int]` is 64-bit (fen and points overflow 32 bits); SQLite needs plain INTEGER for
#: its rowid primary keys, and its INTEGER is 64-bit anyway.
BigInt = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), int: BigInt}


@dataclass(frozen=True)
class Timeouts:
    """How long PostgreSQL lets one connection wait, in milliseconds (0: no limit).

    `lock_ms` bounds a wait for a row or table lock (a stuck worker holding a card's purse lock
    must not stop every other payment for that card), `statement_ms` one statement's run, and
    `idle_in_transaction_ms` a transaction left open with nothing running (the server then ends the
    session, releasing its locks). Each stop rolls the whole transaction back: see `is_busy`.
    """

    lock_ms: int = 0
    statement_ms: int = 0
    idle_in_transaction_ms: int = 0


#: PostgreSQL: seconds to wait for a new connection unless DB_CONNECT_TIMEOUT_S says otherwise (libpq's
#: connect_timeout): a server that drops packets must not hold a request, or /readyz, for minutes.
DEFAULT_CONNECT_TIMEOUT_S = 5

#: SQLite's own wait for the database's write lock (its only lock); "database is locked" after it.
SQLITE_BUSY_SECONDS = 30.0


def make_engine(
    url: str,
    *,
    echo: bool = False,
    pool_size: int | None = None,
    timeouts: Timeouts | None = None,
    pooled: bool = True,
    connect_timeout_s: int = DEFAULT_CONNECT_TIMEOUT_S,
) -> Engine:
    """Create an engine with this project's per-database settings.

    SQLite: WAL, foreign keys on, a busy timeout, and every transaction begins IMMEDIATE so that two
    writers queue for the lock instead of failing half-way with "database is locked". PostgreSQL:
    `timeouts`, if given, set on every new connection (see `set_timeouts_on_connect`), and a new
    connection gives up after `connect_timeout_s` seconds. `pooled=False`
    opens and closes a connection per use (for CLI commands: one connection, nothing to keep).
    """
    # hide_parameters: a failed statement's error (and so the log) never carries its values, which
    # can be a message body with a one-time code, a password hash or a token's hash.
    kwargs: dict = {"echo": echo, "future": True, "hide_parameters": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_SECONDS, "check_same_thread": False}
    else:
        if url.startswith("postgresql"):
            kwargs["connect_args"] = {"connect_timeout": int(connect_timeout_s)}
        if not pooled:
            kwargs["poolclass"] = NullPool
        elif pool_size is not None:
            kwargs["pool_size"] = pool_size
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    else:
        ping_when_idle(engine)
        if timeouts is not None:
            set_timeouts_on_connect(engine, timeouts)
    return engine


_SET_TIMEOUTS_SQL = (
    "SELECT set_config('lock_timeout', %(lock)s, {local}), "
    "set_config('statement_timeout', %(statement)s, {local}), "
    "set_config('idle_in_transaction_session_timeout', %(idle)s, {local})"
)


def _timeout_values(timeouts: Timeouts) -> dict[str, str]:
    return {
        "lock": str(timeouts.lock_ms),
        "statement": str(timeouts.statement_ms),
        "idle": str(timeouts.idle_in_transaction_ms),
    }


def set_timeouts_on_connect(engine: Engine, timeouts: Timeouts) -> None:
    """Set the PostgreSQL time limits on each new connection, with one statement, for its whole life.

    Why a statement on connect rather than libpq's startup `options=-c lock_timeout=...`: PgBouncer
    refuses a connection that sends startup parameters it does not know (or, listed in its
    `ignore_startup_parameters`, drops them silently), while a SET is an ordinary statement every
    pooler passes on. Why not `SET LOCAL` in every transaction: one more round trip on every payment.
    Behind PgBouncer in transaction pooling, where a session's SET stays on whichever server
    connection ran it, put the same limits on the web's database role instead
    (`ALTER ROLE ... SET lock_timeout = '3s'`, see README, Production recipe).
    """
    sql, values = _SET_TIMEOUTS_SQL.format(local="false"), _timeout_values(timeouts)

    @event.listens_for(engine, "connect")
    def _set_timeouts(dbapi_connection, _record):
        # Outside a transaction: a SET inside one is undone by the pool's first rollback.
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute(sql, values)
            cursor.close()
        finally:
            dbapi_connection.autocommit = autocommit


def set_local_timeouts(session: Session, timeouts: Timeouts) -> None:
    """Other limits for the session's current transaction only (PostgreSQL; SQLite has none): for
    work inside a request that is meant to take long, such as a streamed download."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.connection().exec_driver_sql(_SET_TIMEOUTS_SQL.format(local="true"), _timeout_values(timeouts))


#: PostgreSQL's SQLSTATEs for giving up: lock_not_available (lock_timeout, NOWAIT), query_canceled
#: (statement_timeout, a cancel), idle_in_transaction_session_timeout, and a deadlock or serialization
#: failure (the server rolled the whole transaction back: sending it again is safe).
BUSY_SQLSTATES = frozenset({"55P03", "57014", "25P03", "40P01", "40001"})
#: SQLite's primary result codes SQLITE_BUSY ("database is locked") and SQLITE_LOCKED.
_SQLITE_BUSY_CODES = (5, 6)


def is_busy(error: BaseException) -> bool:
    """Whether a database error (SQLAlchemy's, or the driver's own) means the database gave up
    waiting: a lock held elsewhere too long, a statement over its time, a transaction idle too long,
    SQLite's busy timeout. The transaction is lost whole (nothing of it can commit) and the same
    request may be sent again."""
    original = getattr(error, "orig", None) or error
    sqlstate = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if sqlstate is not None:
        return sqlstate in BUSY_SQLSTATES
    if isinstance(original, sqlite3.OperationalError):
        code = getattr(original, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in _SQLITE_BUSY_CODES
        return "database is locked" in str(original) or "database table is locked" in str(original)
    return False


#: A pooled connection idle longer than this is checked before use (see ping_when_idle).
IDLE_PING_SECONDS = 10.0


def ping_when_idle(engine: Engine, idle_seconds: float = IDLE_PING_SECONDS, monotonic=time.monotonic) -> None:
    """Check a pooled connection before use only if it sat idle for `idle_seconds`.

    `pool_pre_ping` pings on every checkout: one extra round trip per request or transfer, a
    fifth of a ledger transfer's cost. Connections go stale while idle (a database restart, a
    firewall dropping quiet connections), so the idle ones are pinged; one that fails is replaced
    before the caller sees it, and, as with pool_pre_ping, every connection older than it is
    dropped too (InvalidatePoolError). If the database restarts under load, a connection in use
    fails once: the disconnect error invalidates it and the pool, so the next requests connect
    afresh.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection, record):
        record.info["idle_since"] = monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, _proxy):
        idle_since = record.info.get("idle_since")
        if idle_since is None or monotonic() - idle_since < idle_seconds:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.InvalidatePoolError(str(error)) from error
            raise
        if alive is False:
            raise exc.InvalidatePoolError("the connection did not answer a ping")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def add_foreign_key(model: type[Base], column: str, target: str) -> None:
    """Give `model`'s `column` a foreign key to `target` ("table.column"), declared by the area that
    owns the target table. The ledger's owner columns get theirs this way, so the ledger can be
    imported and used alone without knowing any product table."""
    model.__table__.append_constraint(ForeignKeyConstraint([column], [target]))

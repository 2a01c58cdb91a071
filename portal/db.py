"""The database layer every area shares: the declarative base, column types and the engine factory.

Pure SQLAlchemy (no Flask) so that the ledger and other services can use it from any interface.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, Engine, ForeignKeyConstraint, Integer, MetaData, create_engine, event, exc
from sqlalchemy.orm import DeclarativeBase, sessionmaker
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


def make_engine(url: str, *, echo: bool = False, pool_size: int | None = None) -> Engine:
    """Create an engine with this project's per-database settings.

    SQLite: WAL, foreign keys on, a busy timeout, and every transaction begins IMMEDIATE so that two
    writers queue for the lock instead of failing half-way with "database is locked".
    """
    kwargs: dict = {"echo": echo, "future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    elif pool_size is not None:
        kwargs["pool_size"] = pool_size
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    else:
        ping_when_idle(engine)
    return engine


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
        cursor.execute("PRAGMA busy_timeout=30000")
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

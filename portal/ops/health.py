"""Readiness checks: can this process serve? The database answers, its schema is at the migrations'
head, and the rate limiter's Redis answers. Each check reads only, returns a short word (never an
error text, which may carry a host or user name), and logs why it failed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache

import redis
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.orm import Session

from config import rate_limits_in_memory
from portal.ops.logs import redact
from portal.schema import alembic_config

log = logging.getLogger(__name__)

OK, FAILED, BEHIND, NOT_USED = "ok", "failed", "not at head", "not used"
#: The schema is at a revision this code does not know: newer code has migrated it (a rolling
#: upgrade). Migrations only add what old code can ignore, so the old hosts stay ready until replaced.
AHEAD = "newer than this code"

#: Seconds a readiness probe waits for Redis before calling it down.
REDIS_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, str]

    @property
    def ready(self) -> bool:
        return all(result in (OK, NOT_USED, AHEAD) for result in self.checks.values())


@cache
def migration_heads() -> frozenset[str]:
    """The head revision(s) of the migrations shipped with this code (read once per process)."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


@cache
def known_revisions() -> frozenset[str]:
    """Every revision of the migrations shipped with this code."""
    return frozenset(script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions())


def _failed(check: str, error: BaseException) -> str:
    reason = getattr(error, "orig", None) or error
    log.warning("readiness: %s failed: %s: %s", check, type(reason).__name__, redact(str(reason))[:300])
    return FAILED


def _schema_revisions(connection: Connection) -> frozenset[str]:
    """The revisions Alembic recorded in this database; none if it has never been migrated."""
    if not inspect(connection).has_table("alembic_version"):
        return frozenset()
    return frozenset(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def check_database(session: Session) -> tuple[str, str]:
    """(database, migrations): whether the database answers, and whether its schema is at head. Uses
    the caller's session (on SQLite a second connection would wait for the request's own lock); the
    caller rolls it back."""
    try:
        connection = session.connection()
        connection.execute(text("SELECT 1"))
        current = _schema_revisions(connection)
    except Exception as error:  # noqa: BLE001  (any failure means "not ready")
        return _failed("database", error), FAILED
    if current == migration_heads():
        return OK, OK
    if current and not current <= known_revisions():
        return OK, AHEAD
    log.warning("readiness: schema at %s, migrations at %s", sorted(current), sorted(migration_heads()))
    return OK, BEHIND


def check_redis(storage_uri: str | None) -> str:
    """The rate limiter's storage: "not used" when it is in memory (development); else whether it
    answers: a PING for plain Redis, the limits library's own check for other kinds (Sentinel, cluster)."""
    if rate_limits_in_memory(storage_uri):
        return NOT_USED
    storage_uri = storage_uri.strip()
    if not storage_uri.lower().startswith(("redis://", "rediss://", "unix://")):
        return _storage_check(storage_uri)
    client = redis.Redis.from_url(
        storage_uri, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    except Exception as error:  # noqa: BLE001
        return _failed("redis", error)
    finally:
        client.close()
    return OK


def _storage_check(storage_uri: str) -> str:
    from limits.storage import storage_from_string

    try:
        return OK if storage_from_string(storage_uri).check() else _failed("redis", RuntimeError("no answer"))
    except Exception as error:  # noqa: BLE001
        return _failed("redis", error)


def readiness(session: Session, storage_uri: str | None) -> Readiness:
    database, migrations = check_database(session)
    return Readiness({"database": database, "migrations": migrations, "redis": check_redis(storage_uri)})

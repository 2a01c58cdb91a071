"""One answer per idempotency key, also when two copies of a request arrive at once.

Every money operation carries a key (a terminal's sequence number, a form's random key, a draft
batch's id, a chip's transaction counter) and follows the same three steps:

1. `claim(session, scope, key)`, before the operation reads "already done?" and before it takes
   any other lock: on PostgreSQL a transaction-level advisory lock on a 64-bit hash of scope and
   key. A second copy of the request waits there until the first commits or rolls back (the lock
   goes with the transaction, so it also works behind PgBouncer's transaction pooling). It touches
   no table and no row that other requests share: only copies of one request ever wait on it.
   SQLite needs nothing: every transaction begins IMMEDIATE, so writers already run one at a time.
2. Look for the recorded answer. PostgreSQL's READ COMMITTED gives every statement what committed
   before it began, so the copy that waited finds the first copy's row and answers with it.
3. Only then decide and write.

`answer_once` is the edge's half: a request that still loses a race on a unique key (a natural
key such as a bank reference, or a writer that did not claim) is rolled back and asked once
more, and then gets the recorded answer or the rules' own refusal, never a 500.

Pure SQLAlchemy, no Flask: rules modules call `claim`; views, the terminal API and CLI commands
(the ones that commit) call `answer_once`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import bindparam, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.ledger.errors import IdempotencyConflict

T = TypeVar("T")

_LOCK = text("SELECT pg_advisory_xact_lock(:lock_id)").bindparams(bindparam("lock_id"))


def lock_id(scope: str, *key: object) -> int:
    """The advisory lock's number for `key` in `scope`: a signed 64-bit hash (PostgreSQL's bigint).
    Two keys sharing a number (1 in 2**64) only wait for each other; nothing else changes."""
    name = "\x1f".join((scope, *(str(part) for part in key)))
    digest = hashlib.blake2b(name.encode(), digest_size=8, person=b"portal-idem").digest()
    return int.from_bytes(digest, "big", signed=True)


#: Set in `session.info` by `single_writer`.
_SINGLE_WRITER = "portal.idempotency.single_writer"


@contextmanager
def single_writer(session: Session) -> Iterator[None]:
    """Claims are skipped inside: for a job that is the only writer of its keys and books thousands
    of operations in one transaction (the demo builder), where each claim would only hold a slot of
    PostgreSQL's shared lock table until the commit."""
    session.info[_SINGLE_WRITER] = True
    try:
        yield
    finally:
        session.info.pop(_SINGLE_WRITER, None)


def claim(session: Session, scope: str, *key: object, reread: tuple[object, ...] = ()) -> None:
    """Wait until no other transaction works on `key` in `scope`, and keep it until this one ends.

    Call it first, before reading whether the operation was already done. Objects the caller loaded
    before the claim are in `reread`: they are read again once the claim is held (PostgreSQL; on
    SQLite they were read inside this writer's transaction, so they are current already)."""
    connection = session.connection()
    if connection.dialect.name != "postgresql" or session.info.get(_SINGLE_WRITER):
        return
    connection.execute(_LOCK, {"lock_id": lock_id(scope, *key)})
    for obj in reread:
        session.refresh(obj)


def claim_in_statement(session: Session, scope: str, *key: object) -> int | None:
    """The advisory lock's number for a caller that takes the claim inside its own first statement
    (one round trip less: see `portal.purchases.pump.FACTS_CLAIMING`), or None when no claim is
    needed (SQLite, `single_writer`). The same lock as `claim` takes, with the same rules: taken
    before anything else is locked, before the operation reads whether it was already done."""
    if session.connection().dialect.name != "postgresql" or session.info.get(_SINGLE_WRITER):
        return None
    return lock_id(scope, *key)


def answer_once(session: Session, action: Callable[[], T]) -> T:
    """`action()`; if it lost a race on a unique key, roll back and run it once more.

    The loser's unique violation (or the ledger's "another transaction recorded one of this batch's
    ids") means the winner has committed: the second run finds its row and replays it, or refuses
    as the rules say. A second failure propagates."""
    try:
        return action()
    except (IntegrityError, IdempotencyConflict):
        session.rollback()
        return action()

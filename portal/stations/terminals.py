"""Station terminals and their API keys. A key is shown once at creation; only its SHA-256 is kept.

SHA-256 (not bcrypt) is right here: the key is 32 random bytes, not a password, so it cannot be
guessed from its hash, and every authorization must look it up in microseconds.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, make_transient_to_detached

from portal.audit.services import record
from portal.reference.models import Station
from portal.stations.models import Terminal

#: Keys look like "pt_<43 url-safe characters>"; the prefix tells people what the string is.
KEY_PREFIX = "pt_"
#: Characters of the key shown to admins to tell keys apart.
SHOWN_PREFIX_LENGTH = 10


class TerminalError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_terminal(
    session: Session, station: Station, name: str, *, now: datetime, actor_id: int | None = None
) -> tuple[Terminal, str]:
    """A new terminal and its API key (the only time the key exists in clear)."""
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise TerminalError("bad_name", "A terminal needs a name of 1 to 64 characters.")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    terminal = Terminal(
        station_id=station.id, name=name, key_prefix=key[:SHOWN_PREFIX_LENGTH], key_hash=hash_key(key), created_at=now
    )
    session.add(terminal)
    session.flush()
    record(
        session,
        "terminal.create",
        actor_id=actor_id,
        region_id=station.region_id,
        detail={"terminal_id": terminal.id, "station": station.code, "name": name},
        now=now,
    )
    return terminal, key


def revoke_terminal(session: Session, terminal: Terminal, *, now: datetime, actor_id: int | None = None) -> None:
    """Refuse the terminal's key from now on (idempotent)."""
    if terminal.revoked_at is not None:
        return
    terminal.revoked_at = now
    session.flush()
    record(session, "terminal.revoke", actor_id=actor_id, detail={"terminal_id": terminal.id}, now=now)


#: Every terminal request starts with this lookup, so it is built once, and its row becomes the
#: Terminal directly rather than through the ORM's loading of a query.
_terminals = Terminal.__table__
_BY_KEY_HASH = select(_terminals).where(_terminals.c.key_hash == bindparam("key_hash"))


def terminal_for_key(session: Session, key: str | None) -> Terminal | None:
    """The active terminal holding `key`, or None (unknown, malformed or revoked)."""
    if not key or not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    session.flush()  # a Core statement: what the session holds must be in the database first
    row = session.execute(_BY_KEY_HASH, {"key_hash": hash_key(key)}).first()
    if row is None or row.revoked_at is not None:
        return None
    terminal = session.identity_map.get(session.identity_key(Terminal, row.id))
    if terminal is None:  # as a query would load it: one already in the session wins
        terminal = Terminal(**row._mapping)
        make_transient_to_detached(terminal)
        session.add(terminal)
    return terminal

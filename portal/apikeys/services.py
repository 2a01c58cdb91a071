"""The rules of API keys: create, check, record use, revoke; and pruning old idempotency records.

A token is `fcp_<prefix>_<secret>`: the prefix (12 characters, public) finds the key's row through
a unique index, the secret (43 characters, 256 random bits) is compared in constant time with the
stored SHA-256. SHA-256 (not bcrypt) is right: the secret is random, not a password, so its hash
cannot be guessed, and every API request checks it.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal.apikeys.models import ApiIdempotency, ApiKey
from portal.audit.services import record
from portal.clock import BUSINESS_TZ, business_date
from portal.stations.terminals import hash_key

TOKEN_PREFIX = "fcp_"
PREFIX_LENGTH = 12
#: The longest token worth looking at (anything longer is refused unread).
MAX_TOKEN_LENGTH = 100

#: scope -> what it allows. `read` covers every GET; the others each cover one area's writes.
SCOPES: dict[str, str] = {
    "read": "read everything (every GET)",
    "cards": "card writes: controls, templates, loss, cancel, replace",
    "drivers": "driver and vehicle writes",
    "funds": "allocations, collections, chip loads",
    "points": "points redemption",
    "alerts": "acknowledge alerts",
    "webhooks": "manage webhook endpoints",
}
MAX_NAME_LENGTH = 64
#: Most networks in one key's allowlist.
MAX_NETWORKS = 20


class ApiKeyError(Exception):
    """A key that cannot be created as asked; `code` is stable (the web layer words it)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


#: The furthest ahead a key's expiry may be set.
MAX_EXPIRY = timedelta(days=3 * 366)


def expiry(day: date, now: datetime) -> datetime:
    """The instant a key chosen to be valid through `day` (Asia/Shanghai) stops working: the next
    midnight there. ApiKeyError unless that is after `now` and within MAX_EXPIRY."""
    if not business_date(now) <= day <= business_date(now + MAX_EXPIRY):
        raise ApiKeyError("bad_expiry", "the expiry date must be from today to three years ahead")
    return datetime.combine(day + timedelta(days=1), time(0), BUSINESS_TZ).astimezone(UTC)


def split_networks(text: str) -> list[str]:
    """The entries of an allowlist typed one per line (or separated by commas or spaces)."""
    return [part for part in re.split(r"[\s,;]+", text or "") if part]


#: Keys' secrets are hashed as the terminals' keys are: high-entropy, so one SHA-256 is enough.
hash_secret = hash_key


def parse_networks(lines: list[str]) -> list[str]:
    """CIDR networks (or single addresses) in their normal form; ApiKeyError for one that is not."""
    networks = []
    for line in lines:
        text = line.strip()
        if not text:
            continue
        try:
            networks.append(str(ipaddress.ip_network(text, strict=False)))
        except ValueError:
            raise ApiKeyError("bad_network", f"not an address or network: {text[:50]!r}") from None
    if len(networks) > MAX_NETWORKS:
        raise ApiKeyError("too_many_networks", f"at most {MAX_NETWORKS} networks")
    return sorted(set(networks))


def create_key(
    session: Session,
    *,
    customer_id: int,
    name: str,
    scopes: list[str] | set[str],
    actor_id: int | None,
    now: datetime,
    expires_at: datetime | None = None,
    networks: list[str] | None = None,
    ip: str = "",
) -> tuple[ApiKey, str]:
    """A new key and its token (the only time the token exists in clear). Audited."""
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ApiKeyError("bad_name", f"a key needs a name of 1 to {MAX_NAME_LENGTH} characters")
    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes:
        raise ApiKeyError("bad_scopes", "choose at least one scope of " + ", ".join(SCOPES))
    if expires_at is not None and expires_at <= now:
        raise ApiKeyError("bad_expiry", "the expiry must be in the future")
    prefix, secret = secrets.token_hex(PREFIX_LENGTH // 2), secrets.token_urlsafe(32)
    key = ApiKey(
        customer_id=customer_id,
        name=name,
        prefix=prefix,
        secret_hash=hash_secret(secret),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
        allowed_networks=parse_networks(networks or []),
        created_by=actor_id,
        created_at=now,
        last_used_ip="",
    )
    session.add(key)
    session.flush()
    record(
        session, "apikeys.create", actor_id=actor_id, customer_id=customer_id, ip=ip, now=now,
        detail={"api_key_id": key.id, "api_key_name": name, "prefix": prefix, "scopes": key.scopes},
    )  # fmt: skip
    return key, f"{TOKEN_PREFIX}{prefix}_{secret}"


def revoke_key(session: Session, key: ApiKey, *, actor_id: int | None, now: datetime, ip: str = "") -> None:
    """Refuse the key from now on (idempotent). Audited."""
    if key.revoked_at is not None:
        return
    key.revoked_at, key.revoked_by = now, actor_id
    session.flush()
    record(
        session, "apikeys.revoke", actor_id=actor_id, customer_id=key.customer_id, ip=ip, now=now,
        detail={"api_key_id": key.id, "api_key_name": key.name, "prefix": key.prefix},
    )  # fmt: skip


def customer_keys(session: Session, customer_id: int) -> list[ApiKey]:
    """The customer's keys, newest first (revoked ones too: the list shows their state)."""
    stmt = select(ApiKey).where(ApiKey.customer_id == customer_id).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    return list(session.scalars(stmt))


def key_for_token(session: Session, token: str | None) -> ApiKey | None:
    """The key whose token this is (revoked and expired ones too: the caller decides), or None."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.startswith(TOKEN_PREFIX):
        return None
    prefix, _, secret = token[len(TOKEN_PREFIX) :].partition("_")
    if len(prefix) != PREFIX_LENGTH or not secret:
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None or not hmac.compare_digest(key.secret_hash, hash_secret(secret)):
        return None
    return key


def is_usable(key: ApiKey, now: datetime) -> bool:
    """Not revoked and not expired."""
    return key.revoked_at is None and (key.expires_at is None or key.expires_at > now)


def state(key: ApiKey, now: datetime) -> str:
    """ "revoked", "expired" or "active" (what the key list shows)."""
    if key.revoked_at is not None:
        return "revoked"
    return "active" if is_usable(key, now) else "expired"


def address_allowed(key: ApiKey, address: str) -> bool:
    """Whether `address` is in the key's allowlist (an empty list allows any address)."""
    if not key.allowed_networks:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network) for network in key.allowed_networks)


#: A key's last use is written at most this often (reads would otherwise write on every request).
LAST_USE_EVERY = timedelta(minutes=1)


def needs_use_recorded(key: ApiKey, now: datetime) -> bool:
    return key.last_used_at is None or now - key.last_used_at >= LAST_USE_EVERY


def record_use(session: Session, key: ApiKey, *, ip: str, now: datetime) -> None:
    key.last_used_at, key.last_used_ip = now, ip[:45]
    session.flush()


#: Idempotency records are kept this long; a client retrying after that is a new request.
IDEMPOTENCY_KEEP = timedelta(days=7)


def prune_idempotency(session: Session, *, now: datetime, keep: timedelta = IDEMPOTENCY_KEEP) -> int:
    """Delete idempotency records older than `keep`; their count."""
    result = session.execute(delete(ApiIdempotency).where(ApiIdempotency.created_at < now - keep))
    return result.rowcount or 0

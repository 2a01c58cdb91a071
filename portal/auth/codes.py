"""One-time codes: 6-digit codes (registration) and 256-bit link tokens (recovery). Only hashes are stored.

Every code and link is issued here, and none goes out beyond the send limits: per phone number or mail
address, and per account (the user for links, the customer for registration codes), so many per hour
and per day, counted in this table whatever client address or host asked.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import idempotency
from portal.auth.models import OneTimeCode, User

#: Registration codes: valid 10 minutes, dead after 5 wrong guesses.
REGISTER_CODE_LIFETIME = timedelta(minutes=10)
REGISTER_CODE_ATTEMPTS = 5
#: Recovery links: valid 30 minutes, single use, and dead once a newer link is sent to the same user
#: or the user's password changes by any path.
RECOVER_LINK_LIFETIME = timedelta(minutes=30)


@dataclass(frozen=True)
class SendLimits:
    """Codes and links sent to one destination or one account: at most `per_hour` in any hour and
    `per_day` in any 24 hours (config CODE_SEND_LIMIT_PER_HOUR / CODE_SEND_LIMIT_PER_DAY)."""

    per_hour: int = 5
    per_day: int = 10

    @classmethod
    def from_config(cls, config) -> SendLimits:
        return cls(config.get("CODE_SEND_LIMIT_PER_HOUR", 5), config.get("CODE_SEND_LIMIT_PER_DAY", 10))


DEFAULT_SEND_LIMITS = SendLimits()
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


class TooManySent(Exception):
    """The send limit is reached for this destination or account; nothing was issued. `retry_at`: the
    first moment one more may go."""

    def __init__(self, retry_at: datetime):
        super().__init__(f"send limit reached until {retry_at.isoformat()}")
        self.retry_at = retry_at


def channel_for(contact: str) -> str:
    return "email" if "@" in contact else "sms"


def contact_key(contact: str) -> str:
    """A phone number or mail address as one key however it is written: an address in one case; a
    phone number's digits, without a leading +86 / 0086 (mainland numbers are the same with it)."""
    contact = unicodedata.normalize("NFKC", contact)  # full-width digits and letters, as typed in Chinese
    if "@" in contact:
        return contact.strip().casefold()
    digits = "".join(char for char in contact if char.isascii() and char.isdigit())
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11 and digits[len(prefix)] == "1":
            return digits[len(prefix) :]
    return digits


def masked_contact(contact: str) -> str:
    """Where a code went, as pages may show it: "138****1234" (a phone's first three and last four
    digits), "z***@example.cn" (an address's first character and its domain)."""
    contact = unicodedata.normalize("NFKC", contact or "").strip()
    if "@" in contact:
        local, _, domain = contact.rpartition("@")
        return f"{local[:1]}***@{domain}"
    digits = contact_key(contact)
    if len(digits) < 8:
        return "****" + digits[-2:]
    return f"{digits[:3]}****{digits[-4:]}"


def _salted(code: str, salt: str) -> str:
    return salt + "$" + hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def link_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def check_send_limit(
    session: Session,
    *,
    destination: str,
    now: datetime,
    limits: SendLimits,
    user_id: int | None = None,
    customer_id: int | None = None,
) -> None:
    """Raise TooManySent if one more code or link to `destination` (or for the user or customer) would
    pass the limits. On PostgreSQL the keys are locked first, so concurrent requests count each other."""
    key = contact_key(destination)
    keys = {f"to:{key}": OneTimeCode.destination_key == key} if key else {}  # "": rows from before 0010
    if user_id is not None:
        keys[f"user:{user_id}"] = OneTimeCode.user_id == user_id
    if customer_id is not None:
        keys[f"customer:{customer_id}"] = OneTimeCode.customer_id == customer_id
    for name in sorted(keys):  # PostgreSQL: concurrent requests count each other
        idempotency.claim(session, "one-time-codes", name)
    waits = [wait for wait in (_free_at(session, where, now, limits) for where in keys.values()) if wait]
    if waits:
        raise TooManySent(max(waits))


def _free_at(session: Session, where, now: datetime, limits: SendLimits) -> datetime | None:
    """When one more may be sent under `where` (None: now). Reads at most `per_day` rows, newest first."""
    sent = session.scalars(
        select(OneTimeCode.created_at)
        .where(where, OneTimeCode.created_at > now - DAY)
        .order_by(OneTimeCode.created_at.desc())
        .limit(limits.per_day)
    ).all()
    last_hour = [at for at in sent if at > now - HOUR]
    waits = []
    if len(last_hour) >= limits.per_hour:
        waits.append(last_hour[limits.per_hour - 1] + HOUR)
    if len(sent) >= limits.per_day:
        waits.append(sent[limits.per_day - 1] + DAY)
    return max(waits, default=None)


def issue_numeric_code(
    session: Session,
    *,
    customer_id: int,
    destination: str,
    now: datetime,
    limits: SendLimits = DEFAULT_SEND_LIMITS,
) -> tuple[OneTimeCode, str]:
    """A 6-digit registration code for a customer; returns the row and the code to send.
    Raises TooManySent past the send limits (for the destination or the customer)."""
    check_send_limit(session, destination=destination, customer_id=customer_id, now=now, limits=limits)
    code = f"{secrets.randbelow(10**6):06d}"
    row = OneTimeCode(
        purpose="register",
        code_hash=_salted(code, secrets.token_hex(8)),
        customer_id=customer_id,
        channel=channel_for(destination),
        destination=destination,
        destination_key=contact_key(destination),
        created_at=now,
        expires_at=now + REGISTER_CODE_LIFETIME,
    )
    session.add(row)
    session.flush()
    return row, code


def numeric_code_matches(row: OneTimeCode, code: str) -> bool:
    salt = row.code_hash.split("$", 1)[0]
    return hmac.compare_digest(_salted(code.strip(), salt), row.code_hash)


def numeric_code_usable(row: OneTimeCode | None, now: datetime) -> bool:
    return (
        row is not None
        and row.purpose == "register"
        and row.used_at is None
        and row.attempts < REGISTER_CODE_ATTEMPTS
        and now < row.expires_at
    )


def issue_link_token(
    session: Session, *, user_id: int, destination: str, now: datetime, limits: SendLimits = DEFAULT_SEND_LIMITS
) -> tuple[OneTimeCode, str]:
    """A recovery link token for a user; returns the row and the token to put in the link.
    Raises TooManySent past the send limits (for the destination or the user)."""
    check_send_limit(session, destination=destination, user_id=user_id, now=now, limits=limits)
    token = secrets.token_urlsafe(32)
    row = OneTimeCode(
        purpose="recover",
        code_hash=link_token_hash(token),
        user_id=user_id,
        channel=channel_for(destination),
        destination=destination,
        destination_key=contact_key(destination),
        created_at=now,
        expires_at=now + RECOVER_LINK_LIFETIME,
    )
    session.add(row)
    session.flush()
    return row, token


def find_link(session: Session, token: str, now: datetime) -> OneTimeCode | None:
    """The live recovery row for a link token, else None. Live: unused, unexpired, the newest link
    sent to its user, and issued after the user's password last changed."""
    row = session.scalar(
        select(OneTimeCode).where(OneTimeCode.code_hash == link_token_hash(token), OneTimeCode.purpose == "recover")
    )
    if row is None or row.used_at is not None or now >= row.expires_at:
        return None
    if _superseded(session, row):
        return None
    return row


def _superseded(session: Session, row: OneTimeCode) -> bool:
    """A newer recovery link went to the same user, or their password changed after this one was sent."""
    newer = session.scalar(
        select(OneTimeCode.id)
        .where(OneTimeCode.user_id == row.user_id, OneTimeCode.purpose == "recover", OneTimeCode.id > row.id)
        .limit(1)
    )
    user = session.get(User, row.user_id)
    return newer is not None or user is None or user.password_changed_at > row.created_at

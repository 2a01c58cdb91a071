"""One-time codes: 6-digit codes (registration) and 256-bit link tokens (recovery). Only hashes are stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.auth.models import OneTimeCode, User

#: Registration codes: valid 10 minutes, dead after 5 wrong guesses.
REGISTER_CODE_LIFETIME = timedelta(minutes=10)
REGISTER_CODE_ATTEMPTS = 5
#: Recovery links: valid 30 minutes, single use, and dead once a newer link is sent to the same user
#: or the user's password changes by any path.
RECOVER_LINK_LIFETIME = timedelta(minutes=30)


def channel_for(contact: str) -> str:
    return "email" if "@" in contact else "sms"


def _salted(code: str, salt: str) -> str:
    return salt + "$" + hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def link_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def issue_numeric_code(
    session: Session, *, customer_id: int, destination: str, now: datetime
) -> tuple[OneTimeCode, str]:
    """A 6-digit registration code for a customer; returns the row and the code to send."""
    code = f"{secrets.randbelow(10**6):06d}"
    row = OneTimeCode(
        purpose="register",
        code_hash=_salted(code, secrets.token_hex(8)),
        customer_id=customer_id,
        channel=channel_for(destination),
        destination=destination,
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


def issue_link_token(session: Session, *, user_id: int, destination: str, now: datetime) -> tuple[OneTimeCode, str]:
    """A recovery link token for a user; returns the row and the token to put in the link."""
    token = secrets.token_urlsafe(32)
    row = OneTimeCode(
        purpose="recover",
        code_hash=link_token_hash(token),
        user_id=user_id,
        channel=channel_for(destination),
        destination=destination,
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

"""Sign-in rules, usable from any interface. Services flush; the caller commits."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.audit.services import record
from portal.auth import throttle
from portal.auth.models import LoginSession, User
from portal.auth.passwords import check_password, dummy_check, hash_password
from portal.auth.policy import PasswordPolicy
from portal.auth.throttle import LockoutPolicy
from portal.cards.models import Card
from portal.customers.models import Customer

DEFAULT_LOCKOUT = LockoutPolicy()

#: A card number as printed (16 digits; up to 19 allowed by the column).
CARD_NUMBER = re.compile(r"[0-9]{16,19}")


class PasswordRejected(Exception):
    """A new password breaks the policy; `problems` lists every rule it breaks."""

    def __init__(self, problems: list):
        super().__init__(f"password breaks {len(problems)} rule(s)")  # lazy texts: rendered by the caller
        self.problems = problems


def card_numbers_of(session: Session, customer_id: int | None) -> list[str]:
    """A customer's card numbers: a password may not contain any of them."""
    if customer_id is None:
        return []
    return list(session.scalars(select(Card.number).where(Card.customer_id == customer_id)))


class UsernameTaken(Exception):
    """Another account has this user name (in any case). Whose it is is never said, so a name cannot be
    probed for the company that owns it; `suggestion` is a free name like it to offer instead."""

    def __init__(self, suggestion: str):
        super().__init__("user name in use")
        self.suggestion = suggestion


#: Suggested names fit every form that chooses one (registration allows 32 characters, drivers 64).
SUGGESTION_MAX_LENGTH = 32


class SignInError(Exception):
    """Sign-in refused. The message never says whether the account exists."""


class AccountLocked(SignInError):
    """Too many failures: refused until `until`, even with the right password."""

    def __init__(self, until: datetime):
        super().__init__("locked")
        self.until = until


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    rounds: int,
    now: datetime,
    policy: PasswordPolicy | None = None,
    **fields,
) -> User:
    """Create a user. The name must be free (raises UsernameTaken, see `claim_username`); with a
    `policy`, the password must pass it (raises PasswordRejected)."""
    username = claim_username(session, username)
    if policy is not None:
        problems = policy.problems(
            password, username=username, card_numbers=card_numbers_of(session, fields.get("customer_id"))
        )
        if problems:
            raise PasswordRejected(problems)
    user = User(
        username=username,
        password_hash=hash_password(password, rounds),
        role=role,
        password_changed_at=now,
        created_at=now,
        **fields,
    )
    session.flush()  # what the caller added before (a driver's record) goes in outside the savepoint
    try:
        with session.begin_nested():  # a name claimed by a request running at the same time
            session.add(user)
    except IntegrityError as error:
        if "username" not in str(error.orig):  # another constraint: a bug, not a taken name
            raise
        raise UsernameTaken(suggest_username(session, username)) from None
    return user


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.username) == username.strip().lower()))


def claim_username(session: Session, username: str) -> str:
    """The one check of a chosen user name, wherever it is chosen: `username` stripped if no account
    has it (in any case), else UsernameTaken with a free suggestion, the same whoever has the name."""
    username = username.strip()
    if find_user(session, username) is None:
        return username
    raise UsernameTaken(suggest_username(session, username))


def suggest_username(session: Session, taken: str) -> str:
    """A free user name like `taken`: it with random digits added (random, so that suggestions say
    nothing about which similar names exist)."""
    for attempt in range(30):
        digits = str(secrets.randbelow(9 * 10 ** (2 + attempt // 10)) + 10 ** (2 + attempt // 10))
        candidate = taken[: SUGGESTION_MAX_LENGTH - len(digits)] + digits
        if find_user(session, candidate) is None:
            return candidate
    return "user" + secrets.token_hex(6)  # 30 misses in a row: not a name people pick


def user_region_id(session: Session, user: User) -> int | None:
    """The region a user belongs to (None: system admins, who may sign in under any region)."""
    if user.region_id is not None:
        return user.region_id
    if user.customer_id is not None:
        return session.scalar(select(Customer.region_id).where(Customer.id == user.customer_id))
    return None


def find_sign_in_user(session: Session, identifier: str, region_id: int | None = None) -> User | None:
    """The account an identifier names: a user name, or a main card number.

    A main card number signs in the customer's *first* fleet admin (the lowest id, normally the one who
    registered); a customer's other admins sign in with their user names. With `region_id` (选择地区),
    accounts of other regions are not found, as if they did not exist.
    """
    identifier = identifier.strip()
    if CARD_NUMBER.fullmatch(identifier):
        user = session.scalar(
            select(User)
            .join(Card, Card.customer_id == User.customer_id)
            .where(Card.number == identifier, Card.role == "main", User.role == "admin", User.active.is_(True))
            .order_by(User.id)
            .limit(1)
        )
    else:
        user = find_user(session, identifier)
    if user is not None and region_id is not None:
        home = user_region_id(session, user)
        if home is not None and home != region_id:
            return None
    return user


def captcha_required(
    session: Session, identifier: str, ip: str, *, now: datetime, lockout: LockoutPolicy = DEFAULT_LOCKOUT
) -> bool:
    """After `captcha_after` failures for the typed name or the address, sign-in needs a captcha."""
    if throttle.failures(session, throttle.address_key(ip), now, lockout.address_window) >= lockout.captcha_after:
        return True
    return bool(identifier) and throttle.failures(session, throttle.name_key(identifier), now) >= lockout.captcha_after


def authenticate(
    session: Session,
    identifier: str,
    password: str,
    *,
    now: datetime,
    ip: str = "",
    rounds: int = 12,
    region_id: int | None = None,
    lockout: LockoutPolicy = DEFAULT_LOCKOUT,
) -> User:
    """Check an identifier (user name or main card number) and password; count and record failures.

    Raises AccountLocked while locked (and at the failure that locks), SignInError on any other failure.
    Unknown names go through the same counting as real ones (see `throttle`).
    """
    user = find_sign_in_user(session, identifier, region_id)
    key = throttle.name_key(identifier)
    locked_until = user.locked_until if user is not None else throttle.name_locked_until(session, identifier, now)
    if locked_until is not None and now < locked_until:
        record(
            session,
            "auth.sign_in_locked",
            user_id=user and user.id,
            ip=ip,
            now=now,
            customer_id=user and user.customer_id,
            detail={"identifier": identifier[:64]},
        )
        raise AccountLocked(locked_until)
    if user is not None and check_password(password, user.password_hash) and user.active:
        user.failed_sign_ins, user.locked_until = 0, None
        throttle.clear(session, key)
        return user
    if user is None:
        dummy_check(password, rounds)
    locked_until = _count_failure(session, user, identifier, now=now, ip=ip, lockout=lockout)
    if locked_until is not None:
        raise AccountLocked(locked_until)
    raise SignInError("mismatch")


def _count_failure(
    session: Session, user: User | None, identifier: str, *, now: datetime, ip: str, lockout: LockoutPolicy
) -> datetime | None:
    """Count and record a failed sign-in (by address, by name, on the user); lock the name or the
    user when the failures reach the limit. Returns the end of the lock it set, else None."""
    throttle.count_failure(session, throttle.address_key(ip), now, lockout.address_window)
    name_key = throttle.name_key(identifier)
    failures = throttle.count_failure(session, name_key, now)
    record(
        session,
        "auth.sign_in_failed",
        user_id=user and user.id,
        customer_id=user and user.customer_id,
        ip=ip,
        detail={"identifier": identifier[:64]},
        now=now,
    )
    if user is not None:
        failures = throttle.count_user_failure(session, user)
    if failures < lockout.max_failures:
        session.flush()
        return None
    until = now + lockout.lock_for
    throttle.lock_name(session, name_key, until if user is None else None)
    if user is not None:
        user.failed_sign_ins, user.locked_until = 0, until
    record(
        session,
        "auth.locked",
        user_id=user and user.id,
        customer_id=user and user.customer_id,
        ip=ip,
        detail={"identifier": identifier[:64], "until": until.isoformat()},
        now=now,
    )
    session.flush()
    return until


def start_session(session: Session, user: User, *, now: datetime, ip: str = "", user_agent: str = "") -> str:
    """Open a server-side session and return its token (only the token's hash is stored)."""
    token = secrets.token_urlsafe(32)
    session.add(
        LoginSession(
            user_id=user.id,
            customer_id=user.customer_id,
            token_hash=token_hash(token),
            created_at=now,
            last_seen_at=now,
            reauthenticated_at=now,
            ip=ip[:45],
            user_agent=user_agent[:256],
        )
    )
    record(session, "auth.sign_in", actor_id=user.id, user_id=user.id, customer_id=user.customer_id, ip=ip, now=now)
    session.flush()
    return token


def resume_session(session: Session, token: str, *, now: datetime, policy: SessionPolicy) -> LoginSession | None:
    """The live session for a cookie's token, or None if unknown, revoked, idle or too old."""
    login = session.scalar(select(LoginSession).where(LoginSession.token_hash == token_hash(token)))
    if login is None or login.revoked_at is not None:
        return None
    if now - login.last_seen_at > policy.idle or now - login.created_at > policy.absolute:
        login.revoked_at = now
        return None
    # Touch at most once a minute: a write per request would serialise every page view.
    if now - login.last_seen_at > timedelta(minutes=1):
        login.last_seen_at = now
    return login


def end_session(session: Session, login: LoginSession, *, now: datetime, ip: str = "") -> None:
    login.revoked_at = now
    record(session, "auth.sign_out", actor_id=login.user_id, user_id=login.user_id, ip=ip, now=now)


def end_all_sessions(session: Session, user_id: int, *, now: datetime, except_id: int | None = None) -> None:
    """Revoke every live session of a user (password change, reset), optionally keeping one."""
    stmt = update(LoginSession).where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
    if except_id is not None:
        stmt = stmt.where(LoginSession.id != except_id)
    session.execute(stmt.values(revoked_at=now))

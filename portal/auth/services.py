"""Sign-in rules, usable from any interface. Services flush; the caller commits."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.audit.services import record
from portal.auth.models import LoginSession, User
from portal.auth.passwords import check_password, dummy_check, hash_password


class SignInError(Exception):
    """Sign-in refused. The message never says whether the account exists."""


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
    **fields,
) -> User:
    user = User(
        username=username,
        password_hash=hash_password(password, rounds),
        role=role,
        password_changed_at=now,
        created_at=now,
        **fields,
    )
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.username) == username.strip().lower()))


def authenticate(
    session: Session, username: str, password: str, *, now: datetime, ip: str = "", rounds: int = 12
) -> User:
    """Check a user name and password; record the attempt. Raises SignInError on any failure."""
    user = find_user(session, username)
    if user is None:
        dummy_check(password, rounds)
        record(session, "auth.sign_in_failed", ip=ip, detail={"username": username[:64]}, now=now)
        raise SignInError("unknown")
    if not check_password(password, user.password_hash) or not user.active:
        user.failed_sign_ins += 1
        record(session, "auth.sign_in_failed", user_id=user.id, customer_id=user.customer_id, ip=ip, now=now)
        raise SignInError("mismatch")
    user.failed_sign_ins = 0
    return user


def start_session(session: Session, user: User, *, now: datetime, ip: str = "", user_agent: str = "") -> str:
    """Open a server-side session and return its token (only the token's hash is stored)."""
    token = secrets.token_urlsafe(32)
    session.add(
        LoginSession(
            user_id=user.id,
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

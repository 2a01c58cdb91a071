"""Setting passwords (change, recovery, staff reset) and unlocking. Every path goes through
`set_password`, so the policy and the history apply everywhere; every path ends the user's sessions."""

from __future__ import annotations

import secrets
import string
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit.services import record
from portal.auth import codes, throttle
from portal.auth.models import OneTimeCode, PasswordHistory, User
from portal.auth.passwords import check_password, hash_password
from portal.auth.policy import PasswordPolicy
from portal.auth.services import PasswordRejected, card_numbers_of, end_all_sessions, find_user, user_region_id
from portal.auth.throttle import LockoutPolicy

#: Sign-in's defaults (5 failures lock for 30 minutes); views pass the configured policy.
DEFAULT_LOCKOUT = LockoutPolicy()


class WrongPassword(Exception):
    """The current password given to confirm an action is not correct. `locked`: this failure was the
    one that locked the account (every session of the user has ended)."""

    def __init__(self, locked: bool = False):
        super().__init__("wrong password" + (" (account locked)" if locked else ""))
        self.locked = locked


def _wrong_password(session: Session, user: User, action: str, *, now: datetime, ip: str, lockout: LockoutPolicy):
    """Record a wrong password typed inside a signed-in session and count it on the user, with the
    failed sign-ins: at the limit the account locks as at sign-in and every session of the user ends.
    Raises WrongPassword either way."""
    record(session, action, actor_id=user.id, user_id=user.id, ip=ip, now=now)
    if throttle.count_user_failure(session, user) < lockout.max_failures:
        session.flush()
        raise WrongPassword()
    user.failed_sign_ins, user.locked_until = 0, now + lockout.lock_for
    end_all_sessions(session, user.id, now=now)
    record(
        session,
        "auth.locked_in_session",
        actor_id=user.id,
        user_id=user.id,
        customer_id=user.customer_id,
        ip=ip,
        detail={"until": user.locked_until.isoformat()},
        now=now,
    )
    session.flush()
    raise WrongPassword(locked=True)


def recent_hashes(session: Session, user: User, count: int) -> list[str]:
    """The current and previous password hashes, newest first."""
    older = session.scalars(
        select(PasswordHistory.password_hash)
        .where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.set_at.desc(), PasswordHistory.id.desc())
        .limit(max(count - 1, 0))
    )
    return [user.password_hash, *older]


def set_password(
    session: Session, user: User, password: str, *, policy: PasswordPolicy, rounds: int, now: datetime
) -> None:
    """Replace a user's password if the policy accepts it (else PasswordRejected, nothing changed)."""
    problems = policy.problems(
        password,
        username=user.username,
        card_numbers=card_numbers_of(session, user.customer_id),
        recent_hashes=recent_hashes(session, user, policy.history),
    )
    if problems:
        raise PasswordRejected(problems)
    session.add(
        PasswordHistory(
            user_id=user.id,
            customer_id=user.customer_id,
            password_hash=user.password_hash,
            set_at=user.password_changed_at,
        )
    )
    user.password_hash = hash_password(password, rounds)
    user.password_changed_at = now
    user.must_change_password = False
    user.failed_sign_ins, user.locked_until = 0, None
    session.flush()
    _trim_history(session, user, keep=max(policy.history - 1, 0))


def _trim_history(session: Session, user: User, keep: int) -> None:
    rows = session.scalars(
        select(PasswordHistory)
        .where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.set_at.desc(), PasswordHistory.id.desc())
        .offset(keep)
    ).all()
    for row in rows:
        session.delete(row)
    session.flush()


def confirm_password(
    session: Session, login, password: str, *, now: datetime, ip: str = "", lockout: LockoutPolicy = DEFAULT_LOCKOUT
) -> None:
    """Re-entry of the password in a signed-in session: opens the fresh-login window (see reauth).
    Wrong passwords count towards the lockout (see `_wrong_password`)."""
    user = session.get(User, login.user_id)
    if not check_password(password, user.password_hash):
        _wrong_password(session, user, "auth.reauth_failed", now=now, ip=ip, lockout=lockout)
    user.failed_sign_ins = 0
    login.reauthenticated_at = now
    session.flush()


def change_password(
    session: Session,
    user: User,
    current: str,
    new: str,
    *,
    policy: PasswordPolicy,
    rounds: int,
    now: datetime,
    ip: str = "",
    lockout: LockoutPolicy = DEFAULT_LOCKOUT,
) -> None:
    """修改密码: the current password is required; every session of the user ends (the caller starts a
    fresh one for this browser, so a copy of the old cookie is dead). Wrong current passwords count
    towards the lockout (see `_wrong_password`)."""
    if not check_password(current, user.password_hash):
        _wrong_password(session, user, "auth.password_change_failed", now=now, ip=ip, lockout=lockout)
    user.failed_sign_ins = 0
    set_password(session, user, new, policy=policy, rounds=rounds, now=now)
    end_all_sessions(session, user.id, now=now)
    record(
        session,
        "auth.password_changed",
        actor_id=user.id,
        user_id=user.id,
        customer_id=user.customer_id,
        ip=ip,
        now=now,
    )


# --- recovery (找回密码) ---------------------------------------------------------------------------


def same_contact(given: str, *on_file: str) -> bool:
    """The typed phone number or mail address is one on file, however either is written."""
    given = codes.contact_key(given)
    return bool(given) and any(given == codes.contact_key(value) for value in on_file if value)


def start_recovery(
    session: Session,
    username: str,
    contact: str,
    *,
    now: datetime,
    ip: str = "",
    limits: codes.SendLimits = codes.DEFAULT_SEND_LIMITS,
) -> tuple[OneTimeCode, str] | None:
    """A recovery link for the user if the name and registered phone/email match, else None.

    Past the send limits it is None too (recorded as `auth.recovery_limited`). The caller answers the
    same either way and sends nothing when None.
    """
    user = find_user(session, username)
    if user is None or not user.active or not same_contact(contact, user.phone, user.email):
        record(session, "auth.recovery_refused", ip=ip, detail={"username": username[:64]}, now=now)
        session.flush()
        return None
    destination = user.email if "@" in contact else user.phone
    try:
        row, token = codes.issue_link_token(session, user_id=user.id, destination=destination, now=now, limits=limits)
    except codes.TooManySent as limited:
        detail = {"until": limited.retry_at.isoformat()}
        record(
            session,
            "auth.recovery_limited",
            user_id=user.id,
            customer_id=user.customer_id,
            ip=ip,
            detail=detail,
            now=now,
        )
        session.flush()
        return None
    record(session, "auth.recovery_requested", user_id=user.id, customer_id=user.customer_id, ip=ip, now=now)
    return row, token


def finish_recovery(
    session: Session, token: str, password: str, *, policy: PasswordPolicy, rounds: int, now: datetime, ip: str = ""
) -> User:
    """Set a new password through a live recovery link (single use); every session of the user ends.
    Raises LookupError for a dead link, PasswordRejected for a bad password (the link stays usable)."""
    row = codes.find_link(session, token, now)
    if row is None:
        raise LookupError("recovery link unknown, used or expired")
    user = session.get(User, row.user_id)
    set_password(session, user, password, policy=policy, rounds=rounds, now=now)
    row.used_at = now
    end_all_sessions(session, user.id, now=now)
    record(session, "auth.password_recovered", user_id=user.id, customer_id=user.customer_id, ip=ip, now=now)
    session.flush()
    return user


# --- support staff actions -------------------------------------------------------------------------

TEMPORARY_ALPHABET = string.ascii_letters + string.digits


def temporary_password(policy: PasswordPolicy, username: str = "") -> str:
    """A random password that passes the policy (4 groups: lower, upper, digits, a symbol)."""
    while True:
        body = "".join(secrets.choice(TEMPORARY_ALPHABET) for _ in range(max(policy.min_length, 12) - 2))
        candidate = f"{body[:4]}-{body[4:]}#"
        if not policy.problems(candidate, username=username):
            return candidate


def _staff_record(session: Session, action: str, staff: User, user: User, *, now: datetime, ip: str) -> None:
    record(
        session,
        action,
        actor_id=staff.id,
        user_id=user.id,
        customer_id=user.customer_id,
        region_id=user_region_id(session, user),
        ip=ip,
        detail={"username": user.username, "staff": staff.username},
        now=now,
    )


def staff_reset_password(
    session: Session, staff: User, user: User, *, policy: PasswordPolicy, rounds: int, now: datetime, ip: str = ""
) -> str:
    """Give the user a temporary password (shown once to staff), to be changed at the next sign-in."""
    password = temporary_password(policy, user.username)
    set_password(session, user, password, policy=policy, rounds=rounds, now=now)
    user.must_change_password = True
    end_all_sessions(session, user.id, now=now)
    _staff_record(session, "support.reset_password", staff, user, now=now, ip=ip)
    session.flush()
    return password


def staff_send_reset_link(
    session: Session,
    staff: User,
    user: User,
    *,
    channel: str,
    now: datetime,
    ip: str = "",
    limits: codes.SendLimits = codes.DEFAULT_SEND_LIMITS,
) -> tuple[OneTimeCode, str] | None:
    """Send the user a recovery link to their registered email or phone (None if none is on file).
    Raises codes.TooManySent past the send limits."""
    destination = user.email if channel == "email" else user.phone
    if not destination:
        return None
    row, token = codes.issue_link_token(session, user_id=user.id, destination=destination, now=now, limits=limits)
    _staff_record(session, "support.send_reset_link", staff, user, now=now, ip=ip)
    return row, token


def unlock(session: Session, staff: User | None, user: User, *, now: datetime, ip: str = "") -> None:
    user.failed_sign_ins, user.locked_until = 0, None
    throttle.clear(session, throttle.name_key(user.username))
    if staff is not None:
        _staff_record(session, "support.unlock", staff, user, now=now, ip=ip)
    session.flush()

"""The auth blueprint, and what its view modules share.

Routes: views.py (sign in, sign out, password re-entry, the forced-change gate, the session loader),
views_password.py (change, recover, reset), views_register.py (registration). Each adds its views
to `bp`; the app imports all three (portal.app.VIEW_MODULES).
"""

from __future__ import annotations

import math
from datetime import timedelta
from functools import wraps

from flask import Blueprint, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import UserMixin, current_user, login_user, logout_user

from portal.auth import codes, services
from portal.auth.credentials import WrongPassword, confirm_password
from portal.auth.models import User
from portal.auth.policy import PasswordPolicy
from portal.auth.reauth import DEFAULT_WINDOW, is_recent
from portal.auth.throttle import LockoutPolicy
from portal.extensions import client_ip, clock, db, limiter, login_manager
from portal.web import redirects
from portal.web.access import guard
from portal.web.filters import localtime

bp = guard(Blueprint("auth", __name__, url_prefix="/auth"))

#: Remembers the region chosen at sign-in (选择地区) for a year; not sensitive.
REGION_COOKIE = "region"


class SignedIn(UserMixin):
    """Flask-Login's view of a signed-in user: the user row plus its server-side session."""

    def __init__(self, user: User, login, token: str):
        self.user = user
        self.login = login
        self._token = token

    def get_id(self) -> str:
        return self._token

    @property
    def role(self) -> str:
        return self.user.role


login_manager.login_view = "auth.sign_in"
login_manager.login_message = None
login_manager.session_protection = None  # the server-side session row is the protection


def password_policy() -> PasswordPolicy:
    return PasswordPolicy.from_config(current_app.config)


def lockout_policy() -> LockoutPolicy:
    return LockoutPolicy(**current_app.config.get("LOCKOUT", {}))


def rounds() -> int:
    return current_app.config.get("BCRYPT_ROUNDS", 12)


def send_limits() -> codes.SendLimits:
    return codes.SendLimits.from_config(current_app.config)


def username_taken(suggestion: str) -> str:
    """What every form that chooses a user name says when another account has it: the same whoever
    has it (never whose), with a free name to use instead."""
    return _("This user name is not available. You could use %(suggestion)s, or choose another.", suggestion=suggestion)


def too_many_sent(limited: codes.TooManySent) -> tuple[str, dict[str, str]]:
    """The message for a code or link refused by the send limits, and its Retry-After header."""
    seconds = max(math.ceil((limited.retry_at - clock().now()).total_seconds()), 1)
    when = localtime(limited.retry_at)
    message = _(
        "Too many codes or links have been sent to this number or address. Try again after %(time)s.", time=when
    )
    return message, {"Retry-After": str(seconds)}


def rate_limit(name: str, default: str):
    """A per-address limit on POSTs, read from config `AUTH_RATE_LIMITS[name]` at request time."""
    return limiter.limit(
        lambda: current_app.config.get("AUTH_RATE_LIMITS", {}).get(name, default),
        methods=["POST"],
        scope="auth-" + name,
    )


def safe_next(target: str | None) -> str:
    """Only a path on this site (portal.web.redirects decides), else home."""
    return redirects.safe_next(target, url_for("home.index"))


def start_signed_in_session(user: User) -> None:
    """Open a fresh server-side session for `user` in this browser (the caller commits)."""
    token = services.start_session(
        db.session, user, now=clock().now(), ip=client_ip(), user_agent=request.user_agent.string
    )
    db.session.commit()
    session.clear()  # a new session at sign-in: nothing from before carries over
    login_user(SignedIn(user, None, token))


def require_recent_password(max_age: timedelta = DEFAULT_WINDOW):
    """View decorator: the password must have been re-entered within `max_age` (see portal.auth.reauth)."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not is_recent(current_user.login, clock().now(), max_age):
                flash(_("Please enter your password again to continue."), "info")
                target = request.full_path.rstrip("?") if request.method == "GET" else request.path
                return redirect(url_for("auth.confirm_password", next=target))
            return view(*args, **kwargs)

        return wrapper

    return decorator


def signed_out_after_lock():
    """The answer to the wrong password that locked the account (credentials.WrongPassword.locked):
    every session of the user has ended, so this browser is signed out too and told why."""
    logout_user()
    session.clear()
    minutes = math.ceil(lockout_policy().lock_for.total_seconds() / 60)
    flash(
        _(
            "Too many wrong passwords: you were signed out and the account is locked for %(minutes)d minutes.",
            minutes=minutes,
        ),
        "error",
    )
    return redirect(url_for("auth.sign_in"))


def password_refused(form, now, again):
    """Check the password re-entered in `form` before money moves: None when it is right; otherwise
    the answer (signed out when it locked the account, else `again()` with the error on the field).
    The failed re-entry's audit record is committed; nothing else has changed."""
    try:
        confirm_password(
            db.session, current_user.login, form.password.data, now=now, ip=client_ip(), lockout=lockout_policy()
        )
    except WrongPassword as wrong:
        db.session.commit()
        if wrong.locked:
            return signed_out_after_lock()
        form.password.errors.append(_("The password is not correct."))
        return again()
    return None

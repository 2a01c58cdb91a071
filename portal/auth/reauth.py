"""Password re-entry before sensitive actions (money moves, cancelling a loss report).

Usage, on the view that shows the form AND on the one that handles its POST::

    from portal.auth.reauth import require_recent_password

    @bp.route("/funds/allocate", methods=["GET", "POST"])
    @requires("funds.move")
    @require_recent_password()             # default: within the last 5 minutes
    def allocate(): ...

If the password was not confirmed in this session within `max_age`, a GET is redirected to
`auth.confirm_password?next=<this page>` and comes back after the password is entered; a POST is
refused the same way (its form data is not replayed: the user submits again, which is the point).
The time is `LoginSession.reauthenticated_at` (set at sign-in and by `credentials.confirm_password`).
Services that must check it themselves can call `is_recent(login, now, max_age)`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import wraps

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.extensions import clock, login_manager

DEFAULT_WINDOW = timedelta(minutes=5)


def is_recent(login, now: datetime, max_age: timedelta = DEFAULT_WINDOW) -> bool:
    return login is not None and now - login.reauthenticated_at <= max_age


def require_recent_password(max_age: timedelta = DEFAULT_WINDOW):
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

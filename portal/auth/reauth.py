"""Password re-entry before sensitive actions (money moves, cancelling a loss report).

Usage, on the view that shows the form AND on the one that handles its POST::

    from portal.auth.web import require_recent_password

    @bp.route("/funds/allocate", methods=["GET", "POST"])
    @requires("funds.move")
    @require_recent_password()             # default: within the last 5 minutes
    def allocate(): ...

If the password was not confirmed in this session within `max_age`, a GET is redirected to
`auth.confirm_password?next=<this page>` and comes back after the password is entered; a POST is
refused the same way (its form data is not replayed: the user submits again, which is the point).
The time is `LoginSession.reauthenticated_at` (set at sign-in and by `credentials.confirm_password`).
Services that must check it themselves can call `is_recent(login, now, max_age)`.

The rule (`is_recent`) lives here; the view decorator (`require_recent_password`) is web-side and
lives in portal.auth.web.
"""

from __future__ import annotations

from datetime import datetime, timedelta

DEFAULT_WINDOW = timedelta(minutes=5)


def is_recent(login, now: datetime, max_age: timedelta = DEFAULT_WINDOW) -> bool:
    """Whether `login` (a LoginSession) confirmed its password within `max_age` before `now`."""
    return login is not None and now - login.reauthenticated_at <= max_age

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import UserMixin, login_required, login_user, logout_user
from flask_login import current_user as current_login

from portal.auth import services
from portal.auth.forms import SignInForm
from portal.auth.models import User
from portal.extensions import client_ip, clock, db, login_manager

bp = Blueprint("auth", __name__, url_prefix="/auth")


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


@login_manager.user_loader
def load_signed_in(token: str):
    policy = services.SessionPolicy(
        idle=current_app.config["SESSION_IDLE_TIMEOUT"], absolute=current_app.config["SESSION_ABSOLUTE_TIMEOUT"]
    )
    login = services.resume_session(db.session, token, now=clock().now(), policy=policy)
    if db.session.dirty:
        db.session.commit()
    if login is None:
        return None
    user = db.session.get(User, login.user_id)
    if user is None or not user.active:
        return None
    return SignedIn(user, login, token)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: no scheme, no host, no protocol-relative '//'."""
    if not target:
        return url_for("home.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("home.index")
    return target


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    """Sign in with user name and password."""
    form = SignInForm()
    if form.validate_on_submit():
        now = clock().now()
        try:
            user = services.authenticate(
                db.session,
                form.username.data,
                form.password.data,
                now=now,
                ip=client_ip(),
                rounds=current_app.config.get("BCRYPT_ROUNDS", 12),
            )
        except services.SignInError:
            db.session.commit()  # keep the failure count and the audit record
            flash(_("The user name or password is not correct."), "error")
            return render_template("auth/sign_in.html", form=form), 200
        token = services.start_session(db.session, user, now=now, ip=client_ip(), user_agent=request.user_agent.string)
        db.session.commit()
        session.clear()  # a new session at sign-in: nothing from before carries over
        login_user(SignedIn(user, None, token))
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/sign_in.html", form=form)


@bp.post("/sign-out")
@login_required
def sign_out():
    """Sign out: the server-side session is revoked, so the old cookie stops working."""
    services.end_session(db.session, current_login.login, now=clock().now(), ip=client_ip())
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.sign_in"))

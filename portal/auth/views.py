"""Sign in (with region and captcha), sign out, password re-entry, the forced-change gate, and the
session loader. The blueprint is created in portal.auth.web."""

from __future__ import annotations

from flask import Response, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from sqlalchemy import select

from portal.auth import captcha, credentials, services
from portal.auth.forms import ConfirmPasswordForm, SignInForm
from portal.auth.models import User
from portal.auth.permissions import OWN_ACCOUNT
from portal.auth.web import (
    REGION_COOKIE,
    SignedIn,
    bp,
    lockout_policy,
    password_policy,
    rate_limit,
    rounds,
    safe_next,
    signed_out_after_lock,
    start_signed_in_session,
)
from portal.extensions import client_ip, clock, db, login_manager
from portal.reference.models import Region
from portal.web.access import PUBLIC, requires
from portal.web.filters import localtime


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


#: Endpoints a user who must change their password may still reach.
_GATE_OPEN = {"auth.change_password", "auth.sign_out", "static", "shell.set_language"}


@bp.before_app_request
def require_current_password():
    """After a staff reset, or when the password has expired, nothing but changing it is allowed."""
    if not current_user.is_authenticated or request.endpoint in _GATE_OPEN:
        return None
    user = current_user.user
    policy = password_policy()
    if policy.expired(user.password_changed_at, clock().now()):
        return redirect(url_for("auth.change_password"))  # the page says the password has expired
    if user.must_change_password:
        flash(_("Please set a new password before you continue."), "warning")
        return redirect(url_for("auth.change_password"))
    return None


def _region_choices() -> list[tuple[str, str]]:
    locale = str(get_locale() or "zh_CN")
    regions = db.session.scalars(select(Region).order_by(Region.code))
    return [("", _("Choose a region"))] + [(r.code, r.name(locale)) for r in regions]


def _render_sign_in(form: SignInForm, show_captcha: bool, status: int = 200):
    if show_captcha:
        session["captcha"] = captcha.new_challenge(db.session, clock().now()).token
        db.session.commit()
    return render_template(
        "auth/sign_in.html", form=form, show_captcha=show_captcha, captcha_nonce=session.get("captcha", "")[:8]
    ), status


@bp.route("/sign-in", methods=["GET", "POST"])
@requires(PUBLIC)
@rate_limit("sign_in", "10 per minute;100 per hour")
def sign_in():
    """Sign in with region, user name (or main card number) and password; captcha after failures."""
    form = SignInForm()
    form.region.choices = _region_choices()
    if request.method == "GET":
        form.region.data = request.cookies.get(REGION_COOKIE, "")
    now, ip = clock().now(), client_ip()
    if not form.validate_on_submit():
        show = services.captcha_required(db.session, "", ip, now=now, lockout=lockout_policy())
        return _render_sign_in(form, show, 400 if form.errors else 200)
    region = db.session.scalar(select(Region).where(Region.code == form.region.data)) if form.region.data else None
    lockout = lockout_policy()
    if services.captcha_required(db.session, form.username.data, ip, now=now, lockout=lockout):
        if not captcha.check(db.session, session.pop("captcha", None), form.captcha.data, now):
            db.session.commit()
            form.captcha.errors = [_("Type the characters shown in the image.")]
            return _render_sign_in(form, True, 400)
    try:
        user = services.authenticate(
            db.session,
            form.username.data,
            form.password.data,
            now=now,
            ip=ip,
            rounds=rounds(),
            region_id=region.id if region else None,
            lockout=lockout,
        )
    except services.AccountLocked as locked:
        db.session.commit()
        when = localtime(locked.until)
        flash(_("Too many failed attempts: sign-in is locked until %(time)s.", time=when), "error")
        return _render_sign_in(form, False, 200)
    except services.SignInError:
        db.session.commit()  # keep the failure count and the audit record
        flash(_("The user name or password is not correct."), "error")
        return _render_sign_in(
            form, services.captcha_required(db.session, form.username.data, ip, now=now, lockout=lockout)
        )
    start_signed_in_session(user)
    response = redirect(safe_next(request.args.get("next")))
    if region is not None:
        response.set_cookie(
            REGION_COOKIE,
            region.code,
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="Lax",
            secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
        )
    return response


@bp.get("/captcha.png")
@requires(PUBLIC)
def captcha_image():
    """The current captcha image of this browser (never cached)."""
    challenge = captcha.find(db.session, session.get("captcha"), clock().now())
    if challenge is None:
        return Response(status=404)
    response = Response(captcha.render_png(challenge.answer), mimetype="image/png")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/sign-out")
@requires(OWN_ACCOUNT)
def sign_out():
    """Sign out: the server-side session is revoked, so the old cookie stops working."""
    services.end_session(db.session, current_user.login, now=clock().now(), ip=client_ip())
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.sign_in"))


@bp.route("/confirm-password", methods=["GET", "POST"])
@requires(OWN_ACCOUNT)
@rate_limit("confirm_password", "10 per minute")
def confirm_password():
    """Re-enter the password before a sensitive action (see portal.auth.reauth)."""
    form = ConfirmPasswordForm()
    if form.validate_on_submit():
        try:
            credentials.confirm_password(
                db.session,
                current_user.login,
                form.password.data,
                now=clock().now(),
                ip=client_ip(),
                lockout=lockout_policy(),
            )
        except credentials.WrongPassword as wrong:
            db.session.commit()
            if wrong.locked:
                return signed_out_after_lock()
            form.password.errors = [_("The password is not correct.")]
            return render_template("auth/confirm_password.html", form=form), 422
        db.session.commit()
        return redirect(safe_next(request.args.get("next")))
    return render_template("auth/confirm_password.html", form=form)

"""修改密码 (change password) and 找回密码 (recover by link)."""

from __future__ import annotations

from flask import flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from portal.auth import codes, credentials, services
from portal.auth.forms import ChangePasswordForm, RecoverForm, ResetPasswordForm
from portal.auth.permissions import OWN_ACCOUNT
from portal.auth.web import (
    bp,
    lockout_policy,
    password_policy,
    rate_limit,
    rounds,
    send_limits,
    signed_out_after_lock,
    start_signed_in_session,
)
from portal.extensions import client_ip, clock, db
from portal.notify import services as notify
from portal.notify import web as notify_web
from portal.web.access import PUBLIC, requires


@bp.route("/password", methods=["GET", "POST"])
@requires(OWN_ACCOUNT)
def change_password():
    """Change the password: the current one is required; every other session ends."""
    form = ChangePasswordForm()
    policy = password_policy()
    if form.validate_on_submit():
        user = current_user.user
        try:
            credentials.change_password(
                db.session,
                user,
                form.current_password.data,
                form.new_password.data,
                policy=policy,
                rounds=rounds(),
                now=clock().now(),
                ip=client_ip(),
                lockout=lockout_policy(),
            )
        except credentials.WrongPassword as wrong:
            db.session.commit()  # keep the audit record
            if wrong.locked:
                return signed_out_after_lock()
            form.current_password.errors = [_("The current password is not correct.")]
            return _change_page(form, policy, 422)
        except services.PasswordRejected as rejected:
            db.session.rollback()
            form.new_password.errors = [str(problem) for problem in rejected.problems]
            return _change_page(form, policy, 422)
        db.session.commit()
        start_signed_in_session(user)  # a new cookie; copies of the old one are dead
        flash(_("Your password has been changed. You were signed out everywhere else."), "success")
        return redirect(url_for("home.index"))
    return _change_page(form, policy, 422 if form.errors else 200)


def _change_page(form: ChangePasswordForm, policy, status: int):
    """The change form; it says so when the password has expired (why the user was sent here)."""
    expired = policy.expired(current_user.user.password_changed_at, clock().now())
    page = render_template(
        "auth/change_password.html", form=form, rules=policy.rules(), expired=expired, max_age_days=policy.max_age_days
    )
    return page, status


def recovery_link_message(token: str) -> tuple[str, str]:
    link = notify_web.public_link("auth.reset_password", token=token)
    subject = _("Fleet Card Portal: reset your password")
    body = _(
        "Open this link within 30 minutes to choose a new password: %(link)s\n"
        "If you did not ask for this, ignore this message; your password stays as it is.",
        link=link,
    )
    return subject, body


def queue_recovery_link(row, token: str) -> int:
    """The link's message: the text for mail, the "recovery_link" template for an SMS gateway."""
    subject, body = recovery_link_message(token)
    link = notify_web.public_link("auth.reset_password", token=token)
    minutes = str(int(codes.RECOVER_LINK_LIFETIME.total_seconds() // 60))
    return notify.queue(
        db.session, row.channel, row.destination, subject, body, now=clock().now(),
        template="recovery_link", params={"link": link, "minutes": minutes}, expires_at=row.expires_at,
    ).id  # fmt: skip


@bp.route("/recover", methods=["GET", "POST"])
@requires(PUBLIC)
@rate_limit("recover", "5 per minute;30 per hour")
def recover():
    """Ask for a password-reset link: the answer is the same whether or not the account exists."""
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = RecoverForm()
    if form.validate_on_submit():
        issued = credentials.start_recovery(
            db.session, form.username.data, form.contact.data, now=clock().now(), ip=client_ip(), limits=send_limits()
        )
        message_ids = [queue_recovery_link(*issued)] if issued else []
        db.session.commit()
        notify_web.dispatch(message_ids)  # in the background outside tests: same timing either way
        flash(
            _(
                "If the details match an account, a link to reset the password has been sent. It is valid for 30 minutes."
            ),
            "info",
        )
        return redirect(url_for("auth.sign_in"))
    return render_template("auth/recover.html", form=form), 400 if form.errors else 200


@bp.route("/reset/<token>", methods=["GET", "POST"])
@requires(PUBLIC)
@rate_limit("recover", "5 per minute;30 per hour")
def reset_password(token: str):
    """Choose a new password through a recovery link (single use, 30 minutes). No automatic sign-in."""
    if codes.find_link(db.session, token, clock().now()) is None:
        flash(_("This link is no longer valid. Ask for a new one."), "error")
        return render_template("auth/link_invalid.html"), 404
    form = ResetPasswordForm()
    policy = password_policy()
    if form.validate_on_submit():
        try:
            credentials.finish_recovery(
                db.session,
                token,
                form.new_password.data,
                policy=policy,
                rounds=rounds(),
                now=clock().now(),
                ip=client_ip(),
            )
        except services.PasswordRejected as rejected:
            db.session.rollback()
            form.new_password.errors = [str(problem) for problem in rejected.problems]
            return render_template("auth/reset_password.html", form=form, rules=policy.rules()), 422
        db.session.commit()
        if current_user.is_authenticated:
            logout_user()
        session.clear()
        flash(_("Your password has been set. Please sign in."), "success")
        return redirect(url_for("auth.sign_in"))
    status = 422 if form.errors else 200
    return render_template("auth/reset_password.html", form=form, rules=policy.rules()), status

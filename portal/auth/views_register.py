"""注册: a known customer activates online access in two steps (details -> code, then code + account)."""

from __future__ import annotations

from flask import flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.auth import codes, registration, services
from portal.auth.forms import RegisterAccountForm, RegisterForm
from portal.auth.models import OneTimeCode
from portal.auth.web import bp, password_policy, rate_limit, rounds, send_limits, too_many_sent, username_taken
from portal.extensions import client_ip, clock, db
from portal.notify import services as notify
from portal.notify import web as notify_web
from portal.web.access import PUBLIC, requires

#: The pending registration code's row id, between the two steps.
PENDING = "registration_code_id"


@bp.route("/register", methods=["GET", "POST"])
@requires(PUBLIC)
@rate_limit("register", "5 per minute;30 per hour")
def register():
    """Step 1: main card number, credit code and the contact on file; a code is sent there."""
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = RegisterForm()
    if form.validate_on_submit():
        now = clock().now()
        try:
            row, code = registration.start(
                db.session,
                form.card_number.data,
                form.credit_code.data,
                form.contact.data,
                now=now,
                ip=client_ip(),
                limits=send_limits(),
            )
        except registration.DetailsMismatch:
            db.session.commit()  # keep the audit record
            flash(_("These details do not match our records. Check them, or call your customer service."), "error")
            return render_template("auth/register.html", form=form), 422
        except codes.TooManySent as limited:
            db.session.commit()  # keep the audit record
            message, headers = too_many_sent(limited)
            flash(message, "error")
            return render_template("auth/register.html", form=form), 429, headers
        message = queue_registration_code(row, code, now)
        db.session.commit()
        notify_web.dispatch([message.id])
        session[PENDING] = row.id
        flash(_("We have sent a 6-digit code to the mobile number or email on file."), "info")
        return redirect(url_for("auth.register_account"))
    return render_template("auth/register.html", form=form), 400 if form.errors else 200


def queue_registration_code(row, code: str, now):
    """The code's message: the text for mail, the "registration_code" template for an SMS gateway."""
    minutes = str(int(codes.REGISTER_CODE_LIFETIME.total_seconds() // 60))
    body = _("Your Fleet Card Portal registration code is %(code)s. It is valid for 10 minutes.", code=code)
    return notify.queue(
        db.session, row.channel, row.destination, _("Registration code"), body, now=now,
        template="registration_code", params={"code": code, "minutes": minutes}, expires_at=row.expires_at,
    )  # fmt: skip


@bp.route("/register/account", methods=["GET", "POST"])
@requires(PUBLIC)
@rate_limit("register", "5 per minute;30 per hour")
def register_account():
    """Step 2: the code (the page says where it was sent), then the fleet admin's user name and password."""
    pending = db.session.get(OneTimeCode, session[PENDING]) if PENDING in session else None
    if pending is None:
        session.pop(PENDING, None)
        return redirect(url_for("auth.register"))
    form = RegisterAccountForm()
    policy = password_policy()
    sent_to = codes.masked_contact(pending.destination)

    def again(status: int):
        page = render_template("auth/register_account.html", form=form, rules=policy.rules(), sent_to=sent_to)
        return page, status

    if not form.validate_on_submit():
        return again(422 if form.errors else 200)
    try:
        registration.complete(
            db.session,
            session[PENDING],
            form.code.data,
            form.username.data,
            form.new_password.data,
            policy=policy,
            rounds=rounds(),
            now=clock().now(),
            ip=client_ip(),
        )
    except registration.CodeRejected as rejected:
        db.session.commit()  # the wrong guess counts
        if rejected.remaining:
            form.code.errors = [_("The code is not correct (%(n)d attempts left).", n=rejected.remaining)]
            return again(422)
        session.pop(PENDING, None)
        flash(_("This code can no longer be used. Please start again."), "error")
        return redirect(url_for("auth.register"))
    except registration.UsernameTaken as taken:
        db.session.rollback()
        form.username.errors = [username_taken(taken.suggestion)]
        return again(422)
    except services.PasswordRejected as rejected:
        db.session.rollback()
        form.new_password.errors = [str(problem) for problem in rejected.problems]
        return again(422)
    db.session.commit()
    session.pop(PENDING, None)
    flash(_("Your account is ready. Please sign in."), "success")
    return redirect(url_for("auth.sign_in"))

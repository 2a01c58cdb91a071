"""Support staff pages. Staff are scoped to one region; a user of another region is a 404
(`owned_or_404`: staff reach the users of their region's customers)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.auth import codes, credentials
from portal.auth.forms import ConfirmedForm, EmptyForm
from portal.auth.models import User
from portal.auth.views_password import queue_recovery_link
from portal.auth.web import password_policy, rounds, send_limits, too_many_sent
from portal.customers.models import Customer
from portal.extensions import client_ip, clock, db
from portal.notify import web as notify_web
from portal.support import services
from portal.web.access import guard, owned_or_404, requires

bp = guard(Blueprint("support", __name__, url_prefix="/support"))


@bp.get("/users")
@requires("support.users")
def users():
    """Find users of customers in this staff member's region."""
    query = request.args.get("q", "")[:64]
    rows = services.users_in_region(db.session, current_user.user.region_id, query)
    return render_template("support/users.html", rows=rows, query=query, now=clock().now())


@bp.get("/users/<int:user_id>")
@requires("support.users")
def user(user_id: int):
    """One user: lock state and the actions staff may take."""
    return render_template(
        "support/user.html",
        user=owned_or_404(User, user_id),
        form=EmptyForm(),
        rules=password_policy().rules(),
        now=clock().now(),
    )


@bp.route("/users/<int:user_id>/reset-password", methods=["GET", "POST"])
@requires("support.users")
def reset_password(user_id: int):
    """Give a temporary password, shown once; the user must change it at the next sign-in. The GET
    (and a POST without the confirmation) asks first, naming the user."""
    user = owned_or_404(User, user_id)
    form = ConfirmedForm()
    if request.method == "GET" or not form.is_confirmed():
        if request.method == "POST" and form.csrf_token.errors:
            abort(400)
        customer = db.session.get(Customer, user.customer_id) if user.customer_id else None
        return render_template("support/confirm_reset.html", user=user, customer=customer, form=ConfirmedForm.asking())
    temporary = credentials.staff_reset_password(
        db.session,
        current_user.user,
        user,
        policy=password_policy(),
        rounds=rounds(),
        now=clock().now(),
        ip=client_ip(),
    )
    db.session.commit()
    response = render_template("support/temporary_password.html", user=user, temporary=temporary)
    return response, 200, {"Cache-Control": "no-store"}


@bp.post("/users/<int:user_id>/send-reset-link")
@requires("support.users")
def send_reset_link(user_id: int):
    """Send a reset link to the user's registered email (or mobile if no email)."""
    user = owned_or_404(User, user_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    channel = "email" if user.email else "sms"
    try:
        issued = credentials.staff_send_reset_link(
            db.session,
            current_user.user,
            user,
            channel=channel,
            now=clock().now(),
            ip=client_ip(),
            limits=send_limits(),
        )
    except codes.TooManySent as limited:
        db.session.rollback()
        flash(too_many_sent(limited)[0], "error")
        return redirect(url_for("support.user", user_id=user.id))
    if issued is None:
        flash(_("This user has no mobile number or email on file."), "error")
        return redirect(url_for("support.user", user_id=user.id))
    message_id = queue_recovery_link(*issued)
    db.session.commit()
    notify_web.dispatch([message_id])
    flash(_("A reset link has been sent to %(dest)s.", dest=codes.masked_contact(issued[0].destination)), "success")
    return redirect(url_for("support.user", user_id=user.id))


@bp.post("/users/<int:user_id>/unlock")
@requires("support.users")
def unlock(user_id: int):
    """End a lockout now."""
    user = owned_or_404(User, user_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    credentials.unlock(db.session, current_user.user, user, now=clock().now(), ip=client_ip())
    db.session.commit()
    flash(_("The account is unlocked."), "success")
    return redirect(url_for("support.user", user_id=user.id))


@bp.get("/audit")
@requires("support.users")
def audit():
    """Support actions recorded in this region, newest first, a page at a time."""
    page = services.staff_actions(
        db.session, region_id=current_user.user.region_id, page=request.args.get("page"), size=AUDIT_PAGE_SIZE
    )
    return render_template("support/audit.html", events=page.rows, page=page)


#: Support actions on one page of the list.
AUDIT_PAGE_SIZE = 50

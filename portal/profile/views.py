"""客户资料维护: admins edit their customer's contacts and invoice details; staff of the customer's
region may edit everything including the legal name and credit code. Every change is audited."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.customers import services
from portal.customers.models import Customer
from portal.extensions import client_ip, clock, db
from portal.profile.activity import customer_activity
from portal.profile.forms import ProfileForm, StaffProfileForm
from portal.profile.messages import action_label
from portal.queries.cursor import BadCursor, Key, decode_cursor, encode_cursor
from portal.web.access import customer_scope, guard, owned_or_404, requires

bp = guard(Blueprint("profile", __name__, url_prefix="/profile"))

MESSAGES = {
    "credit_code_taken": lambda: _("Another customer has this credit code."),
    "invalid_credit_code": lambda: _("A unified social credit code has 18 digits and capital letters."),
}


def _save(customer: Customer, form, fields, *, by_staff: bool):
    changes = {name: getattr(form, name).data or "" for name in fields}
    try:
        diff = services.update_profile(
            db.session,
            customer,
            changes,
            actor_id=current_user.user.id,
            by_staff=by_staff,
            now=clock().now(),
            ip=client_ip(),
        )
    except services.ProfileError as error:
        db.session.rollback()
        message = MESSAGES.get(error.code, lambda: _("The profile could not be saved."))()
        form.form_errors.append(message)
        return None
    db.session.commit()
    flash(_("Profile saved.") if diff else _("Nothing was changed."), "success" if diff else "info")
    return diff


@bp.route("/", methods=["GET", "POST"])
@requires("customer.profile")
def index():
    """The customer's profile; legal name and credit code are shown read-only."""
    customer = db.session.get(Customer, customer_scope())
    form = ProfileForm(obj=customer if request.method == "GET" else None)
    if form.validate_on_submit():
        if _save(customer, form, services.ADMIN_FIELDS, by_staff=False) is not None:
            return redirect(url_for("profile.index"))
        return render_template("profile/index.html", customer=customer, form=form), 409
    return render_template("profile/index.html", customer=customer, form=form), 422 if form.errors else 200


@bp.route("/customers/<int:customer_id>", methods=["GET", "POST"])
@requires("customer.profile.staff")
def customer(customer_id: int):
    """Support staff: a customer's full profile, legal name and credit code included (own region only)."""
    customer = owned_or_404(Customer, customer_id)  # their region's customers only
    form = StaffProfileForm(obj=customer if request.method == "GET" else None)
    if form.validate_on_submit():
        if _save(customer, form, (*services.ADMIN_FIELDS, *services.STAFF_FIELDS), by_staff=True) is not None:
            return redirect(url_for("profile.customer", customer_id=customer.id))
        return render_template("profile/staff.html", customer=customer, form=form), 409
    return render_template("profile/staff.html", customer=customer, form=form), 422 if form.errors else 200


_CURSOR_REPORT = "profile.audit"


@bp.get("/activity")
@requires("customer.profile")
def audit():
    """The customer's activity log, newest first: what its users and support staff did."""
    staff_only = request.args.get("kind") == "staff"
    secret = current_app.config["SECRET_KEY"]
    after = None
    token = request.args.get("cursor", "")
    if token:
        try:
            key = decode_cursor(token, secret=secret, report=_CURSOR_REPORT)
        except BadCursor:
            flash(_("That page link is not valid; showing the newest entries."), "error")
            return redirect(url_for("profile.audit", kind="staff" if staff_only else None)), 303
        after = (key.at, key.id)
    page = customer_activity(
        db.session,
        customer_scope(),
        staff_only=staff_only,
        after=after,
        limit=current_app.config.get("PAGE_SIZE", 50),
    )
    next_url = None
    if page.next_key is not None:
        cursor = encode_cursor(Key(*page.next_key), secret=secret, report=_CURSOR_REPORT)
        next_url = url_for("profile.audit", kind="staff" if staff_only else None, cursor=cursor)
    return render_template(
        "profile/audit.html",
        page=page,
        staff_only=staff_only,
        first_page=bool(token),
        next_url=next_url,
        action_label=action_label,
    )

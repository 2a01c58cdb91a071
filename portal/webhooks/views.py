"""Webhook endpoints, for a customer's fleet admins: the list, register (the secret shown once), edit,
enable / disable, delete and rotate the secret (each after a confirmation page), send a test event,
and each endpoint's delivery log with a redeliver button. Another customer's endpoint is a 404."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.auth.forms import ConfirmedForm, EmptyForm
from portal.extensions import client_ip, clock, db, limiter
from portal.web.access import customer_scope, guard, owned_or_404, requires
from portal.webhooks import delivery, sealing, services
from portal.webhooks.addresses import UrlRefused
from portal.webhooks.forms import EndpointForm
from portal.webhooks.messages import DISABLED_LABELS, EVENT_LABELS, STATUS_LABELS, URL_PROBLEMS, event_list
from portal.webhooks.models import WebhookEndpoint

bp = guard(Blueprint("webhooks", __name__, url_prefix="/webhooks"))

#: Deliveries on one page of the log.
LOG_PAGE_SIZE = 20
#: "Send test event" and "Redeliver" call the receiver inside the request: at most this often per
#: user (override: AUTH_RATE_LIMITS["webhooks_send"]), so the portal cannot be used to flood a server.
SEND_LIMIT = "10 per minute;100 per hour"


def _user_key() -> str:
    return f"user-{current_user.user.id}" if current_user.is_authenticated else client_ip()


#: Per user, not per address: one admin on many addresses has one allowance.
send_limit = limiter.limit(
    lambda: current_app.config.get("AUTH_RATE_LIMITS", {}).get("webhooks_send", SEND_LIMIT),
    key_func=_user_key,
    methods=["POST"],
    scope="webhooks-send",
)


def _who() -> services.Who:
    return services.Who(current_user.user.id, client_ip())


def _insecure() -> bool:
    return bool(current_app.config.get("WEBHOOKS_ALLOW_INSECURE"))


def _box():
    return sealing.cipher(current_app.config)


def _input(form: EndpointForm) -> services.EndpointInput:
    return services.EndpointInput(url=form.url.data or "", events=list(form.events.data or []),
                                  description=form.description.data or "", threshold_fen=form.threshold.data)  # fmt: skip


def _refused(form: EndpointForm, error: Exception) -> None:
    """Put a refusal from the rules on the form's field."""
    if isinstance(error, UrlRefused):
        form.url.errors = [str(URL_PROBLEMS[error.code])]
    elif error.code == "threshold":
        form.threshold.errors = [_("Enter the threshold for “Unit account below threshold”.")]
    elif error.code == "too_many":
        form.url.errors = [_("A customer can have at most %(count)s endpoints.", count=services.MAX_ENDPOINTS)]
    else:
        form.events.errors = [_("Tick at least one event.")]


def _show_secret(endpoint: WebhookEndpoint, secret: str, *, rotated: bool):
    """The secret, once; never cached on the way back to the admin."""
    page = render_template("webhooks/secret.html", endpoint=endpoint, secret=secret, rotated=rotated)
    response = current_app.make_response(page)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
@requires("webhooks.manage")
def index():
    """The customer's endpoints."""
    endpoints = services.customer_endpoints(db.session, customer_scope())
    return render_template("webhooks/index.html", endpoints=endpoints, labels=EVENT_LABELS, disabled=DISABLED_LABELS,
                           event_list=event_list)  # fmt: skip


@bp.route("/new", methods=["GET", "POST"])
@requires("webhooks.manage")
def new():
    """Register an endpoint; its signing secret is shown once, on the answer to this form."""
    form = EndpointForm()
    if form.validate_on_submit():
        try:
            endpoint, secret = services.register(db.session, customer_scope(), _input(form), who=_who(), box=_box(),
                                                 now=clock().now(), allow_insecure=_insecure())  # fmt: skip
        except (UrlRefused, services.EndpointError) as error:
            db.session.rollback()
            _refused(form, error)
        else:
            db.session.commit()
            return _show_secret(endpoint, secret, rotated=False)
    status = 422 if form.errors else 200
    return render_template("webhooks/form.html", form=form, endpoint=None), status


@bp.get("/<int:endpoint_id>")
@requires("webhooks.manage")
def endpoint(endpoint_id: int):
    """One endpoint: its settings and its delivery log, newest first, a page at a time."""
    row = owned_or_404(WebhookEndpoint, endpoint_id)
    before = request.args.get("before", type=int)
    if before is not None and not 0 < before < 2**62:
        before = None
    log = services.delivery_log(db.session, row.id, before=before, limit=LOG_PAGE_SIZE)
    return _endpoint_page(row, log, first_page=before is not None)


def _endpoint_page(row: WebhookEndpoint, log: services.LogPage, *, first_page: bool = False) -> str:
    return render_template("webhooks/endpoint.html", endpoint=row, log=log, labels=EVENT_LABELS,
                           statuses=STATUS_LABELS, disabled=DISABLED_LABELS, form=EmptyForm(),
                           first_page=first_page, event_list=event_list,
                           redeliverable=services.REDELIVERABLE)  # fmt: skip


@bp.route("/<int:endpoint_id>/edit", methods=["GET", "POST"])
@requires("webhooks.manage")
def edit(endpoint_id: int):
    """Change an endpoint's address, events, description or threshold (the secret stays)."""
    row = owned_or_404(WebhookEndpoint, endpoint_id)
    form = EndpointForm(obj=_Prefill(row) if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            services.update(db.session, row, _input(form), who=_who(), now=clock().now(), allow_insecure=_insecure())
        except (UrlRefused, services.EndpointError) as error:
            db.session.rollback()
            _refused(form, error)
        else:
            db.session.commit()
            flash(_("Endpoint saved."), "success")
            return redirect(url_for("webhooks.endpoint", endpoint_id=row.id))
    status = 422 if form.errors else 200
    return render_template("webhooks/form.html", form=form, endpoint=row), status


class _Prefill:
    """The form's fields from a saved endpoint."""

    def __init__(self, row: WebhookEndpoint):
        self.url, self.description, self.events = row.url, row.description, row.event_types
        self.threshold = row.unit_balance_threshold_fen


@bp.post("/<int:endpoint_id>/enable")
@requires("webhooks.manage")
def enable(endpoint_id: int):
    """Enable an endpoint again (also one disabled for failing)."""
    return _set_enabled(endpoint_id, True, _("Endpoint enabled."))


@bp.post("/<int:endpoint_id>/disable")
@requires("webhooks.manage")
def disable(endpoint_id: int):
    """Disable an endpoint: nothing is sent to it until it is enabled again."""
    return _set_enabled(endpoint_id, False, _("Endpoint disabled; nothing is sent to it."))


def _set_enabled(endpoint_id: int, enabled: bool, message: str):
    row = owned_or_404(WebhookEndpoint, endpoint_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    services.set_enabled(db.session, row, enabled, who=_who(), now=clock().now())
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("webhooks.endpoint", endpoint_id=row.id))


@bp.route("/<int:endpoint_id>/delete", methods=["GET", "POST"])
@requires("webhooks.manage")
def delete(endpoint_id: int):
    """Confirm, then delete an endpoint and its delivery log."""
    row = owned_or_404(WebhookEndpoint, endpoint_id)
    form = ConfirmedForm()
    if request.method == "POST":
        if not form.is_confirmed():
            abort(400)
        services.delete_endpoint(db.session, row, who=_who(), now=clock().now())
        db.session.commit()
        flash(_("Endpoint deleted."), "success")
        return redirect(url_for("webhooks.index"))
    return render_template("webhooks/confirm.html", endpoint=row, form=ConfirmedForm.asking(), action="delete")


@bp.route("/<int:endpoint_id>/rotate-secret", methods=["GET", "POST"])
@requires("webhooks.manage")
def rotate_secret(endpoint_id: int):
    """Confirm, then replace the signing secret; the new one is shown once."""
    row = owned_or_404(WebhookEndpoint, endpoint_id)
    form = ConfirmedForm()
    if request.method == "POST":
        if not form.is_confirmed():
            abort(400)
        secret = services.rotate_secret(db.session, row, who=_who(), box=_box(), now=clock().now())
        db.session.commit()
        return _show_secret(row, secret, rotated=True)
    return render_template("webhooks/confirm.html", endpoint=row, form=ConfirmedForm.asking(), action="rotate")


@bp.post("/<int:endpoint_id>/test")
@requires("webhooks.manage")
@send_limit
def send_test(endpoint_id: int):
    """Send a test event now; its delivery shows in the log."""
    row = owned_or_404(WebhookEndpoint, endpoint_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if not row.enabled:
        flash(_("Enable the endpoint first: a disabled endpoint is sent nothing."), "error")
        return redirect(url_for("webhooks.endpoint", endpoint_id=row.id))
    sent = services.send_test_event(db.session, row, who=_who(), now=clock().now())
    db.session.commit()
    _try_now(sent.id)
    return redirect(url_for("webhooks.endpoint", endpoint_id=row.id))


@bp.post("/<int:endpoint_id>/deliveries/<int:delivery_id>/redeliver")
@requires("webhooks.manage")
@send_limit
def redeliver(endpoint_id: int, delivery_id: int):
    """Send one delivery's event again (the same event id), now."""
    row = owned_or_404(WebhookEndpoint, endpoint_id)
    original = services.delivery_of(db.session, row, delivery_id)
    if original is None:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if not row.enabled:
        flash(_("Enable the endpoint first: a disabled endpoint is sent nothing."), "error")
        return redirect(url_for("webhooks.endpoint", endpoint_id=row.id))
    try:
        again = services.redeliver(db.session, original, who=_who(), now=clock().now())
    except services.EndpointError:
        db.session.rollback()
        flash(_("Only a delivered or failed delivery can be sent again; this one is waiting or was cancelled."),
              "error")  # fmt: skip
        log = services.delivery_log(db.session, row.id, limit=LOG_PAGE_SIZE)
        return _endpoint_page(row, log), 409
    db.session.commit()
    _try_now(again.id)
    return redirect(url_for("webhooks.endpoint", endpoint_id=row.id))


def _try_now(delivery_id: int) -> None:
    """The first attempt right away (committed), so the admin sees the answer; a failure is retried
    by the jobs runner like any other."""
    settings = delivery.Settings.from_config(current_app.config)
    outcome = delivery.attempt_and_commit(db.session, delivery_id, settings, now=clock().now())
    if outcome == "delivered":
        flash(_("Delivered: the endpoint answered with success."), "success")
    else:
        flash(_("Not delivered yet: see the log below; it is retried automatically."), "error")

"""Anomaly alerts for a customer's fleet admins: the list, and acknowledging one."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.alerts import services
from portal.alerts.messages import ALERT_TITLES, alert_explanation
from portal.alerts.models import Alert
from portal.auth.forms import EmptyForm
from portal.cards.models import Card
from portal.extensions import clock, db
from portal.web.access import customer_scope, guard, owned_or_404, requires

bp = guard(Blueprint("alerts", __name__, url_prefix="/alerts"))


@bp.get("/")
@requires("alerts.view")
def index():
    """Open alerts (or all recent ones with ?all=1), each with why it fired."""
    customer_id = customer_scope()
    show_all = request.args.get("all") == "1"
    alerts = services.recent_alerts(db.session, customer_id, include_acknowledged=show_all)
    numbers = {card.id: card.number for card in db.session.query(Card).filter(Card.customer_id == customer_id)}
    rows = [
        {
            "alert": alert,
            "title": ALERT_TITLES.get(alert.kind, alert.kind),
            "why": alert_explanation(alert.kind, alert.detail),
            "card_number": numbers.get(alert.card_id, ""),
        }
        for alert in alerts
    ]
    return render_template("alerts/index.html", rows=rows, show_all=show_all)


@bp.post("/<int:alert_id>/acknowledge")
@requires("alerts.view")
def acknowledge(alert_id: int):
    """Mark an alert as seen; it leaves the home page."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    alert = owned_or_404(Alert, alert_id)
    services.acknowledge(db.session, alert, user_id=current_user.user.id, now=clock().now())
    db.session.commit()
    flash(_("Alert acknowledged."), "success")
    return redirect(url_for("alerts.index"))


@bp.app_template_global("alert_title")
def alert_title(kind: str) -> str:
    return str(ALERT_TITLES.get(kind, kind))


@bp.app_template_global("alert_why")
def alert_why(kind: str, detail: dict) -> str:
    return alert_explanation(kind, detail)

"""Anomaly alerts for a customer's fleet admins: the list, and acknowledging one."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.alerts import services
from portal.alerts.messages import alert_explanation
from portal.alerts.messages import alert_title as title_of
from portal.alerts.models import Alert
from portal.auth.forms import EmptyForm
from portal.cards.models import Card
from portal.extensions import clock, db
from portal.queries.cursor import BadCursor, decode_cursor, encode_cursor
from portal.web.access import customer_scope, guard, owned_or_404, requires

bp = guard(Blueprint("alerts", __name__, url_prefix="/alerts"))


#: Alerts per page (the demo fleet has about 50 open ones).
PAGE_SIZE = 20
_CURSOR_REPORT = "alerts.index"


@bp.get("/")
@requires("alerts.view")
def index():
    """Open alerts (or all recent ones with ?all=1), newest first, a page at a time, each with why it fired."""
    customer_id = customer_scope()
    show_all = request.args.get("all") == "1"
    secret = current_app.config["SECRET_KEY"]
    token = request.args.get("cursor", "")[:512]
    key = None
    if token:
        try:
            key = decode_cursor(token, secret=secret, report=_CURSOR_REPORT)
        except BadCursor:
            flash(_("That page link is not valid; showing the newest entries."), "error")
            return redirect(url_for("alerts.index", all=1 if show_all else None), 303)
    page = services.alerts_page(db.session, customer_id, include_acknowledged=show_all, key=key, limit=PAGE_SIZE)
    numbers = _card_numbers({alert.card_id for alert in page.rows if alert.card_id})
    rows = [
        {
            "alert": alert,
            "title": title_of(alert.kind),
            "why": alert_explanation(alert.kind, alert.detail),
            "card_number": numbers.get(alert.card_id, ""),
        }
        for alert in page.rows
    ]
    next_url = None
    if page.next_key is not None:
        cursor = encode_cursor(page.next_key, secret=secret, report=_CURSOR_REPORT)
        next_url = url_for("alerts.index", all=1 if show_all else None, cursor=cursor)
    return render_template(
        "alerts/index.html", rows=rows, show_all=show_all, total=page.totals["count"], next_url=next_url,
        first_url=url_for("alerts.index", all=1 if show_all else None) if token else None,
    )  # fmt: skip


def _card_numbers(card_ids: set[int]) -> dict[int, str]:
    """{card id: number} of the page's cards only (the customer check is the alerts' own)."""
    if not card_ids:
        return {}
    return dict(db.session.execute(select(Card.id, Card.number).where(Card.id.in_(card_ids))).all())


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
    return title_of(kind)


@bp.app_template_global("alert_why")
def alert_why(kind: str, detail: dict) -> str:
    return alert_explanation(kind, detail)

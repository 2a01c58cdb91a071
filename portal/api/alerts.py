"""Anomaly alerts over the API, as the alerts page lists and acknowledges them (portal.alerts.services).

- `GET /alerts`: open alerts newest first (`status=all`: acknowledged ones too, as the page's
  "all" link), optionally of one `kind` or one card; `total` counts every alert of the filter.
- `GET /alerts/<alert_id>`; `POST /alerts/<alert_id>/acknowledge` with `{}`: the alert is marked
  seen by the key's owner (acknowledging again keeps the first acknowledgement).
"""

from __future__ import annotations

from typing import Any, Literal

from flask import g
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from portal.alerts import services
from portal.alerts.models import ALERT_KINDS, Alert
from portal.api import bp
from portal.api.auth import api_audit, api_endpoint
from portal.api.cards import card_by_number
from portal.api.funds import key_owner, owned_row
from portal.api.pagination import NEXT_CURSOR, PageQuery, cursor_key, cursor_of
from portal.api.serialize import Time, local_time
from portal.cards.models import Card
from portal.extensions import clock, db

REPORT = "api.alerts"
Kind = Literal[ALERT_KINDS]  # type: ignore[valid-type]


class AlertAcknowledgeIn(BaseModel):
    """No fields: send `{}`."""

    model_config = ConfigDict(extra="forbid")


class AlertQuery(PageQuery):
    status: Literal["open", "all"] = Field("open", description="open: not acknowledged yet; all: every alert")
    kind: Kind | None = None
    card_number: str | None = Field(None, max_length=32, description="this card's alerts only")


class AlertOut(BaseModel):
    id: int
    kind: Kind = Field(description="why it fired")
    card_number: str
    detail: dict[str, Any] = Field(description="the figures that made it fire (litres vs tank, km and minutes...)")
    created_at: Time
    acknowledged_at: Time | None


class AlertList(BaseModel):
    data: list[AlertOut]
    total: int = Field(description="how many alerts match the filter, on every page")
    next_cursor: str | None = NEXT_CURSOR


def _alerts_out(alerts: list[Alert]) -> list[AlertOut]:
    ids = {alert.card_id for alert in alerts}
    numbers = dict(db.session.execute(select(Card.id, Card.number).where(Card.id.in_(ids))).all()) if ids else {}
    return [
        AlertOut(
            id=alert.id,
            kind=alert.kind,
            card_number=numbers.get(alert.card_id, ""),
            detail=alert.detail or {},
            created_at=local_time(alert.created_at),
            acknowledged_at=local_time(alert.acknowledged_at),
        )  # fmt: skip
        for alert in alerts
    ]


def _alert(alert_id: str) -> Alert:
    return owned_row(Alert, alert_id, "alert_not_found", "alert")


@bp.get("/alerts")
@api_endpoint("read", query=AlertQuery, resp={200: AlertList}, tags=["alerts"])
def list_alerts(query: AlertQuery):
    """The customer's anomaly alerts, newest first."""
    card_id = card_by_number(query.card_number).id if query.card_number is not None else None
    page = services.alerts_page(
        db.session, g.api_customer_id, include_acknowledged=query.status == "all", key=cursor_key(query, report=REPORT),
        limit=query.limit, kind=query.kind, card_id=card_id,
    )  # fmt: skip
    return AlertList(
        data=_alerts_out(page.rows), total=page.totals["count"], next_cursor=cursor_of(page.next_key, report=REPORT)
    )


@bp.get("/alerts/<alert_id>")
@api_endpoint("read", resp={200: AlertOut}, tags=["alerts"])
def get_alert(alert_id: str):
    """One alert."""
    return _alerts_out([_alert(alert_id)])[0]


@bp.post("/alerts/<alert_id>/acknowledge")
@api_endpoint("alerts", json=AlertAcknowledgeIn, resp={200: AlertOut}, tags=["alerts"])
def acknowledge_alert(alert_id: str):
    """Mark the alert as seen (it leaves the admins' home page)."""
    alert = _alert(alert_id)
    was_open = alert.acknowledged_at is None
    services.acknowledge(db.session, alert, user_id=key_owner(), now=clock().now())
    if was_open:
        api_audit("api.alert.acknowledge", {"alert_id": alert.id, "kind": alert.kind})
    return _alerts_out([alert])[0]

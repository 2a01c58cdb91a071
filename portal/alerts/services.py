"""Listing and acknowledging anomaly alerts. Flush, never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.alerts.models import Alert
from portal.audit.services import record


def open_alerts(session: Session, customer_id: int, limit: int = 10) -> list[Alert]:
    """The customer's unacknowledged alerts, newest first (the admin home shows these)."""
    return list(
        session.scalars(
            select(Alert)
            .where(Alert.customer_id == customer_id, Alert.acknowledged_at.is_(None))
            .order_by(Alert.created_at.desc(), Alert.id.desc())
            .limit(limit)
        )
    )


def recent_alerts(session: Session, customer_id: int, *, include_acknowledged: bool, limit: int = 200) -> list[Alert]:
    stmt = select(Alert).where(Alert.customer_id == customer_id)
    if not include_acknowledged:
        stmt = stmt.where(Alert.acknowledged_at.is_(None))
    return list(session.scalars(stmt.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit)))


def acknowledge(session: Session, alert: Alert, *, user_id: int, now: datetime) -> Alert:
    """Mark the alert seen by `user_id`; acknowledging twice keeps the first acknowledgement. The
    caller has checked that the user reaches the alert (portal.web.access.owned_or_404)."""
    if alert.acknowledged_at is None:
        alert.acknowledged_at = now
        alert.acknowledged_by = user_id
        session.flush()
        record(
            session,
            "alert.acknowledge",
            actor_id=user_id,
            customer_id=alert.customer_id,
            detail={"alert_id": alert.id, "kind": alert.kind},
            now=now,
        )
    return alert

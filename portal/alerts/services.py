"""Listing and acknowledging anomaly alerts. Flush, never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.alerts.models import Alert
from portal.audit.services import record
from portal.queries.cursor import Key
from portal.queries.pages import Page, after, ordering, page_of


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


def alerts_page(
    session: Session,
    customer_id: int,
    *,
    include_acknowledged: bool,
    key: Key | None = None,
    limit: int = 20,
    kind: str | None = None,
    card_id: int | None = None,
) -> Page:
    """One page of the customer's alerts (open ones only unless `include_acknowledged`; of one
    `kind` or card only, if given), newest first, after `key` (the last row of the previous page);
    `totals["count"]` counts them all."""
    where = [Alert.customer_id == customer_id]
    if not include_acknowledged:
        where.append(Alert.acknowledged_at.is_(None))
    if kind is not None:
        where.append(Alert.kind == kind)
    if card_id is not None:
        where.append(Alert.card_id == card_id)
    stmt = select(Alert).where(*where)
    condition = after(Alert.created_at, Alert.id, key, "desc")
    if condition is not None:
        stmt = stmt.where(condition)
    rows = list(session.scalars(stmt.order_by(*ordering(Alert.created_at, Alert.id, "desc")).limit(limit + 1)))
    rows, next_key = page_of(rows, limit, lambda alert: Key(alert.created_at, alert.id))
    total = session.scalar(select(func.count()).select_from(Alert).where(*where)) or 0
    return Page(rows, next_key, {"count": int(total)})


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

"""Recording audit events. Services call `record()`; it flushes with the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from portal.audit.models import AuditEvent
from portal.clock import utcnow


def record(
    session: Session,
    action: str,
    *,
    actor_id: int | None = None,
    user_id: int | None = None,
    customer_id: int | None = None,
    region_id: int | None = None,
    ip: str = "",
    detail: dict | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    event = AuditEvent(
        action=action,
        actor_id=actor_id,
        user_id=user_id,
        customer_id=customer_id,
        region_id=region_id,
        ip=ip,
        detail=detail or {},
        at=now or utcnow(),
    )
    session.add(event)
    return event

"""The customer's activity log (操作记录) as its fleet admins see it: the audit events recorded about
the customer, support staff's actions on its users among them. No Flask here.

Keyset pagination on (at, id), newest first: page n costs what page 1 costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, aliased

from portal.audit.models import AuditEvent
from portal.auth.models import User
from portal.support.services import STAFF_ACTIONS


@dataclass(frozen=True)
class ActivityRow:
    event: AuditEvent
    #: Who acted (None for events without a signed-in actor, e.g. a recovery request).
    actor: User | None
    #: The user the action was about, if any.
    target: User | None

    @property
    def by_staff(self) -> bool:
        return self.actor is not None and self.actor.role == "staff"


@dataclass(frozen=True)
class ActivityPage:
    rows: list[ActivityRow]
    #: (at, id) of the last row when there is a next page, else None.
    next_key: tuple[datetime, int] | None


def customer_activity(
    session: Session,
    customer_id: int,
    *,
    staff_only: bool = False,
    after: tuple[datetime, int] | None = None,
    limit: int = 50,
) -> ActivityPage:
    """One page of the customer's audit events, newest first, starting after the key `after`."""
    actor, target = aliased(User), aliased(User)
    stmt = (
        select(AuditEvent, actor, target)
        .outerjoin(actor, actor.id == AuditEvent.actor_id)
        .outerjoin(target, target.id == AuditEvent.user_id)
        .where(AuditEvent.customer_id == customer_id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit + 1)
    )
    if staff_only:
        stmt = stmt.where(AuditEvent.action.in_(STAFF_ACTIONS))
    if after is not None:
        at, id_ = after
        stmt = stmt.where(or_(AuditEvent.at < at, and_(AuditEvent.at == at, AuditEvent.id < id_)))
    rows = [ActivityRow(event, by, about) for event, by, about in session.execute(stmt).tuples()]
    more = len(rows) > limit
    rows = rows[:limit]
    return ActivityPage(rows, (rows[-1].event.at, rows[-1].event.id) if more else None)

"""What support staff may see: only users of customers in their own region. No Flask here."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from portal.audit.models import AuditEvent
from portal.auth.models import User
from portal.cards.models import Card
from portal.customers.models import Customer
from portal.queries.pages import NumberedPage, numbered_rows

STAFF_ACTIONS = ("support.reset_password", "support.send_reset_link", "support.unlock")


def users_in_region(session: Session, region_id: int, query: str = "", limit: int = 50) -> list[tuple[User, Customer]]:
    """Customer users (admins, drivers) of the region, matching a user name, customer name, credit code,
    phone or card number."""
    stmt = (
        select(User, Customer)
        .join(Customer, Customer.id == User.customer_id)
        .where(Customer.region_id == region_id)
        .order_by(Customer.name, User.username)
        .limit(limit)
    )
    query = query.strip()
    if query:
        like = f"%{query.lower()}%"
        card_customers = select(Card.customer_id).where(Card.number == query)
        stmt = stmt.where(
            or_(
                User.username.ilike(like),
                Customer.name.ilike(like),
                Customer.credit_code.ilike(like),
                User.phone == query,
                Customer.id.in_(card_customers),
            )
        )
    return list(session.execute(stmt).tuples())


def user_in_region(session: Session, region_id: int, user_id: int) -> User | None:
    """The user if it belongs to a customer of the region; None otherwise (the view answers 404)."""
    return session.scalar(
        select(User)
        .join(Customer, Customer.id == User.customer_id)
        .where(User.id == user_id, Customer.region_id == region_id)
    )


def staff_actions(
    session: Session,
    *,
    region_id: int | None = None,
    customer_id: int | None = None,
    page: object = 1,
    size: int = 50,
) -> NumberedPage:
    """Page `page` of the recorded support actions, newest first, for a region (staff) or about one
    customer's users (admins); the page says how many there are in all, so none is cut off unseen."""
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.action.in_(STAFF_ACTIONS))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    )
    if region_id is not None:
        stmt = stmt.where(AuditEvent.region_id == region_id)
    if customer_id is not None:
        stmt = stmt.where(AuditEvent.customer_id == customer_id)
    return numbered_rows(session, stmt, page, size)

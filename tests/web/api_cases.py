"""Shared helpers of the cards/drivers API tests (not a test module): problem checks, a funded card."""

from __future__ import annotations

PROBLEM = "application/problem+json"
#: Sub-cards of the showcase customer (tests/builders.showcase): 110-114 active, 115 lost, 116 closed.
ACTIVE, ACTIVE_2, LOST, CLOSED = "9030000100000110", "9030000100000111", "9030000100000115", "9030000100000116"


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["code"] == code, body
    return body


def funded_card(app, customer_id: int, *, reserve: int, purse: int, now) -> str:
    """A new sub-card of the customer with `reserve` and `purse` fen on it (deposit, allocation, load)."""
    from portal import ledger
    from portal.customers.models import Customer
    from portal.extensions import db
    from tests import builders

    with app.app_context():
        ledger.open_customer_accounts(db.session, customer_id)
        card = builders.create_card(db.session, db.session.get(Customer, customer_id), issued_at=now)
        builders.fund_card(db.session, card, reserve=reserve, purse=purse, now=now, key=f"api-{card.number}")
        db.session.commit()
        return card.number


def audited(app, action: str) -> list[dict]:
    """The details of the activity log's events of `action`, oldest first."""
    from sqlalchemy import select

    from portal.audit.models import AuditEvent
    from portal.extensions import db

    with app.app_context():
        return list(
            db.session.scalars(select(AuditEvent.detail).where(AuditEvent.action == action).order_by(AuditEvent.id))
        )

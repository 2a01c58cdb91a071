"""Schemathesis against the customer API (/api/v1), through the WSGI app: for every operation in
the OpenAPI document (so routes added later join by themselves), bounded generated requests with a
key holding every scope over a customer with cards, drivers and money. Checks: no 5xx, and every
answer conforms to the document (status, content type, headers, body schema).

Deterministic (derandomize) and bounded (MAX_EXAMPLES per operation), to stay well under two
minutes on SQLite.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.web.api_support import make_key

#: Generated requests per operation.
MAX_EXAMPLES = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _money(app, clock, world) -> None:
    """A deposit into the customer's unit account and an allocation to one of its cards, four days ago."""
    from sqlalchemy import select

    from portal.auth.models import User
    from portal.cards.models import Card
    from portal.customers.models import Customer
    from portal.extensions import db
    from portal.funds import services as funds
    from portal.funds.plan import RawLine

    then = clock.now() - timedelta(days=4)
    with app.app_context():
        users = {u.username: u for u in db.session.scalars(select(User))}
        customer = db.session.get(Customer, world.customer_id)
        card = db.session.scalar(
            select(Card).where(Card.customer_id == customer.id, Card.role == "sub", Card.status == "active").limit(1)
        )
        funds.record_deposit(
            db.session, key="s" * 32, customer=customer, amount=100_000, bank_reference="SCHEMATHESIS", memo="",
            actor_id=users[world.staff].id, now=then,
        )  # fmt: skip
        admin_id = users[world.admin].id
        batch = funds.prepare_batch(
            db.session, customer_id=customer.id, kind="allocation", lines=[RawLine(1, card.number, "50")],
            actor_id=admin_id, now=then,
        )  # fmt: skip
        funds.confirm_batch(db.session, batch, actor_id=admin_id, now=then)
        db.session.commit()


@pytest.fixture
def api_token(app, clock, showcase_world) -> str:
    _money(app, clock, showcase_world)
    return make_key(app, showcase_world.customer_id)


def test_the_api_keeps_its_contract(app, api_token):
    """Each operation of the document in turn (schemathesis' pytest plugin does not run on pytest 9:
    the operations are walked here, each with its own Hypothesis run)."""
    from hypothesis import given

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the document lists no operation"
    headers = {"Authorization": f"Bearer {api_token}"}
    for operation in operations:

        @settings(
            max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
            suppress_health_check=list(HealthCheck),
        )  # fmt: skip
        @given(case=operation.as_strategy())
        def keeps_its_contract(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            keeps_its_contract()
        except Exception as failure:
            raise AssertionError(f"{operation.label}: {failure}") from failure

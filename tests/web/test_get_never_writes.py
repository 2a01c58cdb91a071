"""GET never writes: every GET route, walked signed out and as every role over the route-guard world
(with a chip never read and a load whose hold has lapsed), sends no INSERT, UPDATE or DELETE.

The one write a GET may cause is the session store's: `auth.services.resume_session` touches
`login_sessions.last_seen_at` at most once a minute and revokes an idle or too old session. That
table, and only it, is exempt.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from tests.e2e.world import build_world
from tests.web.conftest import csrf_token, login
from tests.web.test_route_guard import TERMINAL_API, _routes

#: What a GET may write: the server-side session's "last seen" touch and its idle/absolute expiry.
EXEMPT_WRITES = ("UPDATE login_sessions SET last_seen_at", "UPDATE login_sessions SET revoked_at")

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "MERGE", "UPSERT", "TRUNCATE")


@pytest.fixture
def world(app, clock):
    from portal.auth.models import User
    from portal.cards.models import Card
    from portal.chips import loads
    from portal.customers.models import Customer
    from portal.extensions import db
    from portal.funds import services as funds
    from portal.funds.plan import RawLine

    long_ago = clock.now() - timedelta(days=4)
    with app.app_context():
        world = build_world(db.session, now=clock.now())
        users = {u.username: u for u in db.session.scalars(select(User))}
        customer = db.session.get(Customer, world.customer_id)
        card = db.session.scalar(
            select(Card).where(Card.customer_id == customer.id, Card.role == "sub", Card.status == "active").limit(1)
        )
        funds.record_deposit(
            db.session, key="d" * 32, customer=customer, amount=1000, bank_reference="GET-GUARD", memo="",
            actor_id=users[world.staff].id, now=long_ago,
        )  # fmt: skip
        admin_id = users[world.admin].id
        lines = [RawLine(1, card.number, "5")]
        batch = funds.prepare_batch(
            db.session, customer_id=customer.id, kind="allocation", lines=lines, actor_id=admin_id, now=long_ago
        )
        funds.confirm_batch(db.session, batch, actor_id=admin_id, now=long_ago)
        # A load requested 4 days ago with a 72-hour hold: overdue, the old load page voided it on GET.
        loads.request_load(
            db.session, load_id="f" * 32, card=card, amount=100, actor_id=admin_id, now=long_ago,
            expiry=timedelta(hours=72),
        )  # fmt: skip
        db.session.commit()
    return world


@pytest.fixture
def writes(app):
    """Statements that write, recorded while `writes.watching` is true."""
    from portal.extensions import db

    class Recorder(list):
        watching = False

    recorded = Recorder()

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        text = " ".join(statement.split())
        if recorded.watching and text.upper().startswith(WRITES) and not text.startswith(EXEMPT_WRITES):
            recorded.append(text[:160])

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    yield recorded
    event.remove(engine, "before_cursor_execute", before_cursor_execute)


def _card_urls(app, world) -> list[str]:
    """Pages that take a card in the query string, once per card of the world's customer."""
    from portal.cards.models import Card
    from portal.extensions import db

    with app.app_context():
        ids = db.session.scalars(select(Card.id).where(Card.customer_id == world.customer_id)).all()
    return [f"{page}?card={card_id}" for card_id in ids for page in ("/chips/read", "/chips/sync", "/chips/load")]


def _get_everything(app, client, world, writes) -> None:
    urls = [url for endpoint, url, method in _routes(app) if method == "GET" and endpoint not in TERMINAL_API]
    for url in urls + _card_urls(app, world):
        writes.watching = True
        try:
            response = client.get(url)
            response.get_data()  # streamed exports run to their end
            response.close()
        finally:
            writes.watching = False
        assert response.status_code < 500, (url, response.status_code)
        assert not writes, (url, list(writes))


def test_signed_out_gets_write_nothing(app, client, world, writes):
    _get_everything(app, client, world, writes)


@pytest.mark.parametrize("role", ["admin", "driver", "staff", "sysadmin"])
def test_gets_write_nothing_for_any_role(app, client, world, writes, role):
    assert login(client, getattr(world, role), world.password).status_code == 302
    _get_everything(app, client, world, writes)


def test_the_recorder_sees_writes(app, client, world, writes):
    """The guard itself works: a POST that writes is seen."""
    assert login(client, world.admin, world.password).status_code == 302
    token = csrf_token(client, "/")
    writes.watching = True
    client.post("/auth/sign-out", data={"csrf_token": token})
    writes.watching = False
    assert any(statement.startswith("INSERT INTO audit") for statement in writes), list(writes)

""" "Send test event" and "Redeliver" call the receiver inside the request, so each user may press
them only so often (Flask-Limiter, per user, AUTH_RATE_LIMITS["webhooks_send"])."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.web.conftest import csrf_token, login
from tests.webhook_receiver import WebhookReceiver


@pytest.fixture
def app(db_engine, database_url, clock):
    from portal import create_app

    app = create_app("testing", DATABASE_URL=database_url, RATELIMIT_ENABLED=True,
                     AUTH_RATE_LIMITS={"webhooks_send": "2 per minute"})  # fmt: skip
    app.extensions["portal.clock"] = clock
    yield app
    app.extensions["portal.db"][0].dispose()


def test_sending_test_events_is_limited_per_user(client, showcase_world, db):
    from portal.webhooks.models import WebhookDelivery, WebhookEndpoint

    assert login(client, showcase_world.admin, showcase_world.password).status_code == 302
    with WebhookReceiver() as receiver:
        data = {"url": receiver.url, "events": ["purchase.approved"], "csrf_token": csrf_token(client, "/webhooks/new")}
        assert client.post("/webhooks/new", data=data).status_code == 200
        eid = db(lambda s: s.scalar(select(func.max(WebhookEndpoint.id))))
        token = csrf_token(client, f"/webhooks/{eid}")
        codes = [client.post(f"/webhooks/{eid}/test", data={"csrf_token": token}).status_code for _ in range(3)]
        assert codes == [302, 302, 429]
        assert db(lambda s: s.scalar(select(func.count()).select_from(WebhookDelivery))) == 2
        assert len(receiver.arrivals) == 2

"""Operations endpoints: /healthz, /readyz (each failed check named, 503), /metrics (Prometheus, not
public), and the request id (accepted or made, sent back, shown on error pages)."""

from __future__ import annotations

import os
import re

import pytest
from prometheus_client import REGISTRY

from tests.builders import CARD_NUMBER, station_setup
from tests.conftest import T0

#: Nothing listens here: connections are refused at once.
CLOSED_PORT = 1


@pytest.fixture
def make_app(database_url, db_engine, clock):
    """create_app("testing") with overrides; each app's engines disposed at the end."""
    from portal import create_app

    made = []

    def make(**overrides):
        app = create_app("testing", **{"DATABASE_URL": database_url, **overrides})
        app.extensions["portal.clock"] = clock
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["portal.db"][0].dispose()


# --- /healthz and /readyz ----------------------------------------------------------------------------


def test_healthz_answers_without_the_database(make_app):
    app = make_app(DATABASE_URL=f"postgresql+psycopg://portal@127.0.0.1:{CLOSED_PORT}/portal")
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_is_ready_when_everything_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "redis": "not used"},  # memory:// in tests
    }


def test_readyz_is_503_when_the_database_is_unreachable(make_app, caplog):
    secret = "s3cret-db-pw"
    app = make_app(DATABASE_URL=f"postgresql+psycopg://portal:{secret}@127.0.0.1:{CLOSED_PORT}/portal")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "failed"
    assert response.get_json()["status"] == "not ready"
    assert secret not in response.get_data(as_text=True) and "127.0.0.1" not in response.get_data(as_text=True)
    assert "readiness: database failed" in caplog.text and secret not in caplog.text


def test_readyz_is_503_when_migrations_are_not_at_head(make_app, tmp_path):
    from alembic.script import ScriptDirectory

    from portal.db import make_engine
    from portal.schema import alembic_config, upgrade

    scripts = ScriptDirectory.from_config(alembic_config())
    previous = scripts.get_revision(scripts.get_current_head()).down_revision
    url = "sqlite:///" + str(tmp_path / "behind.db")
    engine = make_engine(url)
    with engine.begin() as connection:
        upgrade(connection, previous)
    engine.dispose()
    response = make_app(DATABASE_URL=url).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {"database": "ok", "migrations": "not at head", "redis": "not used"}


def test_readyz_stays_ready_when_newer_code_has_migrated_the_database(make_app, tmp_path):
    """A rolling upgrade: one host ran the new migrations; the hosts still on the old code must not
    all leave the load balancer until they are replaced."""
    from sqlalchemy import text

    from portal.db import make_engine
    from portal.schema import upgrade

    url = "sqlite:///" + str(tmp_path / "ahead.db")
    engine = make_engine(url)
    with engine.begin() as connection:
        upgrade(connection)
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_newer_code'"))
    engine.dispose()
    response = make_app(DATABASE_URL=url).test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"]["migrations"] == "newer than this code"


def test_readyz_is_503_when_never_migrated(make_app, tmp_path):
    response = make_app(DATABASE_URL="sqlite:///" + str(tmp_path / "empty.db")).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["migrations"] == "not at head"


def test_readyz_is_503_when_the_limiters_redis_is_down(make_app):
    app = make_app(RATELIMIT_STORAGE_URI=f"redis://:redis-pw@127.0.0.1:{CLOSED_PORT}/13")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {"database": "ok", "migrations": "ok", "redis": "failed"}
    assert "redis-pw" not in response.get_data(as_text=True)


@pytest.mark.parametrize("uri", ["memory://", "MEMORY://", "Memory://", " memory://", "async+memory://"])
def test_readyz_counts_every_spelling_of_memory_as_not_used(make_app, uri):
    response = make_app(RATELIMIT_STORAGE_URI=uri).test_client().get("/readyz")
    assert response.status_code == 200 and response.get_json()["checks"]["redis"] == "not used"


def test_readyz_is_503_within_the_connect_timeout_when_the_database_never_answers(make_app):
    """A server that accepts the connection and says nothing (a dead host behind a load balancer):
    the connection gives up after DB_CONNECT_TIMEOUT_S, and /readyz answers 503 instead of hanging."""
    import threading

    from tests.notify_servers import SilentServer

    answers = []
    with SilentServer() as silent:
        app = make_app(
            DATABASE_URL=f"postgresql+psycopg://portal@127.0.0.1:{silent.port}/portal", DB_CONNECT_TIMEOUT_S=1
        )
        asking = threading.Thread(target=lambda: answers.append(app.test_client().get("/readyz")), daemon=True)
        asking.start()
        asking.join(timeout=15)
        assert not asking.is_alive(), "/readyz still waiting for the database"
    assert answers[0].status_code == 503 and answers[0].get_json()["checks"]["database"] == "failed"


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="set TEST_REDIS_URL to check a live Redis")
def test_readyz_is_ready_with_a_live_redis(make_app):
    response = make_app(RATELIMIT_STORAGE_URI=os.environ["TEST_REDIS_URL"]).test_client().get("/readyz")
    assert response.status_code == 200 and response.get_json()["checks"]["redis"] == "ok"


# --- the request id ------------------------------------------------------------------------------------


def test_a_safe_request_id_is_kept_and_sent_back(client):
    response = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a9c1e-0042"})
    assert response.headers["X-Request-ID"] == "lb-7f3a9c1e-0042"


@pytest.mark.parametrize(
    "offered", ["", "short", "x" * 65, "abc<script>alert(1)</script>", "id with spaces", "ünïcode-id-123"]
)
def test_an_unsafe_or_missing_request_id_is_replaced(client, offered):
    response = client.get("/healthz", headers={"X-Request-ID": offered} if offered else {})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_the_404_page_shows_the_request_id(client):
    response = client.get("/no-such-page", headers={"X-Request-ID": "support-ref-12345"})
    assert response.status_code == 404
    assert response.headers["X-Request-ID"] == "support-ref-12345"
    page = response.get_data(as_text=True)
    assert "如需联系客服，请提供此请求编号：" in page and "<code>support-ref-12345</code>" in page


def test_the_500_page_shows_the_request_id(app):
    def broken():
        raise RuntimeError("boom")

    app.add_url_rule("/test-only/broken", "test_only_broken", broken)
    response = app.test_client().get("/test-only/broken")
    request_id = response.headers["X-Request-ID"]
    assert response.status_code == 500
    assert f"<code>{request_id}</code>" in response.get_data(as_text=True)


def test_the_busy_page_shows_the_request_id(app):
    from portal.web.errors import Busy

    def busy():
        raise Busy()

    app.add_url_rule("/test-only/busy", "test_only_busy", busy)
    response = app.test_client().get("/test-only/busy", headers={"X-Request-ID": "busy-ref-0001"})
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "<code>busy-ref-0001</code>" in response.get_data(as_text=True)


# --- /metrics -----------------------------------------------------------------------------------------


def _scrape(client, address="127.0.0.1", **headers):
    return client.get("/metrics", environ_base={"REMOTE_ADDR": address}, headers=headers)


def test_metrics_answer_loopback_in_prometheus_format(client):
    client.get("/healthz")
    response = _scrape(client)
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    text = response.get_data(as_text=True)
    assert 'portal_request_duration_seconds_count{endpoint="ops.healthz",method="GET",status="200"}' in text
    assert "portal_outbox_backlog 0.0" in text


@pytest.mark.parametrize("address", ["10.1.2.3", "203.0.113.9", "::ffff:8.8.8.8"])
def test_metrics_are_404_to_other_addresses(client, address):
    response = _scrape(client, address)
    assert response.status_code == 404
    assert "portal_" not in response.get_data(as_text=True)


def test_metrics_accept_the_bearer_token_from_anywhere_and_nothing_else(make_app):
    client = make_app(METRICS_TOKEN="scrape-token-0123456789").test_client()
    assert _scrape(client, "10.1.2.3", Authorization="Bearer scrape-token-0123456789").status_code == 200
    assert _scrape(client, "10.1.2.3", Authorization="Bearer scrape-token-wrong").status_code == 404
    assert _scrape(client, "10.1.2.3", Authorization="scrape-token-0123456789").status_code == 404


def test_metrics_allow_a_configured_network_instead_of_loopback(make_app):
    client = make_app(METRICS_ALLOW="10.0.0.0/8, 192.168.1.5").test_client()
    assert _scrape(client, "10.1.2.3").status_code == 200
    assert _scrape(client, "192.168.1.5").status_code == 200
    assert _scrape(client, "127.0.0.1").status_code == 404


@pytest.mark.parametrize(
    ("setting", "value"),
    [("METRICS_ALLOW", "10.0.0.0/33"), ("METRICS_ALLOW", "localhost"), ("LOG_FORMAT", "xml"), ("LOG_LEVEL", "loud")],
)
def test_a_malformed_setting_stops_the_start_naming_it(make_app, setting, value):
    from config import ConfigError

    with pytest.raises(ConfigError, match=setting):
        make_app(**{setting: value})


def test_behind_the_proxy_an_outside_client_is_refused(make_app):
    """nginx on loopback forwards a visitor: the visitor's address decides, not the proxy's."""
    client = make_app(PROXY_COUNT=1).test_client()
    assert _scrape(client, "127.0.0.1", **{"X-Forwarded-For": "203.0.113.9"}).status_code == 404
    assert _scrape(client, "127.0.0.1").status_code == 200  # the monitoring system, straight to gunicorn


def test_the_outbox_backlog_is_read_at_scrape_time(app, client):
    from portal.extensions import clock, db
    from portal.notify import services

    with app.app_context():
        services.queue(db.session, "sms", "13800138000", "", "hello", now=clock().now())
        services.queue(db.session, "email", "a@example.cn", "s", "hello", now=clock().now())
        db.session.commit()
    assert "portal_outbox_backlog 2.0" in _scrape(client).get_data(as_text=True)


def _authorizations(result: str, code: str) -> float:
    return REGISTRY.get_sample_value("portal_authorizations_total", {"result": result, "code": code}) or 0.0


def test_authorizations_and_declines_are_counted_by_code_once_each(app, client):
    from portal.extensions import db

    with app.app_context():
        key = station_setup(db.session, now=T0, purse_fen=100_000).key
        db.session.commit()
    before = _authorizations("approved", "approved"), _authorizations("declined", "insufficient_balance")
    purchase = {
        "card_number": CARD_NUMBER,
        "product_code": "92",
        "litres_ml": 40_000,
        "unit_price_fen": 750,
        "amount_fen": 30_000,
        "at": T0.isoformat(),
    }
    headers = {"Authorization": f"Bearer {key}"}
    assert client.post("/api/terminal/v1/purchases", json={**purchase, "terminal_seq": 1}, headers=headers).json[
        "approved"
    ]
    client.post("/api/terminal/v1/purchases", json={**purchase, "terminal_seq": 1}, headers=headers)  # a replay
    too_much = {**purchase, "litres_ml": 200_000, "amount_fen": 150_000, "terminal_seq": 2}
    assert client.post("/api/terminal/v1/purchases", json=too_much, headers=headers).json["approved"] is False
    after = _authorizations("approved", "approved"), _authorizations("declined", "insufficient_balance")
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
    text = _scrape(client).get_data(as_text=True)
    assert 'portal_authorizations_total{code="insufficient_balance",result="declined"}' in text

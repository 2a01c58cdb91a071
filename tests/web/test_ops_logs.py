"""Log lines: one JSON object per line with the request id, user, customer, endpoint, status and
duration; and nothing secret in them, whatever a request carried."""

from __future__ import annotations

import io
import json
import re

import pytest
from sqlalchemy import select

from tests.builders import CARD_NUMBER, PASSWORD, station_setup
from tests.builders import create_user as add_user
from tests.conftest import T0
from tests.web.conftest import Db, csrf_token, login


@pytest.fixture
def log_lines(app):
    """Every log line written while the test runs (DEBUG and up), as the production handler writes them."""
    from portal.ops import logs
    from portal.ops.web import RequestContextFilter

    stream = io.StringIO()
    logs.configure(level="DEBUG", stream=stream, filters=(RequestContextFilter(),))
    yield stream
    logs.configure(level="INFO", filters=(RequestContextFilter(),))


def _records(stream) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_request_line_names_request_user_customer_endpoint_status_and_duration(app, client, log_lines):
    from portal.auth.models import User

    def build(s):
        world = station_setup(s, now=T0)
        return add_user(s, "fleet_admin", "admin", T0, customer_id=world.customer.id)

    Db(app)(build)
    assert login(client, "fleet_admin", PASSWORD).status_code == 302
    response = client.get("/cards/", headers={"X-Request-ID": "trace-0001-abcd"})
    assert response.status_code == 200
    [line] = [r for r in _records(log_lines) if r.get("request_id") == "trace-0001-abcd" and "status" in r]
    user = Db(app)(lambda s: s.scalar(select(User).where(User.username == "fleet_admin")))
    assert line["logger"] == "portal.request" and line["level"] == "INFO"
    assert (line["endpoint"], line["method"], line["status"]) == ("cards.index", "GET", 200)
    assert (line["user_id"], line["customer_id"], line["role"]) == (user.id, user.customer_id, "admin")
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])


def test_lines_logged_inside_a_request_carry_its_id(app, client, log_lines):
    def broken():
        raise RuntimeError("boom")

    app.add_url_rule("/test-only/broken", "test_only_broken", broken)
    response = client.get("/test-only/broken", headers={"X-Request-ID": "trace-0002-abcd"})
    assert response.status_code == 500
    error = next(r for r in _records(log_lines) if r["level"] == "ERROR")
    assert error["request_id"] == "trace-0002-abcd" and "RuntimeError: boom" in error["exc_info"]


def test_no_password_key_or_token_reaches_the_log(app, client, log_lines):
    """Sign in, ask for a reset link and open it, pay through the terminal API: the log has none of
    the password, the reset link's token, the terminal key, the session cookie or the CSRF token."""
    from portal.notify.web import console_messages

    key = Db(app)(lambda s: station_setup(s, now=T0).key)
    Db(app)(lambda s: add_user(s, "alice", "sysadmin", T0, email="alice@example.cn"))
    token = csrf_token(client)
    assert login(client, "alice", PASSWORD).status_code == 302
    client.post("/auth/sign-out", data={"csrf_token": csrf_token(client, "/")})
    recover = {"username": "alice", "contact": "alice@example.cn", "csrf_token": csrf_token(client)}
    assert client.post("/auth/recover", data=recover).status_code == 302
    body = console_messages(app)[-1].body
    reset_token = re.search(r"/auth/reset/([^\s/?#]+)", body).group(1)
    assert client.get(f"/auth/reset/{reset_token}").status_code == 200
    purchase = {"card_number": CARD_NUMBER, "product_code": "92", "litres_ml": 40_000, "unit_price_fen": 750}
    purchase |= {"amount_fen": 30_000, "terminal_seq": 1, "at": T0.isoformat()}
    answer = client.post("/api/terminal/v1/purchases", json=purchase, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200 and answer.json["approved"]
    cookie = client.get_cookie("portal_session")

    output = log_lines.getvalue()
    endpoints = {r.get("endpoint") for r in _records(log_lines)}
    assert {"auth.sign_in", "auth.recover", "auth.reset_password", "terminal_api.purchases"} <= endpoints
    secrets = {"password": PASSWORD, "reset token": reset_token, "terminal key": key, "csrf token": token}
    if cookie is not None:
        secrets["session cookie"] = cookie.value
    leaked = [name for name, value in secrets.items() if value in output]
    assert not leaked, f"{leaked} in the log"
    assert "/auth/reset/***" in output  # the line is there, without its token

"""Links in mail and SMS point at PUBLIC_URL, whatever Host or X-Forwarded-Host the request carries."""

import re

import pytest

from tests.builders import PASSWORD, auth_customers
from tests.builders import create_user as add_user
from tests.web.conftest import Db, login

PUBLIC = "https://portal.example.cn"
FORGED = {"Host": "attacker.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"}


@pytest.fixture
def proxied_app(database_url, db_engine, clock):
    """Behind one trusted proxy (ProxyFix believes X-Forwarded-Host), with a PUBLIC_URL. No CSRF: the
    test client keeps cookies per host, and the forged host would not get the session's."""
    from portal import create_app

    app = create_app("testing", DATABASE_URL=database_url, PROXY_COUNT=1, PUBLIC_URL=PUBLIC, WTF_CSRF_ENABLED=False)
    app.extensions["portal.clock"] = clock
    yield app
    app.extensions["portal.db"][0].dispose()


def _bodies(app):
    from portal.notify.web import console_messages

    return [m.body for m in console_messages(app)]


def test_a_recovery_request_with_forged_host_headers_gets_a_link_on_public_url(proxied_app, clock):
    Db(proxied_app)(lambda s: add_user(s, "alice", "sysadmin", clock.now(), email="alice@example.cn"))
    client = proxied_app.test_client()
    response = client.post("/auth/recover", data={"username": "alice", "contact": "alice@example.cn"}, headers=FORGED)
    assert response.status_code == 302
    [body] = _bodies(proxied_app)
    links = re.findall(r"https?://\S+", body)
    assert links and all(link.startswith(PUBLIC + "/auth/reset/") for link in links), body
    assert "attacker" not in body and "evil" not in body
    path = links[0][len(PUBLIC) :]
    assert client.get(path).status_code == 200  # the link works


def test_a_reset_link_sent_by_staff_is_on_public_url_too(proxied_app, clock):
    def build(s):
        world = auth_customers(s, clock.now())
        add_user(s, "bj_support", "staff", clock.now(), region_id=world.region_a)
        return add_user(s, "fleet_a", "admin", clock.now(), customer_id=world.customer_a, email="a@example.cn").id

    user_id = Db(proxied_app)(build)
    client = proxied_app.test_client()
    login(client, "bj_support", PASSWORD)
    client.post(f"/support/users/{user_id}/send-reset-link", headers={"X-Forwarded-Host": "evil.example"})
    [body] = _bodies(proxied_app)
    assert re.search(r"https?://\S+", body).group(0).startswith(PUBLIC + "/auth/reset/"), body


def test_public_link_ignores_the_request_and_a_trailing_slash(app):
    from portal.notify.web import public_link

    app.config["PUBLIC_URL"] = "https://portal.example.cn/"
    with app.test_request_context("/", headers=FORGED, base_url="http://attacker.example/prefix"):
        assert public_link("auth.reset_password", token="abc") == "https://portal.example.cn/auth/reset/abc"


def test_the_app_never_believes_x_forwarded_host_behind_a_trusted_proxy(proxied_app):
    from flask import request

    proxied_app.add_url_rule("/test-only/host", "test_only_host", lambda: request.host)
    response = proxied_app.test_client().get("/test-only/host", headers={"X-Forwarded-Host": "evil.example"})
    assert response.get_data(as_text=True) == "localhost"

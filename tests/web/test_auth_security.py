"""Cross-cutting protections: rate limits (shared through Redis, client address behind a proxy),
cookies, headers, CSRF, and mail over real SMTP."""

import email
import email.policy
import os
import re
import socket
import subprocess
import sys
import textwrap
import uuid

import pytest

from tests.builders import PASSWORD, auth_customers
from tests.builders import create_user as add_user
from tests.web.conftest import Db, csrf_token, login

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/4")


@pytest.fixture
def limited_app(database_url, db_engine, clock):
    """A factory of apps with rate limits on (testing turns them off); engines closed afterwards."""
    apps = []

    def make(**overrides):
        app = _limited_app(database_url, clock, **overrides)
        apps.append(app)
        return app

    yield make
    from portal.extensions import limiter

    limiter.enabled = False  # the extension is a singleton; later test apps set it again anyway
    for app in apps:
        app.extensions["portal.db"][0].dispose()


def _limited_app(database_url, clock, **overrides):
    from portal import create_app

    app = create_app(
        "testing",
        DATABASE_URL=database_url,
        RATELIMIT_ENABLED=True,
        WTF_CSRF_ENABLED=False,
        AUTH_RATE_LIMITS={"sign_in": "5 per minute"},
        **overrides,
    )
    app.extensions["portal.clock"] = clock
    return app


def post_sign_in(client, ip, forwarded=None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client.post(
        "/auth/sign-in", data={"username": "nobody", "password": "x"}, environ_base={"REMOTE_ADDR": ip}, headers=headers
    ).status_code


def test_spoofed_forwarded_for_is_ignored_without_a_proxy(database_url, limited_app):
    client = limited_app(RATELIMIT_STORAGE_URI="memory://", PROXY_COUNT=0).test_client()
    codes = [post_sign_in(client, "203.0.113.7", forwarded=f"198.51.100.{i}") for i in range(6)]
    assert 429 not in codes[:5] and codes[5] == 429  # (400s: the captcha starts after 3 failures)


def test_behind_one_proxy_the_forwarded_address_counts(database_url, limited_app):
    client = limited_app(RATELIMIT_STORAGE_URI="memory://", PROXY_COUNT=1).test_client()
    assert [post_sign_in(client, "10.0.0.1", forwarded="198.51.100.1") for _ in range(6)][-1] == 429
    assert post_sign_in(client, "10.0.0.1", forwarded="198.51.100.2") != 429


SECOND_INSTANCE = textwrap.dedent(
    """
    import sys
    from portal import create_app
    app = create_app("testing", DATABASE_URL=sys.argv[1], RATELIMIT_ENABLED=True, WTF_CSRF_ENABLED=False,
                     RATELIMIT_STORAGE_URI=sys.argv[2], RATELIMIT_KEY_PREFIX=sys.argv[4],
                     AUTH_RATE_LIMITS={"sign_in": "5 per minute"})
    client = app.test_client()
    codes = [client.post("/auth/sign-in", data={"username": "nobody", "password": "x"},
                         environ_base={"REMOTE_ADDR": sys.argv[3]}).status_code for _ in range(3)]
    print(" ".join(map(str, codes)))
    """
)


def test_rate_limits_hold_across_two_app_instances_sharing_redis(database_url, limited_app):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is needed at {REDIS_URL} (set TEST_REDIS_URL)")
        pytest.skip(f"no Redis at {REDIS_URL}: set TEST_REDIS_URL (CI runs this test)")
    address = f"192.0.2.{uuid.uuid4().int % 250 + 1}"
    # The Redis database may be a developer's: this run writes under its own key prefix, removes only
    # those keys, and leaves everything else (here a stand-in for the developer's data) alone.
    prefix = f"portal-test-{uuid.uuid4().hex}"
    store = redis.Redis.from_url(REDIS_URL)
    theirs = f"developer-key-{uuid.uuid4().hex}"
    store.set(theirs, "keep", ex=300)
    here = limited_app(RATELIMIT_STORAGE_URI=REDIS_URL, RATELIMIT_KEY_PREFIX=prefix).test_client()
    try:
        _sign_in_limit_shared_with_another_process(here, database_url, address, prefix)
        assert list(store.scan_iter(match=f"*{prefix}*")), "the limiter wrote no key under the run's prefix"
    finally:
        for key in store.scan_iter(match=f"*{prefix}*"):
            store.delete(key)
    assert store.get(theirs) == b"keep"
    store.delete(theirs)


def _sign_in_limit_shared_with_another_process(here, database_url, address, prefix):
    assert 429 not in [post_sign_in(here, address) for _ in range(3)]
    other = subprocess.run(
        [sys.executable, "-c", SECOND_INSTANCE, database_url, REDIS_URL, address, prefix],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    assert other.returncode == 0, other.stderr
    codes = other.stdout.split()
    assert "429" not in codes[:2] and codes[2] == "429"  # the 6th request overall, in another process


def test_session_cookie_flags(client, app, clock):
    Db(app)(lambda s: add_user(s, "alice", "sysadmin", clock.now()))
    cookie = login(client, "alice", PASSWORD).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Expires" not in cookie  # no long-lived remember-me: the server-side session is the lifetime
    from config import ProductionConfig

    assert ProductionConfig.SESSION_COOKIE_SECURE and ProductionConfig.HSTS


def test_security_headers(client):
    response = client.get("/auth/sign-in")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp and "script-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]
    assert not re.search(r"<script(?![^>]*\bsrc=)", response.get_data(as_text=True))  # no inline scripts


@pytest.mark.parametrize("path", ["/auth/sign-in", "/auth/register", "/auth/recover", "/auth/password"])
def test_every_auth_post_needs_a_csrf_token(client, app, clock, path):
    Db(app)(lambda s: add_user(s, "alice", "sysadmin", clock.now()))
    if path == "/auth/password":
        login(client, "alice", PASSWORD)
    assert client.post(path, data={"username": "alice", "password": PASSWORD}).status_code == 400


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


def test_registration_code_goes_out_over_smtp(client, app, clock):
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        app.config.update(
            MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=controller.server.sockets[0].getsockname()[1]
        )
        world = Db(app)(lambda s: auth_customers(s, clock.now()))
        response = client.post(
            "/auth/register",
            data={"card_number": world.main_card_a, "credit_code": world.credit_code_a, "contact": world.email_a,
                  "csrf_token": csrf_token(client, "/auth/register")},
        )  # fmt: skip
        assert response.status_code == 302
    finally:
        controller.stop()
    (envelope,) = inbox.messages
    assert envelope.rcpt_tos == [world.email_a]
    body = email.message_from_bytes(envelope.content, policy=email.policy.default).get_content()
    assert re.search(r"\b\d{6}\b", body)


# --- the terminal API: bounded bodies, limited failed keys, limited requests per terminal ----------
TERMINAL_URL = "/api/terminal/v1/purchases"


def _terminal_key(app) -> str:
    from portal.extensions import clock, db
    from tests.builders import station_setup

    with app.app_context():
        world = station_setup(db.session, now=clock().now())
        db.session.commit()
        return world.key


def test_terminal_bodies_over_64_kib_are_refused_before_they_are_read(client):
    big = b'{"card_number": "' + b"9" * (70 * 1024) + b'"}'
    for headers in ({}, {"Authorization": "Bearer pt_unknown"}):
        response = client.post(TERMINAL_URL, data=big, headers={**headers, "Content-Type": "application/json"})
        assert response.status_code == 413
        assert response.get_json()["error"]["code"] == "body_too_large"


def test_failed_terminal_keys_are_limited_per_address(limited_app):
    app = limited_app(RATELIMIT_STORAGE_URI="memory://", PROXY_COUNT=0, TERMINAL_AUTH_FAILURE_LIMIT="3 per minute")
    key = _terminal_key(app)
    client = app.test_client()

    def post(api_key, ip):
        return client.post(
            TERMINAL_URL, json={}, headers={"Authorization": f"Bearer {api_key}"}, environ_base={"REMOTE_ADDR": ip}
        )

    assert [post("pt_guess", "203.0.113.9").status_code for _ in range(3)] == [401, 401, 401]
    refused = post("pt_guess", "203.0.113.9")
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    assert post(key, "203.0.113.9").status_code == 429  # that address is refused for now, whatever key
    assert post(key, "203.0.113.10").status_code == 400  # another address, a good key: heard (empty body)


def test_requests_per_terminal_are_limited(limited_app):
    app = limited_app(RATELIMIT_STORAGE_URI="memory://", TERMINAL_REQUEST_LIMIT="2 per minute")
    key = _terminal_key(app)
    client = app.test_client()
    codes = [
        client.post(TERMINAL_URL, json={}, headers={"Authorization": f"Bearer {key}"}).status_code for _ in range(3)
    ]
    assert codes[:2] == [400, 400] and codes[2] == 429

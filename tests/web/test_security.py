"""Security headers on every response; HSTS only in production."""

from __future__ import annotations

import pytest

from portal import create_app


def csp(response) -> dict[str, str]:
    return {
        part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else ""
        for part in (p.strip() for p in response.headers["Content-Security-Policy"].split(";"))
    }


@pytest.mark.parametrize("path", ["/auth/sign-in", "/", "/no-such-page", "/static/css/portal.css"])
def test_every_response_has_the_security_headers(client, path):
    response = client.get(path)
    response.close()  # static files are streamed
    policy = csp(response)
    assert policy["script-src"] == "'self'"  # no 'unsafe-inline', no hosts: no inline or CDN scripts
    assert policy["style-src"] == "'self'"
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert policy["form-action"] == "'self'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_no_hsts_outside_production(client):
    assert "Strict-Transport-Security" not in client.get("/auth/sign-in").headers


def test_hsts_in_production(database_url, db_engine, monkeypatch):
    for name in ("SMS_SECRET_ID", "SMS_SECRET_KEY", "SMS_APP_ID", "SMS_SIGN_NAME"):  # the SMS gateway's
        monkeypatch.setenv(name, "test")
    monkeypatch.setenv("SMS_TEMPLATES", "registration_code=1000001,recovery_link=1000002")
    monkeypatch.setenv("SECRET_KEY", "kQ3v-9xZ_pL2mW8rT5yB1nC7dF4gH6jK0sA")
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("PUBLIC_URL", "https://portal.example")
    for name, value in {"MAIL_BACKEND": "smtp", "SMS_BACKEND": "tencent", "CARD_READER": "none"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:9/0")  # never reached: no page here counts
    app = create_app("production")
    try:
        response = app.test_client().get("/auth/sign-in", base_url="https://portal.example")
        assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    finally:
        app.extensions["portal.db"][0].dispose()


def test_pages_are_not_cached_but_static_files_may_be(client):
    assert client.get("/auth/sign-in").headers["Cache-Control"] == "no-store"
    with client.get("/static/css/portal.css") as static:
        assert "no-store" not in static.headers.get("Cache-Control", "")


def test_language_cookie_is_http_only_and_same_site(client):
    from tests.web.conftest import csrf_token

    response = client.post("/language", data={"lang": "en", "csrf_token": csrf_token(client)})
    cookie = response.headers["Set-Cookie"]
    assert "lang=en" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie

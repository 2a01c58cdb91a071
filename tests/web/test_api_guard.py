"""Every route of the customer API (`api.*`), walked automatically: a route without a declared scope
fails here, and each one refuses what it must (no key, a cookie session, a revoked, expired or
out-of-network key, a key without the route's scope, another customer's key), answers junk with a
4xx problem, and no GET writes anything but the key's last use.

New routes join by themselves; a new path parameter needs a sample in tests/web/api_support.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from portal.apikeys.services import SCOPES
from tests.web.api_support import api_routes, bearer, fill, make_key, path_samples, revoke
from tests.web.conftest import signed_in

PROBLEM = "application/problem+json"
#: The documented write a GET may cause: the key's last use, at most once a minute (portal.api.auth).
EXEMPT_WRITES = ("UPDATE api_keys SET last_used_at",)
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "MERGE", "UPSERT", "TRUNCATE")


def _keyed(app):
    return [(e, rule, m, view) for e, rule, m, view in api_routes(app) if view.api_scope is not None]


def send(client, method: str, url: str, headers: dict, **kwargs):
    headers = {"Idempotency-Key": "guard-1", **headers}
    kwargs.setdefault("buffered", True)  # read streamed downloads whole, as a server would
    if method == "GET":
        return client.get(url, headers=headers, **kwargs)
    return client.open(url, method=method, json={}, headers=headers, **kwargs)


def test_every_api_route_declares_a_scope(app):
    undeclared = [endpoint for endpoint, _, _, view in api_routes(app) if not hasattr(view, "api_scope")]
    assert not undeclared, f"declare these with portal.api.auth.api_endpoint(scope, ...): {sorted(undeclared)}"
    public = {endpoint for endpoint, _, _, view in api_routes(app) if view.api_scope is None}
    assert public == {"api.openapi", "api.docs", "api.docs_asset"}
    for endpoint, _, method, view in _keyed(app):
        assert view.api_scope in SCOPES, endpoint
        assert (view.api_scope == "read") == (method == "GET"), (endpoint, method, view.api_scope)


def test_the_session_route_guard_knows_the_api_is_key_authenticated(app):
    from portal.web.access import check_permission

    assert check_permission not in app.before_request_funcs.get("api", [])


@pytest.fixture
def walk(app, api_world):
    return [(endpoint, fill(rule, path_samples(app, api_world.world)), method, view) for endpoint, rule, method, view
            in _keyed(app)]  # fmt: skip


def _refused(response, statuses, why):
    assert response.status_code in statuses, (why, response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == PROBLEM, why


def test_without_a_key_every_route_is_401(client, walk):
    for endpoint, url, method, _ in walk:
        _refused(send(client, method, url, {}), {401}, (endpoint, method))


def test_a_signed_in_session_alone_is_401_everywhere(client, api_world, walk):
    signed_in(client, api_world.world.admin)
    for endpoint, url, method, _ in walk:
        _refused(send(client, method, url, {}), {401}, (endpoint, method))


def test_revoked_and_expired_keys_are_401_everywhere(app, client, clock, api_world, walk):
    expiring = make_key(app, api_world.customer_id, expires_at=clock.now() + timedelta(hours=1))
    revoke(app, api_world.token, clock.now())
    clock.advance(timedelta(hours=1))
    for endpoint, url, method, _ in walk:
        _refused(send(client, method, url, bearer(api_world.token)), {401}, (endpoint, method, "revoked"))
        _refused(send(client, method, url, bearer(expiring)), {401}, (endpoint, method, "expired"))


def test_a_key_from_outside_its_networks_is_403_everywhere(app, client, api_world, walk):
    token = make_key(app, api_world.customer_id, networks=["192.0.2.0/24"])
    for endpoint, url, method, _ in walk:
        _refused(send(client, method, url, bearer(token)), {403}, (endpoint, method))


def test_a_key_without_the_routes_scope_is_403(app, client, api_world, walk):
    tokens = {scope: make_key(app, api_world.customer_id, [s for s in SCOPES if s != scope]) for scope in SCOPES}
    for endpoint, url, method, view in walk:
        _refused(send(client, method, url, bearer(tokens[view.api_scope])), {403}, (endpoint, method))


def test_another_customers_key_reaches_nothing_of_this_customer(app, client, api_world, walk):
    """Routes naming an object of the showcase customer answer 404 to the other customer's key (writes
    may refuse the empty body first); lists show none of the showcase customer's cards."""
    from portal.cards.models import Card
    from portal.extensions import db

    with app.app_context():
        numbers = set(db.session.scalars(select(Card.number).where(Card.customer_id == api_world.customer_id)))
    for endpoint, url, method, _ in walk:
        response = send(client, method, url, bearer(api_world.other_token))
        text = response.get_data().decode("utf-8", "replace")  # downloads (XLSX) are bytes
        assert response.status_code < 500, (endpoint, method, text[:300])
        assert not any(number in text for number in numbers if number not in url), (endpoint, method)
        if "<" in next(r.rule for r in app.url_map.iter_rules() if r.endpoint == endpoint):
            assert response.status_code in ({404} if method == "GET" else {400, 404, 422}), (endpoint, method, text)


# --- junk ---------------------------------------------------------------------------------------------

JUNK_QUERIES = (
    "limit=abc&cursor=%00", "limit=-1", "limit=99999999999999999999999", "cursor=" + "x" * 5000,
    "status=%3Cscript%3E&q=" + "x" * 2000, "q=%E2%80%AE&start=2026-13-45&end=0000-00-00", "limit=1e309",
    "a[b][c]=1&a[b]=2", "limit=1&limit=2", "%ff%fe=%c3%28",
)  # fmt: skip
JUNK_BODIES = (
    ("{not json", "application/json"), ("[]", "application/json"), ("null", "application/json"),
    ('{"a":' * 3000 + "1" + "}" * 3000, "application/json"), (b"\xff\xfe\x00", "application/json"),
    ('{"x": "\\u0000"}', "application/json"), ("a=1", "application/x-www-form-urlencoded"), ("<x/>", "text/xml"),
    ('{"amount_fen": 1e999, "card_number": ["x"], "lines": {"a": null}}', "application/json"),
)  # fmt: skip
JUNK_HEADERS = (
    {"Authorization": "Bearer \x7f"}, {"Authorization": "Bearer fcp_" + "_" * 60}, {"Authorization": "bearer"},
    {"Idempotency-Key": ""}, {"Accept": "text/html;q=abc"}, {"Content-Length": "abc"}, {"X-Forwarded-For": "junk"},
)  # fmt: skip


def test_junk_never_causes_a_server_error(app, client, api_world, walk):
    for endpoint, url, method, _ in walk:
        for query in JUNK_QUERIES:
            response = send(client, method, f"{url}?{query}", bearer(api_world.token))
            assert response.status_code < 500, (endpoint, method, query, response.status_code)
            if response.status_code >= 400:
                assert response.mimetype == PROBLEM, (endpoint, query)
        if method != "GET":
            for data, content_type in JUNK_BODIES:
                headers = {**bearer(api_world.token), "Content-Type": content_type, "Idempotency-Key": "junk"}
                response = client.open(url, method=method, data=data, headers=headers)
                assert 400 <= response.status_code < 500, (endpoint, data[:40], response.status_code)
                assert response.mimetype == PROBLEM, (endpoint, data[:40])
        for headers in JUNK_HEADERS:
            merged = {**bearer(api_world.token), **headers}
            response = send(client, method, url, merged)
            assert response.status_code < 500, (endpoint, headers, response.status_code)


# --- GET never writes -------------------------------------------------------------------------------------


@pytest.fixture
def writes(app):
    from portal.extensions import db

    recorded: list[str] = []
    watching = {"on": False}

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        text = " ".join(statement.split())
        if watching["on"] and text.upper().startswith(WRITES):
            recorded.append(text[:160])

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    yield recorded, watching
    event.remove(engine, "before_cursor_execute", before_cursor_execute)


def test_gets_write_nothing_but_the_keys_last_use(client, api_world, walk, writes):
    recorded, watching = writes
    for endpoint, url, method, _ in walk:
        if method != "GET":
            continue
        watching["on"] = True
        try:
            response = client.get(url, headers=bearer(api_world.token), buffered=True)
        finally:
            watching["on"] = False
        assert response.status_code < 500, (endpoint, response.status_code)
        assert not [s for s in recorded if not s.startswith(EXEMPT_WRITES)], (endpoint, recorded)
        recorded.clear()


def test_every_get_refuses_an_unknown_query_parameter(client, api_world, walk):
    """A misspelt filter must not answer everything: 422 naming the parameter (docs/api.md)."""
    for endpoint, url, method, _ in walk:
        if method != "GET":
            continue
        response = client.get(f"{url}?no_such_parameter=1", headers=bearer(api_world.token), buffered=True)
        _refused(response, {422}, (endpoint, "unknown parameter"))
        body = response.get_json()
        assert body["code"] == "validation_failed", endpoint
        assert "query.no_such_parameter" in [e["field"] for e in body["errors"]], (endpoint, body)


def test_a_nul_in_the_query_or_path_is_the_apis_own_400_problem(client, api_world, walk):
    for endpoint, url, method, _ in walk:
        for bad in (f"{url}?limit=%00", f"{url}%00"):
            response = send(client, method, bad, bearer(api_world.token))
            _refused(response, {400}, (endpoint, bad))
            assert response.get_json()["code"] == "nul_character", (endpoint, bad)


def test_every_operation_documents_400_and_its_headers(client):
    document = client.get("/api/v1/openapi.json").get_json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "400" in responses, (method, path)
            for status, answer in responses.items():
                headers = set(answer.get("headers", {}))
                assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= headers, (method, path, status)
                if status in ("429", "503"):
                    assert "Retry-After" in headers, (method, path, status)
                if status == "401":
                    assert "WWW-Authenticate" in headers, (method, path)
                if "Idempotency-Key" in str(operation.get("parameters", [])):
                    assert "Idempotent-Replayed" in headers, (method, path, status)


def test_statement_downloads_declare_their_media_types(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    csv = paths["/api/v1/statements/export.csv"]["get"]["responses"]["200"]["content"]
    xlsx = paths["/api/v1/statements/export.xlsx"]["get"]["responses"]["200"]["content"]
    assert list(csv) == ["text/csv"]
    assert list(xlsx) == ["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]

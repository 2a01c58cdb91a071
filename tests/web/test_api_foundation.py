"""The customer API's foundation (/api/v1): keys, scopes, problems, rate limits, idempotency,
pagination and the OpenAPI document. The endpoints' own behaviour is tested in their areas' tests."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.web.api_support import bearer, make_key, revoke
from tests.web.conftest import signed_in

CARDS = "/api/v1/cards"
MOVES = "/api/v1/probe/moves"
PROBLEM = "application/problem+json"


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status and body["code"] == code, body
    assert body["type"].endswith(f"/api/v1/problems/{code}") and body["title"] and body["instance"]
    return body


# --- who may call -----------------------------------------------------------------------------------


def test_a_key_reads_its_customers_cards(client, api_world):
    response = client.get(CARDS, headers=bearer(api_world.token))
    assert response.status_code == 200
    numbers = [card["number"] for card in response.get_json()["data"]]
    assert numbers and numbers == sorted(numbers)
    other = client.get(CARDS, headers=bearer(api_world.other_token)).get_json()["data"]
    assert not set(numbers) & {card["number"] for card in other}


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_key"),
        ("Bearer", "missing_key"),
        ("Basic dXNlcjpwYXNz", "missing_key"),
        ("Bearer fcp_000000000000_nope", "invalid_key"),
        ("Bearer pt_terminalkey", "invalid_key"),
        ("Bearer " + "x" * 5000, "invalid_key"),
    ],
)
def test_no_or_unknown_key_is_401(client, api_world, header, code):
    response = client.get(CARDS, headers={"Authorization": header} if header else {})
    problem(response, 401, code)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_secret_for_a_real_prefix_is_401(client, api_world):
    prefix = api_world.token[:16]  # fcp_ and the public part
    problem(client.get(CARDS, headers=bearer(prefix + "_" + "A" * 43)), 401, "invalid_key")


def test_a_signed_in_browser_session_does_not_authenticate_the_api(client, api_world):
    signed_in(client, api_world.world.admin)
    assert client.get("/cards/").status_code == 200  # the session works for pages...
    problem(client.get(CARDS), 401, "missing_key")  # ...never for the API


def test_revoked_and_expired_keys_are_401(app, client, clock, api_world):
    revoke(app, api_world.token, clock.now())
    problem(client.get(CARDS, headers=bearer(api_world.token)), 401, "key_revoked")
    expiring = make_key(app, api_world.customer_id, expires_at=clock.now() + timedelta(days=1))
    assert client.get(CARDS, headers=bearer(expiring)).status_code == 200
    clock.advance(timedelta(days=1))
    problem(client.get(CARDS, headers=bearer(expiring)), 401, "key_expired")


def test_the_address_allowlist(app, client, api_world):
    token = make_key(app, api_world.customer_id, networks=["10.0.0.0/8", "2001:db8::/32"])
    problem(client.get(CARDS, headers=bearer(token)), 403, "address_not_allowed")  # from 127.0.0.1
    assert client.get(CARDS, headers=bearer(token), environ_base={"REMOTE_ADDR": "10.2.3.4"}).status_code == 200
    assert client.get(CARDS, headers=bearer(token), environ_base={"REMOTE_ADDR": "2001:db8::7"}).status_code == 200


def test_a_key_without_the_scope_is_403(app, client, api_world):
    token = make_key(app, api_world.customer_id, scopes=["cards", "funds"])
    body = problem(client.get(CARDS, headers=bearer(token)), 403, "scope_missing")
    assert "read" in body["detail"]


def test_another_customers_card_is_404(client, api_world):
    number = api_world.world.main_card_number[:-3] + "110"  # a sub-card of the showcase customer
    assert client.get(f"{CARDS}/{number}", headers=bearer(api_world.token)).status_code == 200
    problem(client.get(f"{CARDS}/{number}", headers=bearer(api_world.other_token)), 404, "card_not_found")


def test_owned_or_404_hides_other_customers_objects(probe_app, api_world):
    from portal.apikeys.models import ApiKey
    from portal.extensions import db

    with probe_app.app_context():
        ids = dict(db.session.execute(select(ApiKey.customer_id, ApiKey.id)).all())
    client = probe_app.test_client()
    own = client.get(f"/api/v1/probe/keys/{ids[api_world.customer_id]}", headers=bearer(api_world.token))
    assert own.status_code == 200 and own.get_json() == {"name": "ERP"}
    theirs = client.get(f"/api/v1/probe/keys/{ids[api_world.other_customer_id]}", headers=bearer(api_world.token))
    problem(theirs, 404, "key_not_found")
    problem(client.get("/api/v1/probe/keys/99999999", headers=bearer(api_world.token)), 404, "key_not_found")


def test_last_use_is_recorded_at_most_once_a_minute(app, client, clock, api_world):
    from portal.apikeys.models import ApiKey
    from portal.extensions import db

    def last_use():
        with app.app_context():
            key = db.session.scalar(select(ApiKey).where(ApiKey.customer_id == api_world.customer_id))
            return key.last_used_at, key.last_used_ip

    client.get(CARDS, headers=bearer(api_world.token))
    first, ip = last_use()
    assert first == clock.now() and ip == "127.0.0.1"
    clock.advance(timedelta(seconds=30))
    client.get(CARDS, headers=bearer(api_world.token))
    assert last_use()[0] == first
    clock.advance(timedelta(seconds=31))
    client.get(CARDS, headers=bearer(api_world.token))
    assert last_use()[0] == clock.now()


# --- problems -------------------------------------------------------------------------------------


def test_validation_errors_list_the_fields(client, api_world):
    body = problem(
        client.get(f"{CARDS}?limit=abc&status=gone", headers=bearer(api_world.token)), 422, "validation_failed"
    )
    assert {e["field"] for e in body["errors"]} == {"query.limit", "query.status"}
    body = problem(client.get(f"{CARDS}?limit=201", headers=bearer(api_world.token)), 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == ["query.limit"]


def test_unknown_urls_and_methods_are_problems(client, api_world):
    problem(client.get("/api/v1/nothing-here", headers=bearer(api_world.token)), 404, "not_found")
    response = client.delete(CARDS, headers=bearer(api_world.token))
    problem(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_a_nul_in_the_query_is_400(client, api_world):
    body = problem(client.get(f"{CARDS}?q=a%00b", headers=bearer(api_world.token)), 400, "nul_character")
    assert body["detail"] == "strings must not contain a NUL character"  # the API's own English, not the page's


def test_a_bug_is_a_500_that_says_nothing(probe_app, api_world):
    response = probe_app.test_client().get("/api/v1/probe/bug", headers=bearer(api_world.token))
    body = problem(response, 500, "internal_error")
    assert "secret" not in response.get_data(as_text=True) and "Traceback" not in body["detail"]


def test_a_busy_database_is_503_with_retry_after(probe_app, api_world):
    response = probe_app.test_client().get("/api/v1/probe/busy", headers=bearer(api_world.token))
    body = problem(response, 503, "busy_retry")
    assert "nothing was changed" in body["detail"] and int(response.headers["Retry-After"]) >= 1


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 400, "malformed_json"),
        ("[1, 2]", "application/json", 400, "malformed_json"),
        ('"text"', "application/json", 400, "malformed_json"),
        ("[" * 5000 + "]" * 5000, "application/json", 400, "malformed_json"),
        (b"\xff\xfe{}", "application/json", 400, "malformed_json"),
        ('{"amount_fen": 1, "memo": "a\\u0000b"}', "application/json", 400, "nul_character"),
        ("amount_fen=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ('{"amount_fen": 1}', "text/plain", 415, "unsupported_media_type"),
        ('{"amount_fen": "many"}', "application/json", 422, "validation_failed"),
        ('{"amount_fen": 0, "refuse": "perhaps"}', "application/json", 422, "validation_failed"),
        ("{}", "application/json", 422, "validation_failed"),
    ],
)
def test_bad_bodies_are_4xx_problems(probe_app, api_world, data, content_type, status, code):
    client = probe_app.test_client()
    headers = {**bearer(api_world.token), "Idempotency-Key": "k-1", "Content-Type": content_type}
    problem(client.post(MOVES, data=data, headers=headers), status, code)


def test_an_oversized_body_is_413(probe_app, api_world):
    probe_app.config["API_MAX_BODY_BYTES"] = 1000
    headers = {**bearer(api_world.token), "Idempotency-Key": "k-1"}
    response = probe_app.test_client().post(MOVES, json={"amount_fen": 1, "memo": "x" * 2000}, headers=headers)
    problem(response, 413, "body_too_large")


def test_the_rules_errors_map_to_problems(app):
    from portal.api.problems import ERRORS, problem_for
    from portal.cards.errors import AlreadyReported, CardNotFound
    from portal.funds.services import FundsError
    from portal.ledger.errors import ForeignAccount, InsufficientFunds

    cases = {
        InsufficientFunds("x", account_id=1, available=0, amount=1): (409, "insufficient_funds"),
        ForeignAccount("x"): (404, "account_not_found"),
        AlreadyReported("x"): (409, "already_reported"),
        CardNotFound("x"): (404, "card_not_found"),
        FundsError("insufficient", "x"): (409, "insufficient"),
        FundsError("reference_required", "x"): (422, "reference_required"),
    }
    for error, expected in cases.items():
        found = problem_for(error)
        assert (found.status, found.code) == expected, error
    assert problem_for(ValueError("x")) is None
    assert all(400 <= status < 500 for status, _ in ERRORS.values())


# --- idempotency -------------------------------------------------------------------------------------


def _events(app, action="probe.move") -> int:
    from portal.audit.models import AuditEvent
    from portal.extensions import db

    with app.app_context():
        return db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == action))


def test_idempotency_key_required_and_checked(probe_app, api_world):
    client = probe_app.test_client()
    problem(client.post(MOVES, json={"amount_fen": 1}, headers=bearer(api_world.token)), 400, "idempotency_key_missing")
    for bad in ("with space", "x" * 65, "é"):
        headers = {**bearer(api_world.token), "Idempotency-Key": bad}
        problem(client.post(MOVES, json={"amount_fen": 1}, headers=headers), 400, "idempotency_key_invalid")
    assert _events(probe_app) == 0


def test_the_same_key_and_body_replay_the_answer(probe_app, api_world):
    client = probe_app.test_client()
    headers = {**bearer(api_world.token), "Idempotency-Key": "order-42"}
    first = client.post(MOVES, json={"amount_fen": 500, "memo": "a"}, headers=headers)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = client.post(
        MOVES, data='{"memo":"a",  "amount_fen":500}', headers={**headers, "Content-Type": "application/json"}
    )
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert _events(probe_app) == 1
    assert len(first.get_json()["service_key"]) == 32
    # the same key from another customer is another request
    other = {**bearer(api_world.other_token), "Idempotency-Key": "order-42"}
    assert client.post(MOVES, json={"amount_fen": 500, "memo": "a"}, headers=other).status_code == 201
    assert _events(probe_app) == 2


def test_the_same_key_with_another_body_is_refused(probe_app, api_world):
    client = probe_app.test_client()
    headers = {**bearer(api_world.token), "Idempotency-Key": "order-43"}
    assert client.post(MOVES, json={"amount_fen": 500}, headers=headers).status_code == 201
    problem(client.post(MOVES, json={"amount_fen": 501}, headers=headers), 422, "idempotency_key_reused")
    assert _events(probe_app) == 1


def test_a_chunked_body_counts_in_the_fingerprint(probe_app, api_world):
    """No Content-Length (Transfer-Encoding: chunked, as gunicorn passes it on): the body still decides."""
    import io
    import json

    client = probe_app.test_client()

    def chunked(body: dict):
        return client.post(
            MOVES, input_stream=io.BytesIO(json.dumps(body).encode()),
            environ_overrides={"wsgi.input_terminated": True},
            headers={**bearer(api_world.token), "Idempotency-Key": "order-chunked",
                     "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        )  # fmt: skip

    first = chunked({"amount_fen": 500})
    assert first.status_code == 201 and first.get_json()["amount_fen"] == 500
    problem(chunked({"amount_fen": 501}), 422, "idempotency_key_reused")
    again = chunked({"amount_fen": 500})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert _events(probe_app) == 1


def test_a_refusal_is_stored_and_replayed_and_its_writes_undone(probe_app, api_world):
    client = probe_app.test_client()
    headers = {**bearer(api_world.token), "Idempotency-Key": "order-44"}
    first = client.post(MOVES, json={"amount_fen": 500, "refuse": True}, headers=headers)
    problem(first, 409, "insufficient_funds")
    assert _events(probe_app) == 0  # the view wrote an event before refusing: undone
    again = client.post(MOVES, json={"amount_fen": 500, "refuse": True}, headers=headers)
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"


def test_a_validation_failure_is_not_stored(probe_app, api_world):
    client = probe_app.test_client()
    headers = {**bearer(api_world.token), "Idempotency-Key": "order-45"}
    problem(client.post(MOVES, json={"amount_fen": -1}, headers=headers), 422, "validation_failed")
    assert client.post(MOVES, json={"amount_fen": 1}, headers=headers).status_code == 201


def test_old_idempotency_records_are_pruned(probe_app, session, clock, api_world):
    from portal.apikeys.models import ApiIdempotency
    from portal.apikeys.services import IDEMPOTENCY_KEEP, prune_idempotency

    client = probe_app.test_client()
    client.post(MOVES, json={"amount_fen": 1}, headers={**bearer(api_world.token), "Idempotency-Key": "old"})
    clock.advance(IDEMPOTENCY_KEEP + timedelta(minutes=1))
    client.post(MOVES, json={"amount_fen": 1}, headers={**bearer(api_world.token), "Idempotency-Key": "new"})
    assert prune_idempotency(session, now=clock.now()) == 1
    session.commit()
    assert session.scalars(select(ApiIdempotency.key)).all() == ["new"]


# --- audit ----------------------------------------------------------------------------------------------


def test_actions_through_a_key_carry_its_name(probe_app, api_world):
    from portal.audit.models import AuditEvent
    from portal.extensions import db

    client = probe_app.test_client()
    client.post(MOVES, json={"amount_fen": 7}, headers={**bearer(api_world.token), "Idempotency-Key": "a-1"})
    with probe_app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "probe.move"))
        assert event.customer_id == api_world.customer_id
        assert event.detail["api_key_name"] == "ERP" and event.detail["via"] == "api"


# --- pagination -------------------------------------------------------------------------------------------


def test_pages_follow_the_cursor_to_the_end(client, api_world):
    everything = client.get(f"{CARDS}?limit=200", headers=bearer(api_world.token)).get_json()
    assert everything["next_cursor"] is None
    seen, url = [], f"{CARDS}?limit=2"
    while url:
        page = client.get(url, headers=bearer(api_world.token)).get_json()
        assert len(page["data"]) <= 2
        seen += page["data"]
        url = f"{CARDS}?limit=2&cursor={page['next_cursor']}" if page["next_cursor"] else None
    assert seen == everything["data"] and len(seen) > 2


def test_filters_are_the_cards_pages(client, api_world):
    lost = client.get(f"{CARDS}?status=lost", headers=bearer(api_world.token)).get_json()["data"]
    assert lost and {card["status"] for card in lost} == {"lost"}
    found = client.get(f"{CARDS}?q=京A12345", headers=bearer(api_world.token)).get_json()["data"]
    assert found and all(card["vehicle_plate"] == "京A12345" for card in found)


def test_a_forged_or_foreign_cursor_is_400(client, api_world):
    problem(client.get(f"{CARDS}?cursor=forged", headers=bearer(api_world.token)), 400, "bad_cursor")


def test_times_have_an_offset_and_money_is_fen(client, api_world):
    card = client.get(CARDS, headers=bearer(api_world.token)).get_json()["data"][0]
    assert card["issued_at"].endswith("+08:00")


# --- rate limits ----------------------------------------------------------------------------------------


@pytest.fixture
def limited(database_url, clock):
    from portal import create_app
    from portal.extensions import limiter

    apps = []

    def make(**overrides):
        app = create_app("testing", DATABASE_URL=database_url, RATELIMIT_ENABLED=True,
                         RATELIMIT_STORAGE_URI="memory://", **overrides)  # fmt: skip
        app.extensions["portal.clock"] = clock
        apps.append(app)
        return app

    yield make
    limiter.enabled = False  # the extension is a singleton
    for app in apps:
        app.extensions["portal.db"][0].dispose()


def test_rate_limit_headers_and_429(limited, api_world):
    app = limited(API_RATE_LIMIT="2 per minute")
    client = app.test_client()
    first = client.get(CARDS, headers=bearer(api_world.token))
    assert first.status_code == 200
    assert (first.headers["RateLimit-Limit"], first.headers["RateLimit-Remaining"]) == ("2", "1")
    assert int(first.headers["RateLimit-Reset"]) >= 1
    second = client.get(f"{CARDS}?limit=abc", headers=bearer(api_world.token))  # errors carry them too
    assert second.status_code == 422 and second.headers["RateLimit-Remaining"] == "0"
    refused = client.get(CARDS, headers=bearer(api_world.token))
    problem(refused, 429, "rate_limited")
    assert int(refused.headers["Retry-After"]) >= 1 and refused.headers["RateLimit-Remaining"] == "0"
    assert client.get(CARDS, headers=bearer(api_world.other_token)).status_code == 200  # per key


def test_failed_key_checks_are_limited_per_address(limited, api_world):
    app = limited(API_AUTH_FAILURE_LIMIT="3 per minute")
    client = app.test_client()

    def get(token, ip):
        return client.get(CARDS, headers=bearer(token), environ_base={"REMOTE_ADDR": ip})

    assert [get("fcp_guess", "203.0.113.9").status_code for _ in range(3)] == [401, 401, 401]
    problem(get("fcp_guess", "203.0.113.9"), 429, "rate_limited")
    assert get(api_world.token, "203.0.113.9").status_code == 429  # that address waits, whatever key
    assert get(api_world.token, "203.0.113.10").status_code == 200


# --- the contract -------------------------------------------------------------------------------------------


def test_openapi_document_is_valid_31_and_lists_every_route(app, client):
    import schemathesis

    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(document).validate()
    assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    documented = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
    routes = {
        (re.sub(r"<(?:[^>:]+:)?([^>]+)>", r"{\1}", rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.") and app.view_functions[rule.endpoint].api_scope is not None
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes and documented == routes
    assert not any(path.startswith("/api/terminal") for path, _ in documented)


def test_a_download_is_documented_with_its_media_type(probe_app, api_world):
    client = probe_app.test_client()
    response = client.get("/api/v1/probe/export", headers=bearer(api_world.token))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.get_data(as_text=True) == "0,0\n1,100\n2,200\n"
    document = client.get("/api/v1/openapi.json").get_json()
    content = document["paths"]["/api/v1/probe/export"]["get"]["responses"]["200"]["content"]
    assert content == {"text/csv": {"schema": {"type": "string", "format": "binary"}}}


def test_docs_page_and_its_assets_are_served_here(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "unpkg" not in html and "cdn" not in html.lower()
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"):
        assert f"/api/v1/docs/assets/{asset}" in html
        response = client.get(f"/api/v1/docs/assets/{asset}")
        assert response.status_code == 200 and len(response.get_data()) > 10_000
    assert client.get("/api/v1/docs/assets/other.js").status_code == 404
    assert "style-src 'self' 'unsafe-inline'" in page.headers["Content-Security-Policy"]
    assert "/api/v1/openapi.json" in html

"""Every route, every role: a guard over the whole URL map.

Each area has its own detailed access tests; this one makes sure no route is forgotten. A new
endpoint fails here until its view declares a permission (`portal.web.access.requires`), its
blueprint is guarded (`portal.web.access.guard`), and it is listed in ALLOWED with the roles that
may use it, which must be exactly the roles the policy table (`portal.auth.permissions`) grants.
The same walk checks that no GET writes (see "GET never writes" below).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from tests.web.conftest import csrf_token, login
from tests.web.conftest import routes as _routes

#: Reachable without signing in.
PUBLIC = {
    "auth.captcha_image",
    "auth.recover",
    "auth.register",
    "auth.register_account",
    "auth.reset_password",
    "auth.sign_in",
    "ops.healthz",
    "ops.metrics",  # not by session: by address or bearer token (tests/web/test_ops.py)
    "ops.readyz",
    "shell.set_language",
    "static",
    "terminal_api_docs.docs",  # the terminal API's contract and its docs page: no secrets in them
    "terminal_api_docs.openapi",
}
#: Authenticated by a terminal API key, never by a session.
TERMINAL_API = {"terminal_api.purchases", "terminal_api.redemptions", "terminal_api.refunds"}
#: The customer API's public routes (its contract and docs page); every other `api.*` route needs a key.
API_PUBLIC = {"api.openapi", "api.docs", "api.docs_asset"}


def key_authenticated(endpoint: str) -> bool:
    """The terminal API, and every route of the customer API (`api.*`: authenticated by an API key,
    never a session; each is walked with keys of every kind in tests/web/test_api_guard.py)."""
    return endpoint in TERMINAL_API or endpoint.startswith("api.")


EVERYONE = {"admin", "driver", "staff", "sysadmin"}
#: endpoint -> roles that may use it (the view may still answer 404 for another customer's object).
ALLOWED: dict[str, set[str]] = {
    "home.index": EVERYONE,
    "auth.sign_out": EVERYONE,
    "auth.change_password": EVERYONE,
    "auth.confirm_password": EVERYONE,
    "admin.create": {"sysadmin"},
    "admin.jobs": {"sysadmin"},
    "admin.revoke": {"sysadmin"},
    "admin.terminals": {"sysadmin"},
    "alerts.acknowledge": {"admin"},
    "apikeys.create": {"admin"},
    "apikeys.index": {"admin"},
    "apikeys.revoke": {"admin"},
    "alerts.index": {"admin"},
    "cards.assign": {"admin"},
    "cards.cancel_loss": {"admin"},
    "cards.controls": {"admin"},
    "cards.index": {"admin"},
    "cards.loss": {"admin", "driver"},
    "cards.loss_report": {"admin", "driver"},
    "cards.mine": {"driver"},
    "cards.replace": {"admin"},
    "cards.report_loss": {"admin", "driver"},
    "cards.template_apply": {"admin"},
    "cards.template_delete": {"admin"},
    "cards.template_edit": {"admin"},
    "cards.templates": {"admin"},
    "chips.cancel_load": {"admin"},
    "chips.load": {"admin", "driver"},
    "chips.read": {"admin", "driver"},
    "chips.simulate_purchase": {"admin"},
    "chips.sync": {"admin"},
    "chips.write_load": {"admin"},
    "drivers.create_login": {"admin"},
    "drivers.deactivate": {"admin"},
    "drivers.deactivate_vehicle": {"admin"},
    "drivers.edit": {"admin"},
    "drivers.index": {"admin"},
    "drivers.new": {"admin"},
    "drivers.reset_password": {"admin"},
    "drivers.set_driver_active": {"admin"},
    "drivers.set_vehicle_active": {"admin"},
    "drivers.vehicle": {"admin"},
    "funds.allocate": {"admin"},
    "funds.allocate_upload": {"admin"},
    "funds.collect": {"admin"},
    "funds.confirm": {"admin"},
    "funds.deposit_confirm": {"staff"},
    "funds.deposits": {"admin", "staff"},
    "funds.preview": {"admin"},
    "funds.receipt": {"admin"},
    "profile.audit": {"admin"},
    "profile.customer": {"staff"},
    "profile.index": {"admin"},
    "queries.account_transactions": {"admin", "driver"},
    "queries.account_transactions_export": {"admin", "driver"},
    "queries.balances": {"admin", "driver"},
    "queries.points_transactions": {"admin", "driver"},
    "queries.points_transactions_export": {"admin", "driver"},
    "queries.purchases": {"admin", "driver"},
    "queries.purchases_export": {"admin", "driver"},
    "queries.statements": {"admin", "driver"},
    "queries.statements_export": {"admin", "driver"},
    "rewards.confirm": {"admin", "driver"},
    "rewards.receipt": {"admin", "driver"},
    "rewards.redeem": {"admin", "driver"},
    "statistics.points": {"admin"},
    "statistics.points_export": {"admin"},
    "statistics.transactions": {"admin"},
    "statistics.transactions_export": {"admin"},
    "support.audit": {"staff"},
    "support.reset_password": {"staff"},
    "support.send_reset_link": {"staff"},
    "support.unlock": {"staff"},
    "support.user": {"staff"},
    "support.users": {"staff"},
    "webhooks.delete": {"admin"},
    "webhooks.disable": {"admin"},
    "webhooks.edit": {"admin"},
    "webhooks.enable": {"admin"},
    "webhooks.endpoint": {"admin"},
    "webhooks.index": {"admin"},
    "webhooks.new": {"admin"},
    "webhooks.redeliver": {"admin"},
    "webhooks.rotate_secret": {"admin"},
    "webhooks.send_test": {"admin"},
}


#: (endpoint, method) -> roles, where one method of a view needs more than the rest of it.
METHOD_ALLOWED: dict[tuple[str, str], set[str]] = {
    ("chips.load", "POST"): {"admin"},
    ("funds.deposits", "POST"): {"staff"},
}


def allowed_roles(endpoint: str, method: str) -> set[str]:
    return METHOD_ALLOWED.get((endpoint, method), ALLOWED.get(endpoint, set()))


def test_every_endpoint_is_classified(app):
    endpoints = {endpoint for endpoint, _, _ in _routes(app)}
    unknown = {e for e in endpoints if not key_authenticated(e)} - PUBLIC - set(ALLOWED)
    assert not unknown, f"classify these endpoints in tests/web/test_route_guard.py: {sorted(unknown)}"


def _session_views(app):
    """(endpoint, view) of every view behind the session guard: all but static files and the terminal API."""
    for endpoint, view in app.view_functions.items():
        if endpoint != "static" and not key_authenticated(endpoint):
            yield endpoint, view


def test_every_view_declares_a_permission_and_every_blueprint_is_guarded(app):
    from portal.web.access import check_permission

    undeclared = [endpoint for endpoint, view in _session_views(app) if not hasattr(view, "declared_permissions")]
    assert not undeclared, f"declare a permission with @requires(...) on: {sorted(undeclared)}"
    blueprints = {endpoint.split(".")[0] for endpoint, _ in _session_views(app)}
    unguarded = [bp for bp in blueprints if check_permission not in app.before_request_funcs.get(bp, [])]
    assert not unguarded, f"call portal.web.access.guard(bp) on: {sorted(unguarded)}"


def test_the_policy_table_grants_exactly_the_classified_roles(app):
    from portal.auth.permissions import PUBLIC as OPEN
    from portal.auth.permissions import ROLE_PERMISSIONS, allows
    from portal.web.access import required_permission

    assert set(ROLE_PERMISSIONS) == EVERYONE
    for endpoint, _url, method in _routes(app):
        if endpoint == "static" or key_authenticated(endpoint):
            continue
        permission = required_permission(app.view_functions[endpoint], method)
        if endpoint in PUBLIC:
            assert permission == OPEN, (endpoint, method, permission)
            continue
        granted = {role for role in EVERYONE if allows(role, permission)}
        assert granted == allowed_roles(endpoint, method), (endpoint, method, permission, granted)


def test_every_menu_entry_opens_for_its_role(app):
    from portal.auth.permissions import allows
    from portal.web.access import required_permission
    from portal.web.menu import MENUS, Section

    for role, entries in MENUS.items():
        items = [i for e in entries for i in (e.items if isinstance(e, Section) else (e,))]
        for item in items:
            view = app.view_functions.get(item.endpoint)
            if view is not None:  # not built yet: shown greyed out
                assert allows(role, required_permission(view, "GET")), (role, item.endpoint)


def _request(client, method, url):
    if method == "GET":
        return client.get(url)
    return client.open(url, method=method, data={"csrf_token": csrf_token(client)})  # the API has PATCH routes


def test_signed_out_visitors_reach_only_public_routes(app, client):
    for endpoint, url, method in _routes(app):
        if endpoint in PUBLIC:
            continue
        response = _request(client, method, url)
        if key_authenticated(endpoint):
            if endpoint in API_PUBLIC:  # the customer API's document and docs page
                assert response.status_code in (200, 404), (endpoint, method)
                continue
            assert response.status_code == 401, (endpoint, method)
            assert response.is_json
            continue
        assert response.status_code == 302, (endpoint, method, response.status_code)
        assert "/auth/sign-in" in response.headers["Location"], (endpoint, method)


@pytest.fixture
def world(showcase_world):
    return showcase_world


@pytest.mark.parametrize("role", ["admin", "driver", "staff", "sysadmin"])
def test_each_role_is_refused_every_route_not_meant_for_it(app, client, world, role):
    user = {"admin": world.admin, "driver": world.driver, "staff": world.staff, "sysadmin": world.sysadmin}[role]
    assert login(client, user, world.password).status_code == 302
    for endpoint, url, method in _routes(app):
        if endpoint in PUBLIC or key_authenticated(endpoint) or role in allowed_roles(endpoint, method):
            continue
        if endpoint == "auth.sign_out":
            continue
        response = _request(client, method, url)
        assert response.status_code in (403, 404), (role, endpoint, method, response.status_code)


#: Query strings a careless or hostile user might send: wrong types, impossible dates, huge numbers,
#: injection attempts, unknown values for every filter the pages read.
JUNK_QUERIES = (
    "start=abc&end=2026-13-45",
    "start=2026-12-31&end=2026-01-01",
    "start=1900-01-01&end=2999-12-31&preset=custom",
    "preset=yesterday-ish&sort=drop%20table&direction=sideways",
    "card=%27%3B--&driver=-1&plate=%00&station=99999999999999999999&product=%E2%80%AE",
    "cursor=not-a-cursor&page=-5&limit=100000000",
    "group=everything&tab=secret&type=bogus&status=%3Cscript%3E&kind=x",
    "month=2026-99&card_id=abc&region=xx&q=" + "x" * 2000,
)


@pytest.mark.parametrize("role", ["admin", "driver", "staff", "sysadmin"])
def test_junk_query_strings_never_cause_a_server_error(app, client, world, role):
    user = {"admin": world.admin, "driver": world.driver, "staff": world.staff, "sysadmin": world.sysadmin}[role]
    assert login(client, user, world.password).status_code == 302
    for endpoint, url, method in _routes(app):
        if method != "GET" or key_authenticated(endpoint) or endpoint == "static":
            continue
        if endpoint not in PUBLIC and role not in ALLOWED[endpoint]:
            continue
        for query in JUNK_QUERIES:
            response = client.get(f"{url}?{query}")
            response.get_data()  # consume streamed exports, as a browser does, so they end
            response.close()
            assert response.status_code < 500, (role, endpoint, query, response.status_code)


#: Form fields the portal's forms use, all filled with nonsense.
JUNK_FORM = {
    "amount": "1e999",
    "amounts": "¥-0.001",
    "card_number": "'; DROP TABLE cards; --",
    "card_ids": ["x", "-1", "99999999999999999999"],
    "points": "ten",
    "password": "",
    "current_password": "x" * 5000,
    "new_password": "\x00",
    "reason": "<script>alert(1)</script>" * 50,
    "key": "not-a-uuid",
    "idempotency_key": "../../etc/passwd",
    "batch_id": "zz",
    "plate": "🚗" * 40,
    "tank_litres": "-5",
    "limit_per_purchase": "NaN",
    "hours_from": "25:99",
    "stations": ["ST", "ST", "ST"],
    "region": "xx",
    "lang": "klingon",
    "next": "//evil.example",
}


@pytest.mark.parametrize("role", ["admin", "driver", "staff", "sysadmin"])
def test_junk_form_posts_never_cause_a_server_error(app, client, world, role):
    user = {"admin": world.admin, "driver": world.driver, "staff": world.staff, "sysadmin": world.sysadmin}[role]
    assert login(client, user, world.password).status_code == 302
    token = csrf_token(client, "/")
    for endpoint, url, method in _routes(app):
        if method != "POST" or key_authenticated(endpoint) or endpoint in ("auth.sign_out", "shell.set_language"):
            continue
        if endpoint not in PUBLIC and role not in ALLOWED[endpoint]:
            continue
        response = client.post(url, data={**JUNK_FORM, "csrf_token": token})
        assert response.status_code < 500, (role, endpoint, response.status_code)


# --- GET never writes ------------------------------------------------------------------------------
# Every GET route, walked signed out and as every role over this world (with money on a card, a load
# whose hold has lapsed and chips never read; every card's chip pages too), sends no INSERT, UPDATE
# or DELETE. The one write a GET may cause is the session store's: `auth.services.resume_session`
# touches `login_sessions.last_seen_at` at most once a minute and revokes an idle or too old session;
# and, after failed sign-ins, the sign-in page issues a captcha challenge, which must be stored
# server-side (a challenge carried in the cookie could be replayed). Those two tables, and only for
# those statements, are exempt.

#: What a GET may write: the server-side session's "last seen" touch and its idle/absolute expiry.
EXEMPT_WRITES = (
    "UPDATE login_sessions SET last_seen_at",
    "UPDATE login_sessions SET revoked_at",
    "INSERT INTO captcha_challenges",
    "DELETE FROM captcha_challenges WHERE captcha_challenges.expires_at <",
    # The customer API records a key's last use, at most once a minute (portal.api.auth); the walk
    # here sends no key, tests/web/test_api_guard.py walks every API GET with one.
    "UPDATE api_keys SET last_used_at",
)

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "MERGE", "UPSERT", "TRUNCATE")


@pytest.fixture
def overdue_world(app, clock, world):
    """The route-guard world plus money on a card and a load whose hold lapsed a day ago (the old
    load page voided such loads, for every customer, on GET)."""
    from portal.auth.models import User
    from portal.cards.models import Card
    from portal.chips import loads
    from portal.customers.models import Customer
    from portal.extensions import db
    from portal.funds import services as funds
    from portal.funds.plan import RawLine

    long_ago = clock.now() - timedelta(days=4)
    with app.app_context():
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
        if recorded.watching and text.upper().startswith(WRITES):
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
        unexpected = [statement for statement in writes if not statement.startswith(EXEMPT_WRITES)]
        assert not unexpected, (url, unexpected)
        writes.clear()


def test_signed_out_gets_write_nothing(app, client, overdue_world, writes):
    _get_everything(app, client, overdue_world, writes)


@pytest.mark.parametrize("role", ["admin", "driver", "staff", "sysadmin"])
def test_gets_write_nothing_for_any_role(app, client, overdue_world, writes, role):
    assert login(client, getattr(overdue_world, role), overdue_world.password).status_code == 302
    _get_everything(app, client, overdue_world, writes)


def test_the_recorder_sees_writes(app, client, world, writes):
    """The guard itself works: a POST that writes is seen."""
    assert login(client, world.admin, world.password).status_code == 302
    token = csrf_token(client, "/")
    writes.watching = True
    client.post("/auth/sign-out", data={"csrf_token": token})
    writes.watching = False
    assert any(statement.startswith("INSERT INTO audit") for statement in writes), list(writes)


def test_a_sign_in_page_that_needs_a_captcha_writes_only_its_challenge(app, client, world, writes):
    for _ in range(3):
        client.post("/auth/sign-in", data={"username": "nobody", "password": "wrong", "csrf_token": csrf_token(client)})
    writes.watching = True
    page = client.get("/auth/sign-in").get_data(as_text=True)
    writes.watching = False
    assert "captcha" in page
    assert writes and all(statement.startswith(EXEMPT_WRITES[2:4]) for statement in writes), list(writes)


# --- fuzzing every query parameter of every page ----------------------------------------------------
#: Every query parameter a page reads, by name (the filters, sorting, paging, statements, charts).
QUERY_PARAMETERS = (
    "start", "end", "preset", "card", "driver", "plate", "order", "cursor", "month", "group", "tab",
    "type", "status", "sort", "dir", "q", "kind", "all", "card_id", "product", "station", "region", "next",
)  # fmt: skip
_EXTREMES = (
    "0001-01-01", "9999-12-31", "0000-01", "0001-01", "9999-12", "2026-02-30", "2026-03-01T00:00:00",
    str(2**63), str(-(2**63)), "1" * 40, "-1", "0", "1e309", "NaN", "\r\nSet-Cookie: x=1", "\x00", "%",
    "１２３", "١٢٣", "10²", "①", "../../", "' OR 1=1 --", "custom", "desc", "asc", "month", "day",
)  # fmt: skip


def _query_values():
    from hypothesis import strategies as st

    return st.one_of(st.sampled_from(_EXTREMES), st.text(max_size=24), st.integers().map(str))


@pytest.mark.parametrize("role", ["admin", "driver"])
def test_fuzzed_query_strings_never_cause_a_server_error(app, client, world, role):
    """Hypothesis: any value in any query parameter of any page the role may open answers < 500."""
    from urllib.parse import urlencode

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    user = {"admin": world.admin, "driver": world.driver}[role]
    assert login(client, user, world.password).status_code == 302
    pages = [
        url
        for endpoint, url, method in _routes(app)
        if method == "GET"
        and not key_authenticated(endpoint)
        and endpoint not in ("static", "auth.sign_out")
        and (endpoint in PUBLIC or role in ALLOWED[endpoint])
    ]

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(
        page=st.sampled_from(pages),
        query=st.dictionaries(st.sampled_from(QUERY_PARAMETERS), _query_values(), min_size=1, max_size=5),
    )
    def probe(page, query):
        response = client.get(f"{page}?{urlencode(query)}")
        response.get_data()
        response.close()
        assert response.status_code < 500, (page, query, response.status_code)

    probe()

"""Web-test helpers: users to sign in as, CSRF tokens read from the page like a browser would, the
database between requests, and the shared scenarios built in the app's own session."""

from __future__ import annotations

import re

import pytest

from tests import builders
from tests.builders import PASSWORD

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def routes(app):
    """(endpoint, url, method) for every rule of the URL map, with path arguments filled in."""
    for rule in app.url_map.iter_rules():
        url = re.sub(r"<(?:int:)?[^>:]+>", "1", rule.rule)
        url = re.sub(r"<any\(([^,)]+)[^>]*\):[^>]+>", r"\1", url)
        url = re.sub(r"<path:[^>]+>", "css/portal.css", url)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, url, method


def csrf_token(client, path: str = "/auth/sign-in") -> str:
    page = client.get(path).get_data(as_text=True)
    match = CSRF_META.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client, username: str, password: str):
    return client.post(
        "/auth/sign-in",
        data={"username": username, "password": password, "csrf_token": csrf_token(client)},
    )


def signed_in(client, username: str, password: str = PASSWORD):
    response = login(client, username, password)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


class Db:
    """Database access for the test between requests. Each call runs in its own short app context
    and transaction (SQLite writers lock; Flask-Login caches the user on `g` of a long-lived context)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, work):
        from portal.extensions import db

        with self.app.app_context():
            result = work(db.session)
            db.session.commit()
            return result


@pytest.fixture
def db(app):
    return Db(app)


def peek(session, read):
    """Read in the test's session, then end its transaction: on SQLite an open one blocks the app."""
    try:
        return read()
    finally:
        session.rollback()


def count(session, query):
    return peek(session, lambda: query.count())


@pytest.fixture
def showcase_world(app) -> builders.Showcase:
    """builders.showcase in the app's session, committed: one user of each role, cards in every status."""
    from portal.extensions import clock
    from portal.extensions import db as database

    with app.app_context():
        world = builders.showcase(database.session, now=clock().now())
        database.session.commit()
    return world


@pytest.fixture
def fleet_ids(db, clock) -> tuple[builders.FleetIds, builders.FleetIds]:
    """builders.two_fleets in the app's session, committed; the ids of both fleets."""
    fleets = db(lambda s: [builders.FleetIds.of(n, f) for n, f in enumerate(builders.two_fleets(s, clock.now()), 1)])
    return tuple(fleets)


@pytest.fixture
def queries_world(session, clock) -> builders.History:
    """builders.fleet_history with its users (acme_admin, li, other_admin, staff1, root), committed."""
    world = builders.fleet_history(session, clock.now())
    builders.history_users(session, world, clock.now())
    session.commit()
    return world


@pytest.fixture
def make_user(app):
    """Create a user through the auth service; returns the User."""
    from portal.auth import services
    from portal.extensions import clock, db

    def make(username="user1", password="Correct-Horse-9", role="sysadmin", **fields):
        with app.app_context():
            user = services.create_user(
                db.session, username=username, password=password, role=role, rounds=4, now=clock().now(), **fields
            )
            db.session.commit()
            return user

    return make


@pytest.fixture
def api_world(app, showcase_world):
    """The showcase world with a customer API key (every scope) for each of its two customers
    (tests/web/api_support.py)."""
    from tests.web.api_support import build_api_world

    return build_api_world(app, showcase_world)


@pytest.fixture
def probe_app(app):
    """`app` with test-only API endpoints under /api/v1/probe (an idempotent write, a bug)."""
    from tests.web.api_support import add_probe_endpoints

    add_probe_endpoints(app)
    return app

"""Shared fixtures. Every test runs against SQLite, and against PostgreSQL when TEST_DATABASE_URL is
set (`make test` runs the suite once for each). The schema always comes from the migrations.

Test data comes from tests/builders.py, through the `create_*` factory fixtures below (each one a
builder bound to the test's `session`) or, for the shared scenarios, through fixtures such as `fleets`.
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from portal.clock import FrozenClock
from portal.db import Base, make_engine, make_sessionmaker
from portal.schema import upgrade
from tests import builders

#: The instant tests start at (a Monday, 10:00 in Shanghai).
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def pytest_report_header(config):
    return f"database: {os.environ.get('TEST_DATABASE_URL') or 'sqlite (temporary file)'}"


def pytest_collection_modifyitems(config, items):
    on_postgres = bool(os.environ.get("TEST_DATABASE_URL"))
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set TEST_DATABASE_URL (make test does in CI)")
    skip_e2e = pytest.mark.skip(reason="browser tests run in the SQLite pass")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip_pg)
        if "e2e" in item.keywords and on_postgres:
            item.add_marker(skip_e2e)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")


@pytest.fixture(scope="session")
def engine(database_url):
    """An engine on a freshly migrated database (dropped and rebuilt once per test run)."""
    engine = make_engine(database_url)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    with engine.begin() as conn:
        upgrade(conn)
    yield engine
    engine.dispose()


def _wipe(engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))  # noqa: S608  (names from our metadata)


@pytest.fixture
def db_engine(engine):
    """The migrated engine, emptied after the test."""
    yield engine
    _wipe(engine)


@pytest.fixture
def session(db_engine):
    """A session for service tests (no Flask). Tests commit as the web layer would."""
    s = make_sessionmaker(db_engine)()
    yield s
    s.close()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def app(db_engine, database_url, clock):
    from portal import create_app

    app = create_app("testing", DATABASE_URL=database_url)
    app.extensions["portal.clock"] = clock
    yield app
    app.extensions["portal.db"][0].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- test data: the builders bound to the test's session --------------------------------------------


def _factory_fixture(factory):
    @pytest.fixture(name=factory.__name__)
    def bound(session):
        return functools.partial(factory, session)

    bound.__doc__ = f"`{factory.__name__}(...)` in the test's session: {factory.__doc__ or ''}"
    return bound


create_region = _factory_fixture(builders.create_region)
create_product = _factory_fixture(builders.create_product)
create_station = _factory_fixture(builders.create_station)
create_customer = _factory_fixture(builders.create_customer)
create_driver = _factory_fixture(builders.create_driver)
create_vehicle = _factory_fixture(builders.create_vehicle)
create_card = _factory_fixture(builders.create_card)
create_user = _factory_fixture(builders.create_user)
fund_card = _factory_fixture(builders.fund_card)


@pytest.fixture
def fleets(session) -> tuple[builders.Fleet, builders.Fleet]:
    """builders.two_fleets at T0, committed."""
    both = builders.two_fleets(session, T0)
    session.commit()
    return both

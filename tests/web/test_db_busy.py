"""A stuck worker holding a card's lock must not freeze the site: pages and the terminal API give up
after the database's time limits with a 503 and Retry-After, write nothing, and the same request
succeeds once the lock is gone. The limits are on the web's connections only, not on CLI commands."""

from __future__ import annotations

import re
import sqlite3
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select, text

from portal import ledger
from portal.funds.models import FundsBatch
from portal.purchases.models import Purchase
from tests.builders import CARD_NUMBER, PASSWORD, UNIT_A, funds_customers, purse_balance, station_setup
from tests.conftest import T0
from tests.web.conftest import count, csrf_token, peek, signed_in

API = "/api/terminal/v1/purchases"
#: The web limits in these tests: a lock wait gives up after a quarter of a second.
LIMITS = {"DB_LOCK_TIMEOUT_MS": 250, "DB_STATEMENT_TIMEOUT_MS": 5000, "DB_IDLE_IN_TRANSACTION_TIMEOUT_MS": 4000}
BUSY_PAGE_ZH = "系统繁忙，本次操作未做任何更改，请稍后重试。"


def make_app(database_url, clock, **limits):
    from portal import create_app

    app = create_app("testing", DATABASE_URL=database_url, **{**LIMITS, **limits})
    app.extensions["portal.clock"] = clock
    return app


@pytest.fixture
def busy_app(db_engine, database_url, clock):
    app = make_app(database_url, clock)
    yield app
    app.extensions["portal.db"][0].dispose()


@contextmanager
def held(engine, sql: str, **params):
    """Another connection holds row locks (as a paused worker would) until the block ends."""
    with engine.connect() as connection:
        rows = connection.execute(text(sql), params).all()
        assert rows, "nothing locked"
        try:
            yield
        finally:
            connection.rollback()


def lock_purse(engine, card_id: int):
    sql = "SELECT id FROM ledger_accounts WHERE card_id = :card AND kind = 'purse' FOR UPDATE"
    return held(engine, sql, card=card_id)


def lock_card_accounts(engine, card_id: int):
    return held(engine, "SELECT id FROM ledger_accounts WHERE card_id = :card FOR UPDATE", card=card_id)


def timed(send):
    started = time.monotonic()
    response = send()
    return response, time.monotonic() - started


# --- the terminal API -----------------------------------------------------------------------------


@pytest.fixture
def station(session):
    w = station_setup(session, now=T0, purse_fen=100_000)
    session.commit()
    return {"key": w.key, "card_id": w.card.id}


def purchase(client, key, seq=7):
    body = {
        "card_number": CARD_NUMBER,
        "product_code": "92",
        "litres_ml": 40_000,
        "unit_price_fen": 750,
        "amount_fen": 30_000,
        "terminal_seq": seq,
        "at": T0.isoformat(),
        "language": "en",
    }
    return client.post(API, json=body, headers={"Authorization": f"Bearer {key}"})


def books(session, card_id):
    """The purse balance, the purchases and the ledger's transfers, as the test's own connection sees them."""
    return peek(
        session,
        lambda: (
            purse_balance(session, card_id),
            session.scalar(select(func.count(Purchase.id))),
            session.scalar(select(func.count(ledger.Transfer.id))),
        ),
    )


@pytest.mark.postgres
def test_api_answers_503_busy_retry_while_the_purse_is_locked_then_the_same_request_succeeds_once(
    busy_app, db_engine, session, station
):
    client = busy_app.test_client()
    before = books(session, station["card_id"])
    with lock_purse(db_engine, station["card_id"]):
        response, seconds = timed(lambda: purchase(client, station["key"]))
        assert response.status_code == 503, response.get_data(as_text=True)
        assert seconds < 2
        assert int(response.headers["Retry-After"]) >= 1
        error = response.get_json()["error"]
        assert error["code"] == "busy_retry" and "nothing was changed" in error["message"]
        assert books(session, station["card_id"]) == before  # nothing written

    first = purchase(client, station["key"])
    assert first.status_code == 200 and first.get_json()["approved"] and not first.get_json()["replayed"]
    again = purchase(client, station["key"])
    assert again.get_json()["replayed"] and again.get_json()["purchase_id"] == first.get_json()["purchase_id"]
    balance, purchases, _transfers = books(session, station["card_id"])
    assert (balance, purchases) == (before[0] - 30_000, 1)


@pytest.mark.postgres
def test_a_refund_is_503_while_the_cards_accounts_are_locked(busy_app, db_engine, session, station):
    client = busy_app.test_client()
    headers = {"Authorization": f"Bearer {station['key']}"}
    purchase_id = purchase(client, station["key"], seq=1).get_json()["purchase_id"]
    refund = {"purchase_id": purchase_id, "terminal_seq": 2}
    before = books(session, station["card_id"])
    with lock_card_accounts(db_engine, station["card_id"]):
        response = client.post("/api/terminal/v1/refunds", json=refund, headers=headers)
        assert response.status_code == 503, response.get_json()
        assert response.get_json()["error"]["code"] == "busy_retry" and response.headers["Retry-After"]
        assert books(session, station["card_id"]) == before
    assert client.post("/api/terminal/v1/refunds", json=refund, headers=headers).status_code == 200
    assert books(session, station["card_id"])[0] == before[0] + 30_000


@pytest.mark.postgres
def test_a_statement_over_its_time_is_the_same_503(db_engine, database_url, clock, session, station):
    """The lock is waited for longer than a statement may run: statement_timeout stops it."""
    app = make_app(database_url, clock, DB_LOCK_TIMEOUT_MS=10_000, DB_STATEMENT_TIMEOUT_MS=200)
    try:
        before = books(session, station["card_id"])
        with lock_purse(db_engine, station["card_id"]):
            response, seconds = timed(lambda: purchase(app.test_client(), station["key"]))
        assert response.status_code == 503 and response.get_json()["error"]["code"] == "busy_retry"
        assert response.headers["Retry-After"] and seconds < 2
        assert books(session, station["card_id"]) == before
    finally:
        app.extensions["portal.db"][0].dispose()


# --- pages ----------------------------------------------------------------------------------------


@pytest.fixture
def funds(session, clock):
    w = funds_customers(session, clock.now())
    session.commit()
    return w


def unit_and_reserve(session, w):
    return peek(session, lambda: (ledger.balance(ledger.unit_account(session, w.a)), _reserve(session, w.a1)))


def _reserve(session, card_id):
    return ledger.balance(ledger.card_account(session, card_id, "reserve"))


def preview_allocation(client, w) -> str:
    data = {"csrf_token": csrf_token(client, "/funds/allocate"), f"amount-{w.a1}": "100", "action": "preview"}
    response = client.post("/funds/allocate", data=data)
    return re.search(r"/funds/batches/([0-9a-f]{32})", response.headers["Location"]).group(1)


@pytest.mark.postgres
def test_allocation_confirm_shows_the_busy_page_and_posts_nothing_then_posts_once(busy_app, db_engine, session, funds):
    w = funds
    client = busy_app.test_client()
    signed_in(client, "admin_a")
    batch_id = preview_allocation(client, w)
    confirm = f"/funds/batches/{batch_id}/confirm"
    token = csrf_token(client, f"/funds/batches/{batch_id}")
    with lock_card_accounts(db_engine, w.a1):
        response, seconds = timed(lambda: client.post(confirm, data={"csrf_token": token, "password": PASSWORD}))
        assert response.status_code == 503 and seconds < 2
        assert response.headers["Retry-After"]
        assert BUSY_PAGE_ZH in response.get_data(as_text=True)
        assert unit_and_reserve(session, w) == (UNIT_A, 0)
        assert peek(session, lambda: session.get(FundsBatch, batch_id).status) != "posted"

    assert client.post(confirm, data={"csrf_token": token, "password": PASSWORD}).status_code == 302
    assert client.post(confirm, data={"csrf_token": token, "password": PASSWORD}).status_code == 302  # again
    assert unit_and_reserve(session, w) == (UNIT_A - 10_000, 10_000)


@pytest.mark.postgres
def test_chip_load_shows_the_busy_page_in_english_and_requests_nothing(busy_app, db_engine, session, funds):
    from portal.chips.models import LoadRequest

    w = funds
    client = busy_app.test_client()
    signed_in(client, "admin_a")
    client.post("/funds/batches/" + preview_allocation(client, w) + "/confirm", data={
        "csrf_token": csrf_token(client, "/funds/allocate"), "password": PASSWORD})  # fmt: skip
    client.set_cookie("lang", "en")
    page = client.get("/chips/load").get_data(as_text=True)
    key = re.search(r'name="key" type="hidden" value="([0-9a-f]{32})"', page).group(1)
    data = {"csrf_token": csrf_token(client, "/chips/load"), "key": key, "card_id": w.a1, "amount": "50",
            "password": PASSWORD}  # fmt: skip
    with lock_card_accounts(db_engine, w.a1):
        response = client.post("/chips/load", data=data)
        assert response.status_code == 503 and response.headers["Retry-After"]
        assert "The system is busy and nothing was changed" in response.get_data(as_text=True)
        assert count(session, session.query(LoadRequest)) == 0
    assert client.post("/chips/load", data=data).status_code == 302
    assert client.post("/chips/load", data=data).status_code == 302  # the same key: one load
    assert count(session, session.query(LoadRequest)) == 1


# --- which connections carry the limits -----------------------------------------------------------


def show(session, name: str) -> str:
    return session.execute(text(f"SHOW {name}")).scalar()


@pytest.mark.postgres
def test_web_connections_carry_the_limits_and_cli_commands_no_statement_timeout(busy_app):
    from portal.extensions import db

    with busy_app.test_request_context("/"):
        assert show(db.session, "lock_timeout") == "250ms"
        assert show(db.session, "statement_timeout") == "5s"
        assert show(db.session, "idle_in_transaction_session_timeout") == "4s"
    with busy_app.app_context():
        with db.engine.connect() as connection:  # the app's engine is the web one, also outside a request
            assert connection.execute(text("SHOW statement_timeout")).scalar() == "5s"
        with busy_app.extensions["migrate"].db.engine.connect() as connection:  # migrations: the CLI's
            assert connection.execute(text("SHOW statement_timeout")).scalar() == "0"

    @busy_app.cli.command("show-timeouts")
    def show_timeouts():
        for name in ("lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout"):
            print(name, show(db.session, name))

    output = busy_app.test_cli_runner().invoke(args=["show-timeouts"]).output
    assert "statement_timeout 0" in output and "idle_in_transaction_session_timeout 0" in output
    assert "lock_timeout 250ms" in output


@pytest.mark.postgres
def test_the_job_statement_timeout_is_its_own_setting(db_engine, database_url, clock):
    from portal.extensions import db

    app = make_app(database_url, clock, DB_JOB_STATEMENT_TIMEOUT_MS=600_000)
    with app.app_context():
        assert show(db.session, "statement_timeout") == "10min"
    app.extensions["portal.db"][0].dispose()


# --- SQLite: its busy timeout is the same 503 -----------------------------------------------------


def test_sqlite_database_is_locked_answers_the_api_with_503(db_engine, database_url, clock, monkeypatch, session):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's own lock")
    import portal.db

    key = station_setup(session, now=T0, purse_fen=100_000).key
    session.commit()
    monkeypatch.setattr(portal.db, "SQLITE_BUSY_SECONDS", 0.1)
    app = make_app(database_url, clock)
    writer = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        response = purchase(app.test_client(), key)
        writer.rollback()
    finally:
        writer.close()
        app.extensions["portal.db"][0].dispose()
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.get_json()["error"]["code"] == "busy_retry"

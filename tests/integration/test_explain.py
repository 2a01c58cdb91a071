"""The main pages' queries use indexes: EXPLAIN of every statement they send, on tables big enough
for the planner to care, finds no sequential scan of a large table (PostgreSQL only).

How: the pages are requested through the Flask test client (real views, real SQL) while
SQLAlchemy's `before_cursor_execute` records every statement with its parameters (COPY exports too,
through `exports.copy.copy_statement`); each recorded SELECT is then replayed under
`EXPLAIN (FORMAT JSON)` in one transaction with the `SET LOCAL`s the request made, and the plan is
walked for a "Seq Scan" of a table in LARGE_TABLES. The planner runs with its normal settings
(enable_seqscan on) on freshly ANALYZEd tables, so a failure means PostgreSQL found no usable index.

The data: the history fleet ("Acme", tests.builders.fleet_history) with a few thousand purchases
over two years, beside a thousand other customers holding most of every table (set-based inserts,
tests.bulk): Acme is a small part of each large table, as any one customer is in production.

Covered (COVERED below; add the /api/v1 queries there as they come, one callable each): the cards
list and a driver's own cards, the purchases list (first, filtered, deep page, declines), account
transactions, points transactions, statements, balances, the statistics by every grouping (daily
totals and raw), points statistics, the alerts list, the home page, the sign-in lookup (by user
name in another case, and by main card number), and the CSV exports (COPY) of purchases, account
and points transactions, statements and statistics.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import event, text

import portal.models  # noqa: F401
from portal.db import Base, make_sessionmaker
from portal.exports import copy
from portal.purchases import rollup
from portal.queries.cursor import Key, decode_cursor, encode_cursor
from tests import builders
from tests.bulk import insert_series

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

#: Tables that grow with customers, cards and purchases: a sequential scan of one on a page is a
#: page that slows down as the business grows. Reference tables (regions, products, stations: 22,000
#: stations are read whole, by design, for export names) and settings are not here.
LARGE_TABLES = frozenset(
    {
        "alerts",
        "audit_events",
        "card_controls",
        "cards",
        "drivers",
        "ledger_accounts",
        "ledger_transfers",
        "load_requests",
        "login_sessions",
        "points_redemptions",
        "purchase_days",
        "purchases",
        "users",
        "vehicles",
    }
)

OTHER_CUSTOMERS = 1_000
CARDS_EACH = 30
OTHER_PURCHASES = 100_000
ACME_PURCHASES = 2_000
PASSWORD = builders.PASSWORD


# --- the data -----------------------------------------------------------------------------------


def _bulk_rows(conn, world: builders.History) -> None:
    """A thousand other customers with cards, accounts, users, purchases and their journal, alerts,
    audit events and sessions; and two years of Acme's purchases."""
    # Foreign keys are per-row triggers (most of a bulk insert's time): off for this transaction,
    # the rows refer to each other by construction. Needs a superuser, as the test database's is.
    conn.execute(text("SET LOCAL session_replication_role = replica"))
    t = Base.metadata.tables
    at = {"t0": T0.replace(tzinfo=None)}
    region = world.acme.region_id
    station = world.stations["S1"].id
    insert_series(
        conn, t["customers"], OTHER_CUSTOMERS,
        {"name": "'客户' || i", "credit_code": "'BULK' || lpad(i::text, 14, '0')", "region_id": str(region)},
    )  # fmt: skip
    c0 = conn.execute(text("SELECT min(id) FROM customers WHERE credit_code LIKE 'BULK%'")).scalar()
    cards = OTHER_CUSTOMERS * CARDS_EACH
    insert_series(
        conn, t["cards"], cards,
        {"number": "'8' || lpad(i::text, 15, '0')", "customer_id": ":c0 + i % :n", "role": "'sub'",
         "expires_on": "DATE '2030-01-01'"},
        c0=c0, n=OTHER_CUSTOMERS,
    )  # fmt: skip
    k0 = conn.execute(text("SELECT min(id) FROM cards WHERE number LIKE '8%'")).scalar()
    insert_series(
        conn, t["drivers"], cards, {"customer_id": ":c0 + i % :n", "name": "'司机' || i"}, c0=c0, n=OTHER_CUSTOMERS
    )
    insert_series(
        conn, t["vehicles"], cards,
        {"customer_id": ":c0 + i % :n", "plate": "'京Z' || lpad(i::text, 5, '0')", "tank_ml": "60000"},
        c0=c0, n=OTHER_CUSTOMERS,
    )  # fmt: skip
    for kind, ledger_code in (("reserve", "CNY"), ("purse", "CNY"), ("points", "PTS")):
        insert_series(
            conn, t["ledger_accounts"], cards,
            {"ledger": f"'{ledger_code}'", "kind": f"'{kind}'", "customer_id": ":c0 + i % :n",
             "card_id": ":k0 + i", "no_overdraft": "false"},
            c0=c0, n=OTHER_CUSTOMERS, k0=k0,
        )  # fmt: skip
    insert_series(
        conn, t["card_controls"], cards,
        {"card_id": ":k0 + i", "customer_id": ":c0 + i % :n", "daily_count_limit": "5", "updated_at": ":t0"},
        c0=c0, n=OTHER_CUSTOMERS, k0=k0, **at,
    )  # fmt: skip
    insert_series(
        conn, t["load_requests"], 50_000,
        {"id": "md5('load' || i)", "customer_id": ":c0 + (i % :cards) % :n", "card_id": ":k0 + i % :cards",
         "amount": "10000", "status": "'loaded'", "requested_at": ":t0 - interval '2 days'",
         "expires_at": ":t0 - interval '1 day'", "resolved_at": ":t0 - interval '2 days'"},
        c0=c0, n=OTHER_CUSTOMERS, k0=k0, cards=cards, **at,
    )  # fmt: skip
    insert_series(
        conn, t["users"], OTHER_CUSTOMERS * 20,
        {"username": "'bulk_user_' || i", "password_hash": "'x'", "role": "'admin'",
         "customer_id": ":c0 + i % :n"},
        c0=c0, n=OTHER_CUSTOMERS,
    )  # fmt: skip
    u0 = conn.execute(text("SELECT min(id) FROM users WHERE username LIKE 'bulk_user_%'")).scalar()
    sales = conn.execute(text("SELECT id FROM ledger_accounts WHERE kind = 'station_sales'")).scalar()
    purchase = {
        "status": "'approved'", "region_id": str(region), "station_id": str(station),
        "product_code": "(ARRAY['92', '95', '0'])[1 + i % 3]", "litres_ml": "10000 + i % 50000",
        "unit_price_fen": "750", "amount_fen": "7500 + i % 40000", "points": "75",
        "at": ":t0 - (i % 720) * interval '1 day' - (i % 86400) * interval '1 second'",
        "received_at": ":t0",
    }  # fmt: skip
    insert_series(
        conn, t["purchases"], OTHER_PURCHASES,
        {**purchase, "customer_id": ":c0 + (i % :cards) % :n", "card_id": ":k0 + i % :cards",
         "transfer_id": "'bulk-p' || i"},
        c0=c0, n=OTHER_CUSTOMERS, k0=k0, cards=cards, **at,
    )  # fmt: skip
    acme_cards = [world.cards["c1"], world.cards["c2"]]
    insert_series(
        conn, t["purchases"], ACME_PURCHASES,
        {**purchase, "customer_id": str(world.acme.id),
         "card_id": f"(ARRAY[{acme_cards[0].id}, {acme_cards[1].id}])[1 + i % 2]",
         "driver_id": f"(ARRAY[{acme_cards[0].driver_id}, {acme_cards[1].driver_id}])[1 + i % 2]",
         "vehicle_id": f"(ARRAY[{acme_cards[0].vehicle_id}, {acme_cards[1].vehicle_id}])[1 + i % 2]",
         "at": ":t0 - interval '3 days' - (i % 700) * interval '1 day' - (i % 86400) * interval '1 second'",
         "transfer_id": "'acme-p' || i"},
        **at,
    )  # fmt: skip
    conn.execute(
        text(
            "INSERT INTO ledger_transfers (id, ledger, debit_account_id, credit_account_id, amount, code, kind, memo, "
            "created_at) SELECT p.transfer_id, 'CNY', a.id, :sales, p.amount_fen, 'purchase', 'posted', '', p.at "
            "FROM purchases p JOIN ledger_accounts a ON a.card_id = p.card_id AND a.kind = 'purse' "
            "WHERE p.transfer_id LIKE 'bulk-p%' OR p.transfer_id LIKE 'acme-p%'"
        ),
        {"sales": sales},
    )
    insert_series(
        conn, t["alerts"], 20_000,
        {"customer_id": ":c0 + (i % :cards) % :n", "card_id": ":k0 + i % :cards", "kind": "'too_many_fills'",
         "dedupe_key": "'bulk-' || i", "detail": "'{}'", "created_at": ":t0 - (i % 700) * interval '1 day'"},
        c0=c0, n=OTHER_CUSTOMERS, k0=k0, cards=cards, **at,
    )  # fmt: skip
    insert_series(
        conn, t["audit_events"], 100_000,
        {"customer_id": ":c0 + i % :n", "user_id": ":u0 + i % :users", "action": "'auth.sign_in'",
         "detail": "'{}'", "at": ":t0 - (i % 700) * interval '1 day'"},
        c0=c0, n=OTHER_CUSTOMERS, u0=u0, users=OTHER_CUSTOMERS * 20, **at,
    )  # fmt: skip
    insert_series(
        conn, t["login_sessions"], 50_000,
        {"user_id": ":u0 + i % :users", "customer_id": ":c0 + i % :n", "token_hash": "md5('bulk' || i)",
         "created_at": ":t0", "last_seen_at": ":t0", "reauthenticated_at": ":t0"},
        c0=c0, n=OTHER_CUSTOMERS, u0=u0, users=OTHER_CUSTOMERS * 20, **at,
    )  # fmt: skip


@pytest.fixture(scope="module")
def world(engine):
    """The history fleet and the bulk rows, committed and analyzed; emptied after the module."""
    session = make_sessionmaker(engine)()
    world = builders.fleet_history(session, T0)
    builders.history_users(session, world, T0)
    session.commit()
    with engine.begin() as conn:
        _bulk_rows(conn, world)
    rollup.rebuild(session)
    session.commit()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    yield world
    session.close()
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="module")
def app(world, database_url):
    from portal import create_app
    from portal.clock import FrozenClock

    app = create_app("testing", DATABASE_URL=database_url, WTF_CSRF_ENABLED=False, PURCHASE_ROLLUP=True)
    app.extensions["portal.clock"] = FrozenClock(T0)
    yield app
    app.extensions["portal.db"][0].dispose()


# --- what a covered query gets ------------------------------------------------------------------


@dataclass
class Visit:
    """A signed-in fleet admin's client (and a driver's), and the world, for one covered query."""

    app: object
    world: builders.History
    admin: object
    driver: object
    fresh: Callable[[], object]

    def get(self, path: str, *, client=None, rollup: bool = True) -> str:
        self.app.config["PURCHASE_ROLLUP"] = rollup
        try:
            response = (client or self.admin).get(path)
            body = response.get_data(as_text=True)
        finally:
            self.app.config["PURCHASE_ROLLUP"] = True
        assert response.status_code == 200, (path, response.status_code, body[:300])
        return body


YEAR = "preset=custom&start=2025-03-01&end=2026-02-28"
GROUPS = ("day", "month", "card", "driver", "vehicle", "product", "station", "region")


def _deep_page(v: Visit) -> None:
    """A page 90% of the way through a year of Acme's purchases, as following "next" links would
    reach it: the first page's cursor (its signed totals) moved to an old purchase's key."""
    first = v.get(f"/queries/purchases?{YEAR}")
    secret = v.app.config["SECRET_KEY"]
    carried = decode_cursor(re.search(r'href="[^"]*cursor=([^"&]+)', first).group(1), secret=secret, report="purchases")
    with v.app.extensions["portal.db"][0].connect() as conn:
        at, id_ = conn.execute(
            text(
                "SELECT at, id FROM purchases WHERE customer_id = :c AND status = 'approved' AND at >= :lo "
                "AND at < :hi ORDER BY at DESC, id DESC OFFSET :n LIMIT 1"
            ),
            {"c": v.world.acme.id, "lo": datetime(2025, 2, 28, 16), "hi": datetime(2026, 2, 28, 16), "n": 900},
        ).one()
    deep = encode_cursor(Key(at.replace(tzinfo=UTC), id_, carried.totals), secret=secret, report="purchases")
    v.get(f"/queries/purchases?{YEAR}&cursor={deep}")


def _sign_in(v: Visit, identifier: str) -> None:
    response = v.fresh().post("/auth/sign-in", data={"username": identifier, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def _card(v: Visit) -> str:
    return v.world.cards["c1"].number


#: (name, callable): each drives the pages (or services) whose queries it covers.
COVERED: list[tuple[str, Callable[[Visit], object]]] = [
    ("home", lambda v: v.get("/")),
    ("cards list", lambda v: v.get("/cards/")),
    ("driver's cards", lambda v: v.get("/cards/mine", client=v.driver)),
    ("purchases first page", lambda v: v.get("/queries/purchases")),
    ("purchases first page raw", lambda v: v.get("/queries/purchases", rollup=False)),
    (
        "purchases filtered",
        lambda v: v.get(f"/queries/purchases?card={_card(v)}&preset=custom&start=2025-11-01&end=2025-11-30"),
    ),  # noqa: E501
    ("purchases by driver", lambda v: v.get(f"/queries/purchases?driver={v.world.drivers['li'].id}&{YEAR}")),
    ("purchases deep page", _deep_page),
    ("declines", lambda v: v.get(f"/queries/purchases?tab=declined&{YEAR}")),
    ("driver's purchases", lambda v: v.get("/queries/purchases", client=v.driver)),
    ("account transactions", lambda v: v.get("/queries/account-transactions?preset=last_month")),
    ("points transactions", lambda v: v.get("/queries/points?preset=last_month")),
    ("statements", lambda v: v.get("/queries/statements?month=2026-02")),
    ("balances", lambda v: v.get("/queries/balances")),
    *((f"statistics by {g}", lambda v, g=g: v.get(f"/statistics/transactions?{YEAR}&group={g}")) for g in GROUPS),
    *(
        (f"statistics by {g} raw", lambda v, g=g: v.get(f"/statistics/transactions?{YEAR}&group={g}", rollup=False))
        for g in ("day", "product")
    ),
    ("points statistics", lambda v: v.get(f"/statistics/points?{YEAR}")),
    ("alerts", lambda v: v.get("/alerts/")),
    ("sign-in by user name", lambda v: _sign_in(v, "ACME_Admin")),
    ("sign-in by main card", lambda v: _sign_in(v, v.world.cards["main"].number)),
    ("purchases export", lambda v: v.get(f"/queries/purchases/export.csv?{YEAR}")),
    ("account transactions export", lambda v: v.get("/queries/account-transactions/export.csv?preset=last_month")),
    ("points export", lambda v: v.get("/queries/points/export.csv?preset=last_month")),
    ("statements export", lambda v: v.get("/queries/statements/export.csv?month=2026-02")),
    ("statistics export", lambda v: v.get(f"/statistics/transactions/export.csv?{YEAR}&group=card")),
]


# --- capture and explain ------------------------------------------------------------------------


@dataclass
class Captured:
    statements: list[tuple[str, object]] = field(default_factory=list)


def _capture(app, monkeypatch) -> Captured:
    """Record what the app's engine sends, and what its COPY exports would run."""
    captured = Captured()
    engine = app.extensions["portal.db"][0]

    def record(conn, cursor, statement, parameters, context, executemany):
        if not executemany:
            captured.statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    real = copy.csv_chunks

    def csv_chunks(session, columns, query):
        captured.statements.append(copy.copy_statement(session, query))
        return real(session, columns, query)

    monkeypatch.setattr(copy, "csv_chunks", csv_chunks)
    return captured


def _nodes(plan: dict) -> Iterator[dict]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def _sequential_scans(engine, statements: list[tuple[str, object]]) -> list[str]:
    """Replay `statements` (SET LOCALs as they are, SELECTs under EXPLAIN) in one rolled-back
    transaction; the large tables scanned sequentially, with the statement that did it."""
    found = []
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        # Client-side binding: the parameters are written into the text as literals, as a plan
        # for the page's own values (a generic plan for $1 could differ).
        cursor = psycopg.ClientCursor(raw)
        for statement, parameters in statements:
            verb = statement.lstrip().split(None, 1)[0].upper()
            if verb == "SET":
                cursor.execute(statement, parameters or None)
            elif verb in ("SELECT", "WITH"):
                cursor.execute("EXPLAIN (FORMAT JSON) " + statement, parameters or None)
                plan = cursor.fetchone()[0][0]["Plan"]
                for node in _nodes(plan):
                    if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in LARGE_TABLES:
                        found.append(f"{node['Relation Name']}: {' '.join(statement.split())[:400]}")
        raw.rollback()
    return found


@pytest.mark.parametrize("name, covered", COVERED, ids=[name for name, _ in COVERED])
def test_no_sequential_scan_of_a_large_table(app, world, engine, monkeypatch, name, covered):
    admin = _signed_in(app, "acme_admin")
    driver = _signed_in(app, "li")
    visit = Visit(app, world, admin, driver, app.test_client)
    captured = _capture(app, monkeypatch)
    covered(visit)
    assert captured.statements, f"{name}: no statement recorded"
    scans = _sequential_scans(engine, captured.statements)
    assert not scans, f"{name}: sequential scans of large tables:\n" + "\n".join(scans)


def _signed_in(app, username: str):
    client = app.test_client()
    response = client.post("/auth/sign-in", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def test_the_data_is_large_enough_for_the_planner(world, engine):
    """The premise: Acme is a small part of each large table it has rows in."""
    with engine.connect() as conn:
        share = conn.execute(
            text("SELECT avg((customer_id = :acme)::int) FROM purchases"), {"acme": world.acme.id}
        ).scalar()
        assert conn.execute(text("SELECT count(*) FROM purchases")).scalar() > OTHER_PURCHASES
        assert conn.execute(text("SELECT count(*) FROM ledger_transfers")).scalar() > OTHER_PURCHASES
    assert share < 0.05

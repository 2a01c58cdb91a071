"""No row shared by unrelated purchases (PostgreSQL): two purchases by cards of two customers at two
stations of one region, of one product, on one day, lock and write no common row, so neither ever
waits for the other however long its commit takes. (Issue #19: every approval used to update the
national station_sales and points_issued rows and hold them until its commit.)

What a purchase writes is read from the server, not from SQLAlchemy's statement events (the
ledger's hot statements run on the driver's cursor, which those events never see): the tables its
transaction updated (pg_stat_xact_user_tables) and the rows whose current version it wrote (xmin).
What it locks: pgrowlocks (row locks of every table) and pg_locks (advisory locks).
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from portal import ledger
from portal.db import Base, make_sessionmaker
from portal.purchases.authorization import PurchaseRequest, authorize
from portal.stations.models import Terminal
from portal.stations.terminals import create_terminal
from tests.builders import (
    CARD_NUMBER,
    PRICE_92,
    create_card,
    create_customer,
    create_station,
    fund_card,
    station_setup,
)
from tests.conftest import T0

pytestmark = pytest.mark.postgres

OTHER_NUMBER = "9030110000000077"
#: Row locks every insert takes on the rows its foreign keys point to (the product, the region):
#: shared, they never make another purchase wait (only a DELETE or a key change of that row would).
#: pgrowlocks names the mode "For Key Share" for one holder, "Key Share" for each of several.
KEY_SHARE = ("For Key Share", "Key Share")


@pytest.fixture
def world(session):
    """Card X (customer 北京快运) at station S1 and card Y (another customer) at station S2, both in
    Beijing, both selling 92; the national system accounts exist, as on any running system."""
    w = station_setup(session, now=T0, purse_fen=100_000)
    other_customer = create_customer(session, w.region, name="北京另一家公司", credit_code="91110000000000002Y")
    other_card = create_card(session, other_customer, OTHER_NUMBER, expires_on=date(2099, 1, 1))
    fund_card(session, other_card, purse=100_000, now=T0, key="y")
    s2 = create_station(session, "ST110002", w.region, name="北京第二加油站", prices={"92": PRICE_92})
    t2, _key = create_terminal(session, s2, "pump 1", now=T0)
    for kind in ("station_sales", "points_issued"):
        ledger.system_account(session, kind)
    session.commit()
    return {"x": (w.terminal.id, CARD_NUMBER, w.customer.id), "y": (t2.id, OTHER_NUMBER, other_customer.id), "w": w}


def _purchase(session, terminal_id: int, number: str, seq: int):
    terminal = session.get(Terminal, terminal_id)
    answer = authorize(session, terminal, PurchaseRequest(number, "92", 20_000, 750, 15_000, seq, T0), now=T0)
    assert answer.approved, answer.code
    return answer


def _open(db_engine, *, lock_timeout_ms: int | None = None):
    session = make_sessionmaker(db_engine)()
    if lock_timeout_ms is not None:
        session.execute(text(f"SET LOCAL lock_timeout = '{lock_timeout_ms}ms'"))
    return session


def test_an_unrelated_purchase_never_waits_for_an_open_one(db_engine, world):
    """Purchase A (card X at S1) stays uncommitted; purchase B (card Y at S2) in another connection,
    allowed to wait 200 ms for any lock, commits."""
    a = _open(db_engine)
    b = _open(db_engine, lock_timeout_ms=200)
    try:
        _purchase(a, world["x"][0], world["x"][1], 1)
        _purchase(b, world["y"][0], world["y"][1], 1)  # raises LockNotAvailable if it waits for A
        b.commit()
        a.commit()
    finally:
        a.close()
        b.close()
    with make_sessionmaker(db_engine)() as check:
        assert ledger.verify(check).ok


def _written_rows(session, since_xid: int) -> dict[str, list]:
    """Per table, the rows whose current version was written (inserted or updated) since `since_xid`,
    as this transaction sees them: its own writes (nobody else ran meanwhile)."""
    written = {}
    for table in Base.metadata.sorted_tables:
        rows = session.execute(
            text(f"SELECT * FROM {table.name} WHERE xmin::text::bigint >= :since"),  # noqa: S608 (our tables)
            {"since": since_xid % 2**32},
        ).all()
        if rows:
            written[table.name] = rows
    return written


def _updated_tables(session) -> set[str]:
    return set(
        session.scalars(text("SELECT relname FROM pg_stat_xact_user_tables WHERE n_tup_upd > 0 OR n_tup_del > 0"))
    )


def test_a_purchase_updates_only_its_cards_stations_and_customers_rows(db_engine, world):
    """Statement level, from the server: the only rows a purchase updates are its card's accounts,
    its station's own system accounts and its customer's daily totals (nothing national)."""
    with db_engine.connect() as conn:
        since = conn.execute(text("SELECT txid_current()")).scalar()
    terminal_id, number, customer_id = world["x"]
    station_id = world["w"].station.id
    session = _open(db_engine)
    try:
        answer = _purchase(session, terminal_id, number, 1)
        session.flush()
        assert _updated_tables(session) <= {"ledger_accounts", "purchase_days"}
        written = _written_rows(session, since)
        card_id = answer.purchase.card_id
        accounts = written["ledger_accounts"]
        # (.get: before station accounts existed the column did not, and the national rows showed here)
        assert {(a.kind, a.card_id, a._mapping.get("station_id")) for a in accounts} == {
            ("purse", card_id, None),
            ("points", card_id, None),
            ("station_sales", None, station_id),
            ("points_issued", None, station_id),
        }
        assert {row.customer_id for row in written["purchase_days"]} == {customer_id}
        assert {row.customer_id for row in written["purchases"]} == {customer_id}
    finally:
        session.rollback()
        session.close()


def _row_locks(session) -> list[tuple[str, str, int, str]]:
    """(table, row, pid, mode) of every row lock held now, in every table of ours."""
    locks = []
    for table in Base.metadata.sorted_tables:
        rows = session.execute(
            text(f"SELECT locked_row::text, pids, modes FROM pgrowlocks('{table.name}')")  # noqa: S608
        ).all()
        for row, pids, modes in rows:
            locks.extend((table.name, row, pid, mode) for pid in pids for mode in modes)
    return locks


def test_two_open_purchases_hold_no_common_row_or_advisory_lock(db_engine, world):
    """Both purchases open at once: no row is locked by both (but for the key-share locks foreign
    keys take on the product and region rows, which never make anyone wait), no advisory lock is
    held by both."""
    inspector = _open(db_engine)
    try:
        inspector.execute(text("CREATE EXTENSION IF NOT EXISTS pgrowlocks"))
        inspector.commit()
    except Exception:  # noqa: BLE001
        inspector.rollback()
        inspector.close()
        pytest.skip("the pgrowlocks extension is not available")
    a = _open(db_engine)
    b = _open(db_engine, lock_timeout_ms=200)
    try:
        _purchase(a, world["x"][0], world["x"][1], 1)
        a.flush()
        _purchase(b, world["y"][0], world["y"][1], 1)
        b.flush()
        pid_a = a.execute(text("SELECT pg_backend_pid()")).scalar()
        pid_b = b.execute(text("SELECT pg_backend_pid()")).scalar()
        locks = _row_locks(inspector)
        by_a = {(t, r) for t, r, pid, mode in locks if pid == pid_a and mode not in KEY_SHARE}
        by_b = {(t, r) for t, r, pid, mode in locks if pid == pid_b and mode not in KEY_SHARE}
        assert by_a and by_b  # each locked its own card's and station's rows
        everything_a = {(t, r) for t, r, pid, _ in locks if pid == pid_a}
        everything_b = {(t, r) for t, r, pid, _ in locks if pid == pid_b}
        assert by_a & everything_b == set()
        assert by_b & everything_a == set()
        advisory = inspector.execute(
            text(
                "SELECT classid, objid, array_agg(pid) FROM pg_locks WHERE locktype = 'advisory' "
                "AND pid IN (:a, :b) GROUP BY classid, objid HAVING count(DISTINCT pid) > 1"
            ),
            {"a": pid_a, "b": pid_b},
        ).all()
        assert advisory == []
    finally:
        a.rollback()
        b.rollback()
        a.close()
        b.close()
        inspector.close()

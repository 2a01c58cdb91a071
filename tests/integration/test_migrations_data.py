"""Migrations keep the data already there: each is run on a database of the test's own, migrated to
the revision before it, filled with rows as they were then, upgraded (and downgraded again)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from portal.db import make_engine
from portal.schema import alembic_config, upgrade

pytestmark = pytest.mark.filterwarnings(
    "ignore:Skipped unsupported reflection of expression-based index:sqlalchemy.exc.SAWarning"
)


@pytest.fixture
def scratch(database_url, tmp_path):
    """A connection to an empty database of the test's own: a new SQLite file, or on PostgreSQL a
    schema of its own first on the search path (dropped afterwards)."""
    if database_url.startswith("sqlite"):
        engine = make_engine(f"sqlite:///{tmp_path / 'scratch.db'}")
        with engine.connect() as conn:
            yield conn
        engine.dispose()
        return
    engine = create_engine(database_url)
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS migration_scratch CASCADE"))
        conn.execute(text("CREATE SCHEMA migration_scratch"))
        conn.execute(text("SET search_path TO migration_scratch"))
        conn.commit()
        yield conn
        conn.rollback()
        conn.execute(text("DROP SCHEMA migration_scratch CASCADE"))
        conn.commit()
    engine.dispose()


STAMP = datetime(2026, 3, 1, tzinfo=UTC).replace(tzinfo=None)

USERS = (
    "INSERT INTO users (id, username, password_hash, role, display_name, customer_id, region_id, email, phone, "
    "active, failed_sign_ins, password_changed_at, must_change_password, created_at) VALUES "
)


def test_migration_0011_renames_later_accounts_whose_name_differs_only_in_case(scratch):
    upgrade(scratch, "0010")
    rows = ", ".join(
        f"({n}, '{name}', 'x', 'sysadmin', '', NULL, NULL, '', '', true, 0, :at, false, :at)"
        for n, name in enumerate(["Bob", "bob", "BOB", "alice"], start=1)
    )
    scratch.execute(text(USERS + rows), {"at": STAMP})
    upgrade(scratch, "0011")
    names = scratch.execute(text("SELECT id, username FROM users ORDER BY id")).all()
    assert [tuple(n) for n in names] == [(1, "Bob"), (2, "bob-2"), (3, "BOB-3"), (4, "alice")]
    scratch.rollback()


#: Rows as they were before 0019 (no customer_id), parents first.
ROWS = [
    "INSERT INTO regions (id, code, name_zh, name_en) VALUES (1, '11', '北京', 'Beijing')",
    "INSERT INTO customers (id, name, credit_code, region_id, contact_name, phone, email, address, invoice_title, "
    "invoice_tax_number, created_at, mobile, finance_contact_name, finance_phone, finance_email, postcode, "
    "invoice_address, invoice_phone, invoice_bank, invoice_bank_account) VALUES "
    "(7, 'A', '91110000000000007A', 1, '', '', '', '', '', '', :at, '', '', '', '', '', '', '', '', ''), "
    "(8, 'B', '91110000000000008B', 1, '', '', '', '', '', '', :at, '', '', '', '', '', '', '', '', '')",
    "INSERT INTO cards (id, number, customer_id, role, status, nickname, issued_at, expires_on) VALUES "
    "(70, '9000000000000070', 7, 'sub', 'active', '', :at, '2030-01-01'), "
    "(80, '9000000000000080', 8, 'sub', 'active', '', :at, '2030-01-01')",
    "INSERT INTO card_controls (card_id, version, updated_at, allowed_products, allowed_region_ids, "
    "allowed_station_ids, plate_lock) VALUES (70, 1, :at, '[]', '[]', '[]', ''), (80, 1, :at, '[]', '[]', '[]', '')",
    "INSERT INTO virtual_chips (id, card_id, purse_balance, counter, controls, controls_version, blocked, "
    "expires_on, personalised_at, written_at) VALUES (1, 80, 100, 1, '{}', 0, false, '2030-01-01', :at, :at)",
    "INSERT INTO virtual_chip_entries (id, chip_id, counter, kind, amount, balance_after, at, station_code, "
    "product_code, litres_ml, load_id) VALUES (1, 1, 1, 'load', 100, 100, :at, '', '', 0, 'L1')",
    "INSERT INTO chip_syncs (id, card_id, at, reader, purchases_uploaded, loads_applied, controls_version, blocked, "
    "chip_counter) VALUES (1, 80, :at, 'virtual', 0, 1, 0, false, 1)",
    "INSERT INTO chip_purchase_uploads (id, card_id, counter, amount, station_code, product_code, litres_ml, "
    "purchased_at, uploaded_at, transfer_id) VALUES (1, 70, 1, 100, '', '', 0, :at, :at, 'c1')",
    USERS + "(1, 'a7', 'x', 'admin', '', 7, NULL, '', '', true, 0, :at, false, :at), "
    "(2, 'staff', 'x', 'staff', '', NULL, 1, '', '', true, 0, :at, false, :at)",
    "INSERT INTO funds_batches (id, customer_id, kind, status, source, total, line_count, created_by, created_at) "
    "VALUES ('b1', 8, 'allocation', 'draft', 'form', 100, 1, 1, :at)",
    "INSERT INTO funds_batch_lines (id, batch_id, line_no, card_id, amount) VALUES (1, 'b1', 1, 80, 100)",
    "INSERT INTO login_sessions (id, user_id, token_hash, created_at, last_seen_at, reauthenticated_at, ip, "
    "user_agent) VALUES (1, 1, 't1', :at, :at, :at, '', ''), (2, 2, 't2', :at, :at, :at, '', '')",
    "INSERT INTO password_history (id, user_id, password_hash, set_at) VALUES (1, 1, 'x', :at), (2, 2, 'x', :at)",
]

BACKFILLED = {
    "card_controls": [(70, 7), (80, 8)],
    "virtual_chips": [(1, 8)],
    "virtual_chip_entries": [(1, 8)],
    "chip_syncs": [(1, 8)],
    "chip_purchase_uploads": [(1, 7)],
    "funds_batch_lines": [(1, 8)],
    "login_sessions": [(1, 7), (2, None)],
    "password_history": [(1, 7), (2, None)],
}


def test_migration_0019_backfills_customer_id_from_the_owning_rows(scratch):
    upgrade(scratch, "0015")
    for statement in ROWS:
        scratch.execute(text(statement), {"at": STAMP})
    upgrade(scratch, "0019")
    for table, expected in BACKFILLED.items():
        key = "card_id" if table == "card_controls" else "id"
        rows = scratch.execute(text(f"SELECT {key}, customer_id FROM {table} ORDER BY {key}")).all()  # noqa: S608
        assert [tuple(r) for r in rows] == expected, table
    command.downgrade(alembic_config(scratch), "0015")  # and back, keeping every row
    assert scratch.execute(text("SELECT count(*) FROM virtual_chip_entries")).scalar() == 1
    assert "customer_id" not in {c["name"] for c in inspect(scratch).get_columns("virtual_chips")}
    scratch.rollback()
